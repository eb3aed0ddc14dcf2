import { join } from "node:path";
import type { FileSystem } from "@beauvoir/core";
import {
  inspectStore,
  type StoreFileReport,
  type StoreInspection,
} from "@beauvoir/resilient-store";
import type { BootPaths } from "./boot-config.js";
import type { DamageReport } from "./health-report.js";
import { LAST_BOOT_FILE } from "./last-boot.js";
import { RESILIENCE_STATE_STORE } from "./resilience-state.js";
import { ACTIVE_RUNS_STORE, runStoreName } from "./workflow-engine-state.js";

const USABLE = new Set(["valid", "unverified", "missing"]);

/** What {@link inspectBootStores} found. */
export interface StoreHealth {
  warnings: string[];
  damage: DamageReport[];
}

/**
 * Looks, read-only, at the store files boot reads itself (the breaker and
 * rate-limit state, the list of unfinished workflow runs and each of their
 * states, `last-boot.json`, the index snapshot) before anything loads them, and at the
 * quarantined files under `stores/` and `dataDir`: each damaged file becomes
 * a warning and a {@link DamageReport} (`outcome: "warning"`): the store
 * serves its `.bak` (one write older) and quarantines the damaged file.
 * @param fs - the filesystem.
 * @param paths - the data directory's layout.
 * @param redact - applied to the texts reported.
 * @returns the warnings and damage reports; never throws.
 */
export async function inspectBootStores(
  fs: FileSystem,
  paths: BootPaths,
  redact: (text: string) => string,
): Promise<StoreHealth> {
  const health: StoreHealth = { warnings: [], damage: [] };
  const inspect = async (path: string): Promise<StoreInspection | undefined> => {
    try {
      const inspection = await inspectStore({ path, fs });
      report(health, inspection, redact);
      return inspection;
    } catch {
      return undefined; // inspectStore reports unreadable files as such; anything else shows at load.
    }
  };
  await inspect(join(paths.storesDir, `${RESILIENCE_STATE_STORE}.json`));
  await inspect(join(paths.dataDir, LAST_BOOT_FILE));
  await inspect(join(paths.idempotencyDir, "snapshot.json"));
  const active = await inspect(join(paths.storesDir, `${ACTIVE_RUNS_STORE}.json`));
  for (const runId of activeRunIds(active)) {
    await inspect(join(paths.storesDir, `${runStoreName(runId)}.json`));
  }
  for (const directory of [paths.storesDir, paths.dataDir, paths.idempotencyDir]) {
    let names: string[];
    try {
      names = await fs.readdir(directory);
    } catch {
      continue;
    }
    for (const name of names.filter((entry) => entry.includes(".quarantine.")).sort()) {
      const file = join(directory, name);
      health.warnings.push(
        redact(
          `stores: ${file} is a quarantined copy of a damaged store file, kept for inspection`,
        ),
      );
      health.damage.push({
        subsystem: "stores",
        code: "STORE_QUARANTINED",
        file: redact(file),
        detail: "a damaged store file, moved aside byte for byte",
        outcome: "warning",
        repair: "inspect it; it is deleted after the quarantine retention (7 days)",
      });
    }
  }
  return health;
}

function report(
  health: StoreHealth,
  inspection: StoreInspection,
  redact: (text: string) => string,
): void {
  const damaged = (file: StoreFileReport) => !USABLE.has(file.health);
  for (const file of [inspection.primary, inspection.bak, ...inspection.tmps]) {
    if (!damaged(file)) continue;
    const what = `${file.health}${file.reason ? `: ${file.reason}` : ""}`;
    const served = consequence(inspection, file);
    health.warnings.push(redact(`stores: ${file.file} is damaged (${what}); ${served}`));
    health.damage.push({
      subsystem: "stores",
      code: damageCode(inspection, file),
      file: redact(file.file),
      detail: redact(what),
      outcome: "warning",
      repair:
        "beauvoir store show / store restore, or leave it: the store quarantines it on its next load",
    });
  }
}

function damageCode(inspection: StoreInspection, file: StoreFileReport): string {
  if (file.health === "symlink") return "SYMLINK_REFUSED";
  if (file.health === "unreadable") return "STORE_READ_FAILED";
  if (file === inspection.primary && inspection.current === "bak") return "STORE_BAK_SERVED";
  return "STORE_DAMAGED";
}

function consequence(inspection: StoreInspection, file: StoreFileReport): string {
  if (file.health === "symlink")
    return "the store refuses it (SYMLINK_REFUSED) and nothing is read through it";
  if (file.health === "unreadable")
    return "the store cannot load until it is readable (STORE_READ_FAILED)";
  if (file !== inspection.primary)
    return "it is not served, and is quarantined or replaced by the next write";
  if (inspection.current === "bak")
    return "its .bak (one write older) is served and the damaged file is quarantined";
  if (inspection.current === "tmp") return "a newer complete tmp file is served";
  return "no copy is usable: the store starts empty and the damaged files are quarantined";
}

function activeRunIds(inspection: StoreInspection | undefined): string[] {
  if (!inspection) return [];
  const served =
    inspection.current === "primary"
      ? inspection.primary
      : inspection.current === "bak"
        ? inspection.bak
        : undefined;
  const active = served?.state?.active;
  return Array.isArray(active) ? active.filter((id): id is string => typeof id === "string") : [];
}
