import { performance } from "node:perf_hooks";

/** One side of a comparison: a label and an operation to repeat. */
export interface Subject {
  label: string;
  /** One operation. May be async; it is awaited before the next starts. */
  op: () => unknown;
  /** Runs once before each timed round (not timed). */
  beforeRound?: () => unknown;
  /** Runs once after each timed round (not timed). */
  afterRound?: () => unknown;
}

/** What a target asks of the ratio ours/peer. */
export interface RatioTarget {
  /** The ratio must be at least this (throughput ratios). */
  atLeast?: number;
  /** The ratio must be at most this (time ratios, absolute limits). */
  atMost?: number;
}

/** One line of the combined report. */
export interface BenchRow {
  suite: string;
  case: string;
  unit: string;
  ours: { label: string; value: number };
  peer?: { label: string; value: number };
  /** ours / peer when there is a peer; the measured value otherwise. */
  ratio: number;
  target?: RatioTarget;
  met?: boolean;
  note?: string;
}

/** Options of {@link compare}. */
export interface CompareOptions {
  suite: string;
  case: string;
  ours: Subject;
  peer: Subject;
  /** Bytes handled by one op; when set, the unit is MB/s instead of ops/s. */
  bytesPerOp?: number;
  /** Timed rounds per side, interleaved ours/peer to share the machine's noise. @default 5 */
  rounds?: number;
  /** Minimum duration of one round. @default 300 */
  roundMs?: number;
  /** Concurrency: ops started together per batch. @default 1 */
  concurrency?: number;
  target?: RatioTarget;
  note?: string;
}

const median = (values: number[]): number => {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)] ?? 0;
};

async function timeRound(subject: Subject, roundMs: number, concurrency: number): Promise<number> {
  await subject.beforeRound?.();
  let ops = 0;
  const started = performance.now();
  let elapsed = 0;
  while (elapsed < roundMs) {
    if (concurrency === 1) {
      // Batches keep the clock out of the hot loop for very fast ops.
      for (let index = 0; index < 64; index++) {
        const result = subject.op();
        if (result instanceof Promise) await result;
      }
      ops += 64;
    } else {
      const batch: unknown[] = [];
      for (let index = 0; index < concurrency; index++) batch.push(subject.op());
      await Promise.all(batch);
      ops += concurrency;
    }
    elapsed = performance.now() - started;
  }
  await subject.afterRound?.();
  return (ops / elapsed) * 1000;
}

/**
 * Measures two subjects in the same process, alternating rounds so that both
 * see the same machine load, and reports the ratio of their median rates.
 */
export async function compare(options: CompareOptions): Promise<BenchRow> {
  const rounds = options.rounds ?? 5;
  const roundMs = options.roundMs ?? 300;
  const concurrency = options.concurrency ?? 1;
  // Warm-up: let the JIT see both code paths before anything is timed.
  await timeRound(options.ours, Math.min(100, roundMs), concurrency);
  await timeRound(options.peer, Math.min(100, roundMs), concurrency);
  const oursRates: number[] = [];
  const peerRates: number[] = [];
  for (let round = 0; round < rounds; round++) {
    oursRates.push(await timeRound(options.ours, roundMs, concurrency));
    peerRates.push(await timeRound(options.peer, roundMs, concurrency));
  }
  const scale = options.bytesPerOp ? options.bytesPerOp / (1024 * 1024) : 1;
  const ours = median(oursRates) * scale;
  const peer = median(peerRates) * scale;
  const ratio = ours / peer;
  return withVerdict({
    suite: options.suite,
    case: options.case,
    unit: options.bytesPerOp ? "MB/s" : "ops/s",
    ours: { label: options.ours.label, value: ours },
    peer: { label: options.peer.label, value: peer },
    ratio,
    target: options.target,
    note: options.note,
  });
}

/**
 * Reports one measured value with no peer (an absolute time, or a ratio
 * computed by the suite itself), with its target.
 */
export function measured(row: Omit<BenchRow, "ratio" | "met"> & { value?: number }): BenchRow {
  return withVerdict({ ...row, ratio: row.value ?? row.ours.value });
}

/** Median wall time, in milliseconds, of `runs` calls of `fn`. */
export async function medianMs(fn: () => unknown, runs = 5): Promise<number> {
  const times: number[] = [];
  for (let run = 0; run < runs; run++) {
    const started = performance.now();
    await fn();
    times.push(performance.now() - started);
  }
  return median(times);
}

function withVerdict(row: BenchRow): BenchRow {
  const { target } = row;
  if (!target) return row;
  const met =
    (target.atLeast === undefined || row.ratio >= target.atLeast) &&
    (target.atMost === undefined || row.ratio <= target.atMost);
  return { ...row, met };
}
