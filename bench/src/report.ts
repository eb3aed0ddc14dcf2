import type { BenchRow } from "./harness.js";

const formatNumber = (value: number): string =>
  value >= 100 ? Math.round(value).toLocaleString("en-US") : value.toPrecision(3);

function formatTarget(row: BenchRow): string {
  const target = row.target;
  if (!target) return "";
  const parts: string[] = [];
  if (target.atLeast !== undefined) parts.push(`>= ${target.atLeast}`);
  if (target.atMost !== undefined) parts.push(`<= ${target.atMost}`);
  return `${parts.join(", ")} ${row.met ? "met" : "MISSED"}`;
}

/** Renders every row as one aligned text table. */
export function renderTable(rows: BenchRow[]): string {
  const header = ["suite", "case", "ours", "peer / baseline", "ratio", "target"];
  const lines = rows.map((row) => [
    row.suite,
    row.case,
    `${formatNumber(row.ours.value)} ${row.unit} (${row.ours.label})`,
    row.peer ? `${formatNumber(row.peer.value)} ${row.unit} (${row.peer.label})` : "-",
    row.peer ? `${row.ratio.toFixed(2)}x` : formatNumber(row.ratio),
    formatTarget(row),
  ]);
  const widths = header.map((title, column) =>
    Math.max(title.length, ...lines.map((line) => line[column]!.length)),
  );
  const render = (cells: string[]) =>
    cells.map((cell, column) => cell.padEnd(widths[column]!)).join("  ");
  return [
    render(header),
    render(widths.map((width) => "-".repeat(width))),
    ...lines.map(render),
  ].join("\n");
}
