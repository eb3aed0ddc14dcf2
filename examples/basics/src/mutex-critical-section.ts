// Three withdrawals race on one balance. Each reads, waits (as a real call to a
// database or API would), then writes. Without the mutex they overwrite each
// other; with it, every withdrawal sees the result of the one before.
//
// expect: without a mutex: balance 70
// expect: with AsyncMutex: balance 40
// expect: a waiter gave up after 50 ms: MUTEX_TIMEOUT
import { AsyncMutex, MutexTimeoutError } from "@beauvoir/mutex";

const pause = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

async function race(guard?: AsyncMutex): Promise<number> {
  let balance = 100;
  const withdraw = async (amount: number) => {
    const current = balance;
    await pause(10);
    balance = current - amount;
  };
  const run = (amount: number) =>
    guard ? guard.runExclusive(() => withdraw(amount)) : withdraw(amount);
  await Promise.all([run(10), run(20), run(30)]);
  return balance;
}

console.log(`without a mutex: balance ${await race()}`);
console.log(`with AsyncMutex: balance ${await race(new AsyncMutex())}`);

// A caller that cannot wait long says so; it never hangs.
const mutex = new AsyncMutex();
const release = await mutex.acquire();
try {
  await mutex.acquire(50);
} catch (error) {
  if (MutexTimeoutError.isInstance(error)) {
    console.log(`a waiter gave up after ${error.timeoutMs} ms: ${error.code}`);
  }
} finally {
  release();
}
