/** Where the bar is drawn: a stream that may be a terminal. */
export interface ProgressStream {
  write(text: string): unknown;
  isTTY?: boolean | undefined;
}

const WIDTH = 30;
const MIB = 1024 * 1024;

/**
 * A one-line progress bar redrawn in place with `\r`. Drawn only on a
 * terminal and only for inputs of at least `thresholdBytes`, so piped or
 * logged output never fills up with bar frames.
 */
export class ProgressBar {
  readonly #stream: ProgressStream;
  readonly #label: string;
  readonly #thresholdBytes: number;
  #lastPercent = -1;
  #drawn = false;

  /**
   * @param stream - normally `process.stderr`.
   * @param label - shown before the bar.
   * @param thresholdBytes - smaller inputs get no bar.
   */
  constructor(stream: ProgressStream, label: string, thresholdBytes: number) {
    this.#stream = stream;
    this.#label = label;
    this.#thresholdBytes = thresholdBytes;
  }

  /** Redraws the bar when the whole percentage changed. */
  update(done: number, total: number): void {
    if (!this.#stream.isTTY || total < this.#thresholdBytes || total === 0) return;
    const percent = Math.min(100, Math.floor((done / total) * 100));
    if (percent === this.#lastPercent) return;
    this.#lastPercent = percent;
    const filled = Math.round((percent / 100) * WIDTH);
    this.#stream.write(
      `\r${this.#label} [${"#".repeat(filled)}${".".repeat(WIDTH - filled)}] ${String(percent).padStart(3)}% ${(done / MIB).toFixed(1)}/${(total / MIB).toFixed(1)} MiB`,
    );
    this.#drawn = true;
  }

  /** Erases the bar, if one was drawn. */
  clear(): void {
    if (this.#drawn) this.#stream.write("\r\u001b[K");
    this.#drawn = false;
  }
}

/** Inputs smaller than this get no bar, unless the caller says otherwise. */
export const DEFAULT_PROGRESS_THRESHOLD_BYTES = 8 * MIB;

/** A bar that draws nothing: output is not going to a terminal. */
const NO_TERMINAL: ProgressStream = { write: () => undefined, isTTY: false };

/**
 * The progress bar of a command: drawn on stderr when it is a terminal, else
 * on stdout when that is (it is erased before anything is printed), never
 * when both are piped or redirected.
 * @param io - the command's streams and threshold.
 * @param label - shown before the bar.
 * @returns the bar.
 */
export function progressBarFor(
  io: {
    stdout: ProgressStream;
    stderr: ProgressStream;
    progressThresholdBytes?: number | undefined;
  },
  label: string,
): ProgressBar {
  const stream = io.stderr.isTTY ? io.stderr : io.stdout.isTTY ? io.stdout : NO_TERMINAL;
  return new ProgressBar(
    stream,
    label,
    io.progressThresholdBytes ?? DEFAULT_PROGRESS_THRESHOLD_BYTES,
  );
}
