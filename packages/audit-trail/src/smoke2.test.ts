import { mkdtemp, readFile } from "node:fs/promises";
import { createHash } from "node:crypto";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { it } from "vitest";
import { AuditTrail, verifyAuditFile } from "./index.js";

it("perf", async () => {
  const dir = await mkdtemp(join(tmpdir(), "at-"));
  const path = join(dir, "audit.jsonl");
  const trail = new AuditTrail({ path, maxSizeBytes: Infinity });
  await trail.initialize();
  let t = performance.now();
  while (true) {
    const seqs = await Promise.all(Array.from({ length: 256 }, (_, i) => trail.recordIntent({ action: "add_issue_comment", target: "acme/app#12", params: { i, body: "hello world this is a comment", labels: ["a", "b"], nested: { z: 1, a: [1, { y: 2, b: 3 }] } } })));
    await Promise.all(seqs.map((s) => trail.recordResult(s, { id: s, url: "https://github.com/acme/app/issues/12#comment" })));
    if (trail.lastSeq % 2048 === 0) { const st = (await readFile(path)).length; if (st > 10 * 1024 * 1024) break; }
  }
  console.log("write", performance.now() - t, trail.lastSeq);
  await trail.close();
  for (let i = 0; i < 5; i++) {
    t = performance.now();
    const t2 = new AuditTrail({ path });
    await t2.initialize();
    const init = performance.now() - t;
    t = performance.now();
    const v = await verifyAuditFile(path);
    const ver = performance.now() - t;
    t = performance.now();
    const buf = await readFile(path);
    let off = 0; while (off < buf.length) { const e = buf.indexOf(10, off); JSON.parse(buf.toString("utf8", off, e)); createHash("sha256").update(buf.subarray(off, e)).digest("hex"); off = e + 1; }
    const base = performance.now() - t;
    console.log({ init, ver, base, valid: v.valid, size: buf.length });
    await t2.close();
  }
});
