/**
 * Milliseconds of CPU this process has used. Timing with it leaves out the
 * moments the process waited for a core on a shared machine, which would
 * otherwise land on whichever side happened to run.
 */
export function cpuMs(): number {
  const { user, system } = process.cpuUsage();
  return (user + system) / 1000;
}

/** Linear work gives about 4; quadratic about 16. Between them, with room for noise. */
export const LINEAR_GROWTH_LIMIT = 10;

/**
 * How much longer `run` takes on an input four times as large: about 4 for
 * linear work, about 16 for quadratic work. Both sizes run interleaved, in
 * CPU time, and the fastest of each is kept, so load from other processes
 * touches both alike. A measurement at or above {@link LINEAR_GROWTH_LIMIT} is repeated
 * (up to three times in all) before it counts: a burst of load can slow one
 * measurement, while quadratic work is slow every time.
 */
export function growthRatio<T>(
  make: (size: number) => T,
  run: (input: T) => unknown,
  size: number,
  rounds = 3,
): number {
  const small = make(size);
  const large = make(size * 4);
  let best = Number.POSITIVE_INFINITY;
  for (let attempt = 0; attempt < 3 && best >= LINEAR_GROWTH_LIMIT; attempt++) {
    let fastestSmall = Number.POSITIVE_INFINITY;
    let fastestLarge = Number.POSITIVE_INFINITY;
    for (let round = 0; round < rounds; round++) {
      let started = cpuMs();
      run(small);
      fastestSmall = Math.min(fastestSmall, cpuMs() - started);
      started = cpuMs();
      run(large);
      fastestLarge = Math.min(fastestLarge, cpuMs() - started);
    }
    // Below two milliseconds the timer, the JIT and the collector dominate;
    // quadratic work at the sizes the tests use takes far longer than that.
    best = Math.min(best, fastestLarge / Math.max(fastestSmall, 2));
  }
  return best;
}
