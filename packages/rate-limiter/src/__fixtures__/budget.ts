// The token-bucket budget every property test checks.

const HOUR = 3_600_000;

/** Counts in every window bounded by two allowed requests: the tightest windows there are. */
export function assertWithinBudget(
  times: number[],
  capacity: number,
  refillPerHour: number,
  label: string,
) {
  for (let first = 0; first < times.length; first++) {
    for (let last = first; last < times.length; last++) {
      const allowed = last - first + 1;
      const budget = capacity + (refillPerHour * (times[last]! - times[first]!)) / HOUR;
      if (allowed > budget + 1e-9) {
        throw new Error(
          `${label}: ${allowed} allowed in [${times[first]}, ${times[last]}] but the budget is ${budget}`,
        );
      }
    }
  }
}
