import { StaleFenceError } from "./errors.js";
import type { StatementRunner } from "./statement-runner.js";

/**
 * @internal Records `fence` as the highest token seen for `resource`, in one
 * statement: a token lower than one already seen is refused (the highest token
 * seen wins), an equal one is accepted again (a resend, or the same holder's
 * next write).
 * @throws {@link StaleFenceError} when a higher token was seen.
 */
export async function advanceFence(
  runner: StatementRunner,
  schema: string,
  resource: string,
  fence: number,
): Promise<void> {
  if (typeof resource !== "string" || resource.length === 0) {
    throw new TypeError("resource must be a non-empty string");
  }
  if (!Number.isSafeInteger(fence) || fence < 1) {
    throw new RangeError(`fence must be a positive integer, got ${String(fence)}`);
  }
  for (;;) {
    const { rows } = await runner.run<{ advanced: boolean; highest: string }>(
      "fence.advance",
      `WITH advanced AS (
         INSERT INTO ${schema}.fence_marks AS f (resource, fence, updated_at) VALUES ($1, $2, now())
         ON CONFLICT (resource) DO UPDATE SET fence = EXCLUDED.fence, updated_at = now()
           WHERE f.fence <= EXCLUDED.fence
         RETURNING fence
       )
       SELECT true AS advanced, fence::text AS highest FROM advanced
       UNION ALL
       SELECT false, f.fence::text FROM ${schema}.fence_marks f
        WHERE f.resource = $1 AND NOT EXISTS (SELECT 1 FROM advanced)`,
      [resource, fence],
    );
    const row = rows[0];
    if (row?.advanced) return;
    if (row !== undefined && Number(row.highest) > fence) {
      throw new StaleFenceError(resource, fence, Number(row.highest));
    }
    // Refused, yet this statement's snapshot shows no higher token: a concurrent
    // write committed after the snapshot was taken. A fresh statement tells.
  }
}
