import { jsonForTerminal } from "@beauvoir/audit-trail";
import { escapeControlCharacters } from "@beauvoir/core";
import type { BeauvoirCliIo } from "./cli-io.js";

/**
 * Untrusted text (from a record, a key, a path) made safe for one terminal line.
 * @param value - anything; non-strings go through `String()`.
 * @returns the text with control characters as visible escapes.
 */
export function printable(value: unknown): string {
  return escapeControlCharacters(typeof value === "string" ? value : String(value));
}

/** Prints `value` as one line of JSON that no terminal acts on (and that parses to the same value). */
export function printJson(io: BeauvoirCliIo, value: unknown): void {
  io.stdout.write(`${jsonForTerminal(value)}\n`);
}

/** Prints lines (already escaped) on stdout. */
export function printLines(io: BeauvoirCliIo, lines: readonly string[]): void {
  if (lines.length > 0) io.stdout.write(`${lines.join("\n")}\n`);
}

/**
 * A duration for people: `850 ms`, `12 s`, `5 min`, `3 h`, `2 d`.
 * @param milliseconds - the duration; `NaN` gives `?`.
 */
export function formatDuration(milliseconds: number): string {
  if (!Number.isFinite(milliseconds)) return "?";
  const abs = Math.abs(milliseconds);
  if (abs < 1_000) return `${Math.round(milliseconds)} ms`;
  if (abs < 120_000) return `${Math.round(milliseconds / 1_000)} s`;
  if (abs < 7_200_000) return `${Math.round(milliseconds / 60_000)} min`;
  if (abs < 172_800_000) return `${Math.round(milliseconds / 3_600_000)} h`;
  return `${Math.round(milliseconds / 86_400_000)} d`;
}

/** An epoch time as ISO 8601, or `-`. */
export function formatTime(epochMs: number | null | undefined): string {
  return typeof epochMs === "number" && Number.isFinite(epochMs)
    ? new Date(epochMs).toISOString()
    : "-";
}

/** Rows padded into columns (every cell already escaped). */
export function table(rows: readonly (readonly string[])[]): string[] {
  const widths: number[] = [];
  for (const row of rows) {
    row.forEach((cell, column) => {
      widths[column] = Math.max(widths[column] ?? 0, cell.length);
    });
  }
  return rows.map((row) =>
    row
      .map((cell, column) => (column === row.length - 1 ? cell : cell.padEnd(widths[column]!)))
      .join("  "),
  );
}
