// Issue 11, finding 4: every file the store leaves behind is 0600 and every
// directory it creates 0700, the quarantined and rolled-back files included.
import { readdir, stat, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { createFaultyFileSystem, ManualClock } from "@beauvoir/core";
import { describe, expect, it } from "vitest";
import { ResilientJsonStore } from "../src/index.js";
import { useTempDir } from "./helpers.js";

let dir: string;

useTempDir((made) => {
  dir = made;
});

async function modes(root: string): Promise<Record<string, string>> {
  const found: Record<string, string> = {};
  for (const entry of await readdir(root, { recursive: true })) {
    found[entry] = ((await stat(join(root, entry))).mode & 0o777).toString(8);
  }
  return found;
}

describe("modes", () => {
  it("primary, bak, quarantined copies, rolled-back bak: 0600; created directories: 0700", async () => {
    const previous = process.umask(0o000);
    try {
      const path = join(dir, "state", "nested", "s.json");
      const store = new ResilientJsonStore<{ n: number }>({ path, clock: new ManualClock(3) });
      await store.set({ n: 1 });
      await store.set({ n: 2 });
      // A rolled-back write rewrites the bak.
      let failRename = true;
      const fs = createFaultyFileSystem({
        inject: (call) => {
          if (!failRename || call.operation !== "rename" || call.destination !== path) {
            return undefined;
          }
          failRename = false;
          return { error: "EACCES" };
        },
      });
      const failing = new ResilientJsonStore<{ n: number }>({ path, fs });
      await failing.get();
      await expect(failing.set({ n: 3 })).rejects.toMatchObject({
        code: "STORE_WRITE_FAILED",
        rolledBack: true,
      });
      // A damaged primary written by someone else with a loose mode gets quarantined.
      await writeFile(path, "damaged", { mode: 0o644 });
      expect(
        await new ResilientJsonStore<{ n: number }>({ path, clock: new ManualClock(3) }).get(),
      ).toEqual({ n: 1 });
      const found = await modes(dir);
      expect(found).toEqual({
        state: "700",
        "state/nested": "700",
        "state/nested/s.json.bak": "600",
        "state/nested/s.json.quarantine.3": "600",
      });
    } finally {
      process.umask(previous);
    }
  });
});
