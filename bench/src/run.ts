// Runs every suite in src/suites (or those named on the command line) in one
// process and prints one combined table of ratios to each peer.
import { readdirSync, writeFileSync } from "node:fs";
import type { BenchRow } from "./harness.js";
import { renderTable } from "./report.js";

type Suite = () => Promise<BenchRow[]>;

const suitesDir = new URL("./suites/", import.meta.url);
const wanted = process.argv.slice(2);
const names = readdirSync(suitesDir)
  .filter((file) => file.endsWith(".ts"))
  .map((file) => file.replace(/\.ts$/, ""))
  .filter((name) => wanted.length === 0 || wanted.includes(name))
  .sort();

const rows: BenchRow[] = [];
for (const name of names) {
  process.stderr.write(`bench: running ${name}\n`);
  const suite = (await import(new URL(`${name}.ts`, suitesDir).href)) as { default: Suite };
  rows.push(...(await suite.default()));
}
console.log(renderTable(rows));
writeFileSync(new URL("../results.json", import.meta.url), `${JSON.stringify(rows, null, 2)}\n`);
const missed = rows.filter((row) => row.met === false).length;
console.log(
  `\n${rows.length} measurements, ${missed} targets missed (node ${process.version}, ${new Date().toISOString()})`,
);
