import type { OctokitResponseLike } from "./octokit-types.js";

/** The header the plugin adds to an answer that did not come from GitHub just now. */
export const OUTCOME_HEADER = "x-beauvoir-outcome";

/** How a write that was not sent again was answered. */
export type ReplayedOutcome = "deduplicated" | "reconciled" | "dry_run";

/** What the audit trail and the index keep of a write's response. */
export interface RecordedResponse {
  status: number;
  url: string;
  /** Only the `x-ratelimit-*` headers (the executor hands them to the limiter). */
  headers: Record<string, string>;
  /** The response's data, two levels of objects deep (see {@link compactData}). */
  data: unknown;
}

const MAX_ITEMS = 100;

/**
 * A response as it is recorded: status, URL, the rate-limit headers, and
 * the data without what makes GitHub's payloads large (nested repository
 * and user objects are cut to their plain fields).
 * @param response - what GitHub answered.
 */
export function recordedForm(response: OctokitResponseLike): RecordedResponse {
  const headers: Record<string, string> = {};
  for (const [name, value] of Object.entries(response.headers ?? {})) {
    if (name.toLowerCase().startsWith("x-ratelimit-") && value !== undefined) {
      headers[name.toLowerCase()] = String(value);
    }
  }
  return { status: response.status, url: response.url, headers, data: compactData(response.data) };
}

/**
 * Plain fields at every level; objects two levels deep (`pull.head.ref` is
 * kept, `pull.head.repo` is not); arrays of at most 100 items.
 * @param value - response data.
 */
export function compactData(value: unknown, depth = 0): unknown {
  if (Array.isArray(value)) {
    return value.slice(0, MAX_ITEMS).map((item) => compactData(item, depth));
  }
  if (typeof value !== "object" || value === null) return value;
  const compact: Record<string, unknown> = {};
  for (const [name, field] of Object.entries(value)) {
    if (typeof field !== "object" || field === null) compact[name] = field;
    else if (depth < 1) compact[name] = compactData(field, depth + 1);
  }
  return compact;
}

/**
 * The answer to a write that was not sent again: its recorded response
 * (deduplicated), or what a reconcile hook found, with
 * `x-beauvoir-outcome` saying which.
 * @param outcome - why it was not sent.
 * @param recorded - the recorded response, if any.
 * @param found - what a lookup found (reconciled).
 */
export function replayedResponse(
  outcome: ReplayedOutcome,
  recorded: unknown,
  found?: unknown,
): OctokitResponseLike {
  const form = isRecordedResponse(recorded) ? recorded : undefined;
  return {
    status: form?.status ?? 200,
    url: form?.url ?? "",
    headers: { ...form?.headers, [OUTCOME_HEADER]: outcome },
    data: form ? form.data : found,
  };
}

function isRecordedResponse(value: unknown): value is RecordedResponse {
  if (typeof value !== "object" || value === null) return false;
  const candidate = value as Partial<RecordedResponse>;
  return typeof candidate.status === "number" && "data" in candidate;
}
