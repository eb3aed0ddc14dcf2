import { CircuitBreaker } from "@beauvoir/breaker";
import { ConsecutiveBreaker, circuitBreaker, handleAll } from "cockatiel";
import Opossum from "opossum";
import { type BenchRow, compare } from "../harness.js";

const resolved = async () => 1;

/**
 * `execute()` of a function returning a resolved promise, through our breaker
 * and through each peer, all CLOSED. Each peer is set up as cheaply as it
 * allows: opossum without its per-call timeout timer (`timeout: false`; its
 * default arms a 10 s timer on every call), cockatiel with its
 * `ConsecutiveBreaker` (one counter). Ours runs with its defaults (rolling
 * window, statistics, classification).
 */
export default async function breakerSuite(): Promise<BenchRow[]> {
  const ours = new CircuitBreaker();
  const opossum = new Opossum(resolved, { timeout: false, resetTimeout: 1_800_000 });
  const cockatiel = circuitBreaker(handleAll, {
    halfOpenAfter: 1_800_000,
    breaker: new ConsecutiveBreaker(5),
  });

  try {
    const versusOpossum = await compare({
      suite: "breaker",
      case: "execute() of a resolved promise",
      ours: { label: "@beauvoir/breaker", op: () => ours.execute(resolved) },
      peer: { label: "opossum@8 (timeout: false)", op: () => opossum.fire() },
      target: { atLeast: 1.0 },
    });
    const versusCockatiel = await compare({
      suite: "breaker",
      case: "execute() of a resolved promise",
      ours: { label: "@beauvoir/breaker", op: () => ours.execute(resolved) },
      peer: { label: "cockatiel@3 circuitBreaker", op: () => cockatiel.execute(resolved) },
      target: { atLeast: 1.0 },
    });
    return [versusOpossum, versusCockatiel];
  } finally {
    opossum.shutdown();
  }
}
