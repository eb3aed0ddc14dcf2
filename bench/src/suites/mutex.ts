import { AsyncMutex } from "@beauvoir/mutex";
import { Mutex } from "async-mutex";
import { type BenchRow, compare } from "../harness.js";

const WAITERS = 100;

/** AsyncMutex against async-mutex's Mutex: uncontended and with 100 waiters. */
export default async function mutexSuite(): Promise<BenchRow[]> {
  const ours = new AsyncMutex();
  const peer = new Mutex();

  const uncontended = await compare({
    suite: "mutex",
    case: "uncontended acquire+release",
    ours: {
      label: "@beauvoir/mutex",
      op: async () => {
        const release = await ours.acquire();
        release();
      },
    },
    peer: {
      label: "async-mutex",
      op: async () => {
        const release = await peer.acquire();
        release();
      },
    },
    target: { atLeast: 1.0 },
  });

  // 100 callers queue at once; each op is one handoff to the next waiter.
  const contended = await compare({
    suite: "mutex",
    case: `contended handoff, ${WAITERS} waiters`,
    concurrency: WAITERS,
    ours: {
      label: "@beauvoir/mutex",
      op: async () => {
        const release = await ours.acquire();
        await Promise.resolve();
        release();
      },
    },
    peer: {
      label: "async-mutex",
      op: async () => {
        const release = await peer.acquire();
        await Promise.resolve();
        release();
      },
    },
    target: { atLeast: 1.0 },
  });
  return [uncontended, contended];
}
