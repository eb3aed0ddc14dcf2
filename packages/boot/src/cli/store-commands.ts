import {
  ResilientJsonStore,
  ResilientStoreFactory,
  type StoreInspection,
} from "@beauvoir/resilient-store";
import { CommandUsageError, NotFoundError } from "./cli-io.js";
import type { CommandContext } from "./command-context.js";
import { withInstanceLock } from "./data-directory.js";
import { formatTime, printable, printJson, printLines } from "./output.js";
import { isUsable, servedFile } from "./store-state.js";

function factoryOf(context: CommandContext): ResilientStoreFactory {
  return new ResilientStoreFactory({ baseDir: context.layout.storesDir, fs: context.fs });
}

/** Every store of the data directory, inspected read-only. */
export async function inspectStores(context: CommandContext): Promise<StoreInspection[]> {
  const factory = factoryOf(context);
  const names = await factory.listStoreNames();
  return Promise.all(names.map((name) => factory.inspect(name)));
}

async function inspectNamed(context: CommandContext, name: string): Promise<StoreInspection> {
  const factory = factoryOf(context);
  if (!(await factory.listStoreNames()).includes(name)) {
    throw new NotFoundError(
      `no store ${printable(name)} in ${printable(context.layout.storesDir)}`,
    );
  }
  return factory.inspect(name);
}

/** `store show <name>`: every file of the store and its health; the state it would serve. */
export async function storeShow(context: CommandContext): Promise<0 | 1> {
  const [name] = context.args;
  const inspection = await inspectNamed(context, name!);
  const served = servedFile(inspection);
  const healthy = inspection.current === "primary" && inspection.primary.health === "valid";
  if (context.values.json) {
    printJson(context.io, { name, ...inspection, state: served?.state ?? null });
    return healthy ? 0 : 1;
  }
  const describe = (label: string, report: StoreInspection["primary"]) => {
    const epoch = report.writeEpoch === undefined ? "" : `, epoch ${report.writeEpoch}`;
    const size = report.sizeBytes === undefined ? "" : `, ${report.sizeBytes} bytes`;
    const why = report.reason === undefined ? "" : `: ${printable(report.reason)}`;
    return `${label} ${report.health}${epoch}${size}${why}`;
  };
  const lines = [
    `store:    ${printable(name)} (${printable(inspection.path)})`,
    describe("primary: ", inspection.primary),
    describe("bak:     ", inspection.bak),
  ];
  for (const tmp of inspection.tmps) lines.push(describe(`tmp:      ${printable(tmp.file)}`, tmp));
  for (const file of inspection.quarantined) {
    lines.push(`quarantined: ${printable(file.file)} at ${formatTime(file.quarantinedAt)}`);
  }
  lines.push(`serves:   ${inspection.current ?? "nothing (no usable file)"}`);
  if (served?.state !== undefined)
    lines.push(`state:    ${printable(JSON.stringify(served.state))}`);
  printLines(context.io, lines);
  return healthy ? 0 : 1;
}

/** `store restore <name> --from-bak`: writes the bak's state back as the current state. */
export async function storeRestore(context: CommandContext): Promise<0> {
  const [name] = context.args;
  if (!context.values["from-bak"]) {
    throw new CommandUsageError("store restore needs --from-bak (the one source it restores from)");
  }
  const outcome = await withInstanceLock(context.fs, context.layout, async () => {
    const inspection = await inspectNamed(context, name!);
    const { bak } = inspection;
    if (!isUsable(bak) || bak.state === undefined) {
      throw new NotFoundError(
        `the bak of ${printable(name)} is ${bak.health}${bak.reason ? ` (${printable(bak.reason)})` : ""}: nothing to restore from`,
      );
    }
    // Loading quarantines a damaged primary first; a good one becomes the bak.
    const store = new ResilientJsonStore<Record<string, unknown>>({
      path: inspection.path,
      schemaVersion: bak.schemaVersion ?? 1,
      fs: context.fs,
    });
    await store.set(bak.state);
    return { from: bak, primaryWas: inspection.primary.health };
  });
  if (context.values.json) {
    printJson(context.io, {
      name,
      restored: true,
      writeEpoch: outcome.from.writeEpoch,
      primaryWas: outcome.primaryWas,
    });
    return 0;
  }
  printLines(context.io, [
    `restored ${printable(name)} from its bak (epoch ${outcome.from.writeEpoch ?? "?"}); the primary was ${outcome.primaryWas}`,
  ]);
  return 0;
}

/** `store list`: every store and the file it would serve. */
export async function storeList(context: CommandContext): Promise<0> {
  const inspections = await inspectStores(context);
  const views = inspections.map((inspection) => ({
    name: inspection.path.slice(context.layout.storesDir.length + 1, -".json".length),
    primary: inspection.primary.health,
    bak: inspection.bak.health,
    serves: inspection.current,
  }));
  if (context.values.json) {
    printJson(context.io, views);
    return 0;
  }
  printLines(
    context.io,
    views.length === 0
      ? ["no stores"]
      : views.map(
          (view) =>
            `${printable(view.name)}: primary ${view.primary}, bak ${view.bak}, serves ${view.serves ?? "nothing"}`,
        ),
  );
  return 0;
}
