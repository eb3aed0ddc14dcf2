import { afterAll, beforeAll, expect, it } from "vitest";
import { migrate } from "../src/migrate.js";
import { expectHistoryInvariants } from "./support/history-invariants.js";
import {
  CountingRemote,
  expectJobInvariants,
  jobOf,
  type ReplicaProcess,
  spawnReplica,
} from "./support/replica-processes.js";
import { useTestDatabase } from "./support/test-database.js";

const db = useTestDatabase();
const remote = new CountingRemote();
beforeAll(() => remote.start());
afterAll(() => remote.close());
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

// Short in CI; BEAUVOIR_SOAK=1 for the long run.
const soak = process.env.BEAUVOIR_SOAK === "1";
const ROUNDS = soak ? 40 : 3;
const KILLS_PER_ROUND = soak ? 5 : 3;

/**
 * Random-kill soak: three replicas work through a job while the test
 * SIGKILLs one of them at a random moment (mid-statement, mid-effect,
 * mid-boot…) and starts another in its place, a few times per round; then
 * lets the last three finish. After each round, every invariant of the issue.
 */
it(`keeps every invariant while replicas are SIGKILLed at random (${ROUNDS} rounds)`, {
  timeout: soak ? 3_600_000 : 120_000,
}, async () => {
  const schema = "soak";
  await migrate({ pool: db.admin, schema });
  const sealer = db.backend({ schema });
  await sealer.start();
  let kills = 0;
  let spawned = 0;
  for (let round = 0; round < ROUNDS; round++) {
    // Enough steps that the replicas are still at work when the kills come
    // (group commit made eight steps finish before the second kill).
    const steps = jobOf(24, `round${round}`);
    const start = () =>
      spawnReplica({ databaseUrl: db.url, schema, remote, steps, label: `r${round}-${spawned++}` });
    const replicas: ReplicaProcess[] = [start(), start(), start()];
    for (let kill = 0; kill < KILLS_PER_ROUND; kill++) {
      await sleep(150 + Math.random() * 700);
      const running = replicas.filter((replica) => replica.child.exitCode === null);
      if (running.length === 0) break;
      const victim = running[Math.floor(Math.random() * running.length)] as ReplicaProcess;
      const index = replicas.indexOf(victim);
      victim.child.kill("SIGKILL");
      await victim.exited;
      kills++;
      replicas[index] = start();
    }
    const ends = await Promise.all(replicas.map((replica) => replica.exited));
    expect(ends).toEqual([0, 0, 0]);
    await expectJobInvariants(db.admin, schema, remote, steps);
  }
  expect(kills).toBeGreaterThanOrEqual(ROUNDS * KILLS_PER_ROUND - ROUNDS);
  const records = await expectHistoryInvariants(db.admin, sealer, schema);
  expect(records).toBeGreaterThan(ROUNDS * 24);
});
