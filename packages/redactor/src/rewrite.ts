/** The redacted copy of a text, built from left to right. */
export class Rewrite {
  readonly #text: string;
  /** Pieces of the output; joined once, which costs less than flattening a chain of concatenations. */
  readonly #parts: string[] = [];
  #length = 0;
  #copiedUpTo = 0;
  /** Start and end, in the output, of every replacement to check again around, in pairs. */
  readonly placed: number[] = [];

  constructor(text: string) {
    this.#text = text;
  }

  /**
   * Puts `replacement` in place of `[start, end)` of the text; `settle` says
   * whether the text around it must be checked again.
   */
  replace(start: number, end: number, replacement: string, settle: boolean): void {
    if (start > this.#copiedUpTo) {
      this.#parts.push(this.#text.slice(this.#copiedUpTo, start));
      this.#length += start - this.#copiedUpTo;
    }
    if (settle) this.placed.push(this.#length, this.#length + replacement.length);
    this.#parts.push(replacement);
    this.#length += replacement.length;
    this.#copiedUpTo = end;
  }

  /** The redacted text. */
  finish(): string {
    const { length } = this.#text;
    if (this.#copiedUpTo < length) this.#parts.push(this.#text.slice(this.#copiedUpTo));
    this.#copiedUpTo = length;
    return this.#parts.join("");
  }
}
