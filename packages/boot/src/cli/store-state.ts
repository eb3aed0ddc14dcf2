import type { StoreFileReport, StoreInspection } from "@beauvoir/resilient-store";

/**
 * The file a store opened now would serve, by the read fallback
 * `inspectStore` reports (`current`), or `undefined` when none is usable.
 * @param inspection - what `inspectStore` found.
 * @returns that file's report (its `state` holds the stored state).
 */
export function servedFile(inspection: StoreInspection): StoreFileReport | undefined {
  switch (inspection.current) {
    case "primary":
      return inspection.primary;
    case "bak":
      return inspection.bak;
    case "tmp":
      return [...inspection.tmps].reverse().find((tmp) => tmp.state !== undefined);
    default:
      return undefined;
  }
}

/** Healths of a store file an instance can serve. */
export function isUsable(report: StoreFileReport): boolean {
  return report.health === "valid" || report.health === "unverified";
}
