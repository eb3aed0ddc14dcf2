// A bot keeps its settings in a JSON file. The store writes each change
// through a fsynced tmp file and keeps the previous version as a bak, so a
// crash in the middle of a write, or a file damaged later, never loses the
// settings. Old files are upgraded by migrations when the shape changes.
//
// expect: saved: {"channel":"#alerts","muted":false}
// expect: crash after 5 filesystem calls: FAIL_STOPPED
// expect: after the crash: {"channel":"#alerts","muted":false}
// expect: damaged primary, recovered: {"channel":"#ops","muted":true}
// expect: v1 file migrated to v2: {"channels":["#legacy"],"muted":false}
// expect: file on disk: _schemaVersion 2, _writeEpoch 4
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createFaultyFileSystem } from "@beauvoir/core";
import { ResilientJsonStore, ResilientStoreFactory, StoreError } from "@beauvoir/resilient-store";

interface SettingsV1 {
  channel: string;
  muted: boolean;
}
interface SettingsV2 {
  channels: string[];
  muted: boolean;
}

const baseDir = await mkdtemp(join(tmpdir(), "crash-safe-settings-"));
try {
  const stores = new ResilientStoreFactory({ baseDir });
  const settings = stores.create<SettingsV1>("settings");
  await settings.set({ channel: "#alerts", muted: false });
  console.log(`saved: ${JSON.stringify(await settings.get())}`);

  // Simulate the process dying in the middle of a write: the faulty filesystem
  // lets 5 of set()'s calls through, then every call fails, as if the process
  // had been killed right there. The crash lands on an fsync, and a store whose
  // fsync failed stops taking writes (FAIL_STOPPED) until it is reopened.
  const path = join(baseDir, "settings.json");
  let callsInSet: number | undefined;
  const dying = new ResilientJsonStore<SettingsV1>({
    path,
    fs: createFaultyFileSystem({
      inject: () => (callsInSet !== undefined && ++callsInSet > 5 ? { crash: true } : undefined),
    }),
  });
  await dying.get(); // load first, so the 5 calls all belong to set()
  callsInSet = 0;
  try {
    await dying.set({ channel: "#never-saved", muted: true });
  } catch (error) {
    if (StoreError.isInstance(error)) {
      console.log(`crash after 5 filesystem calls: ${error.code}`);
    }
  }
  // A new process (here: a new store) reads what the last completed write left.
  const restarted = new ResilientJsonStore<SettingsV1>({ path });
  console.log(`after the crash: ${JSON.stringify(await restarted.get())}`);

  // Two more writes, then damage the primary file: the bak serves, and the
  // damaged file is moved aside as settings.json.quarantine.<time>.
  await restarted.set({ channel: "#ops", muted: true });
  await restarted.set({ channel: "#ops", muted: false });
  await writeFile(path, '{"channel": "#o');
  const recovered = await new ResilientJsonStore<SettingsV1>({ path }).get();
  console.log(`damaged primary, recovered: ${JSON.stringify(recovered)}`);

  // The next version of the bot stores several channels. Files written by the
  // old version (schema 1) are migrated on read and written back as schema 2.
  await writeFile(
    join(baseDir, "legacy.json"),
    JSON.stringify({ _schemaVersion: 1, _writeEpoch: 3, channel: "#legacy", muted: false }),
  );
  const legacy = stores.create<SettingsV2>("legacy", {
    schemaVersion: 2,
    migrations: {
      1: (old: SettingsV1): SettingsV2 => ({ channels: [old.channel], muted: old.muted }),
    },
  });
  console.log(`v1 file migrated to v2: ${JSON.stringify(await legacy.get())}`);
  const onDisk = JSON.parse(await readFile(join(baseDir, "legacy.json"), "utf8"));
  console.log(
    `file on disk: _schemaVersion ${onDisk._schemaVersion}, _writeEpoch ${onDisk._writeEpoch}`,
  );
} finally {
  await rm(baseDir, { recursive: true, force: true });
}
