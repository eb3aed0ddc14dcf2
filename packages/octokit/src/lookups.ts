import { hasMarker } from "./hidden-marker.js";
import type { OctokitReader } from "./octokit-types.js";
import { findInPages } from "./paginate.js";
import type { LookupName } from "./route-table.js";

/** What a lookup is asked about: a write whose outcome is unknown. */
export interface LookupTarget {
  /** The route's parameters (`owner`, `repo`, `issue_number`, …). */
  routeParams: Readonly<Record<string, string>>;
  /** The request body, as the intent recorded it. */
  params: Readonly<Record<string, unknown>>;
  /** The step's idempotency key (what its marker carries). */
  key: string;
  signal: AbortSignal;
}

/** Finds the effect of a write on GitHub: what it made, or `undefined` when it is not there. */
export type Lookup = (reader: OctokitReader, target: LookupTarget) => Promise<unknown>;

const repo = ({ routeParams }: LookupTarget) => ({
  owner: routeParams.owner,
  repo: routeParams.repo,
});

/** A list whose items carry the step's marker in their `body`. */
const markedItem =
  (route: string, parameter: "issue_number" | "pull_number"): Lookup =>
  (reader, target) =>
    findInPages(
      reader,
      route,
      { ...repo(target), [parameter]: target.routeParams[parameter] },
      target.signal,
      (item) => (hasMarker(item.body, target.key) ? item : undefined),
    );

const text = (value: unknown): string | undefined =>
  typeof value === "string" ? value : undefined;
const field = (value: unknown, name: string): unknown =>
  typeof value === "object" && value !== null
    ? (value as Record<string, unknown>)[name]
    : undefined;

/**
 * A pull request carrying the marker in its body, in any state; else an
 * open one with the same head and base (GitHub refuses a second one, so
 * creating it again cannot succeed).
 */
const pullRequest: Lookup = async (reader, target) => {
  const { owner } = target.routeParams;
  const head = text(target.params.head) ?? "";
  const base = text(target.params.base);
  const headLabel = head.includes(":") ? head : `${owner}:${head}`;
  let sameBranches: unknown;
  const marked = await findInPages(
    reader,
    "GET /repos/{owner}/{repo}/pulls",
    { ...repo(target), state: "all", head: headLabel, ...(base === undefined ? {} : { base }) },
    target.signal,
    (pull) => {
      if (hasMarker(pull.body, target.key)) return pull;
      const matches =
        field(pull.head, "label") === headLabel &&
        (base === undefined || field(pull.base, "ref") === base);
      if (matches && pull.state === "open") sameBranches ??= pull;
      return undefined;
    },
  );
  return marked ?? sameBranches;
};

/** `GET …/merge` answers 204 once merged, 404 before. */
const merged: Lookup = async (reader, target) => {
  try {
    await reader.request("GET /repos/{owner}/{repo}/pulls/{pull_number}/merge", {
      ...repo(target),
      pull_number: target.routeParams.pull_number,
      request: { signal: target.signal },
    });
    return { merged: true };
  } catch (error) {
    if (field(error, "status") === 404) return undefined;
    throw error;
  }
};

/** Done once the issue no longer has the label (GitHub compares label names without case). */
const labelRemoved: Lookup = async (reader, target) => {
  const name = (target.routeParams.name ?? "").toLowerCase();
  const present = await findInPages(
    reader,
    "GET /repos/{owner}/{repo}/issues/{issue_number}/labels",
    { ...repo(target), issue_number: target.routeParams.issue_number },
    target.signal,
    (label) => (text(label.name)?.toLowerCase() === name ? label : undefined),
  );
  return present === undefined ? { removed: target.routeParams.name } : undefined;
};

/** A release is one per tag. */
const release: Lookup = (reader, target) =>
  findInPages(reader, "GET /repos/{owner}/{repo}/releases", repo(target), target.signal, (item) =>
    item.tag_name === target.params.tag_name ? item : undefined,
  );

/** A check run of that name on that commit, with the step's (or the caller's) `external_id`. */
const checkRun: Lookup = (reader, target) => {
  const externalId = text(target.params.external_id) ?? target.key;
  return findInPages(
    reader,
    "GET /repos/{owner}/{repo}/commits/{ref}/check-runs",
    { ...repo(target), ref: target.params.head_sha, check_name: target.params.name, filter: "all" },
    target.signal,
    (run) => (run.external_id === externalId ? run : undefined),
    (data) => {
      const runs = field(data, "check_runs");
      return Array.isArray(runs) ? runs : [];
    },
  );
};

/** The built-in lookups, by name. */
export const LOOKUPS: Readonly<Record<LookupName, Lookup>> = Object.freeze({
  issue_comment: markedItem(
    "GET /repos/{owner}/{repo}/issues/{issue_number}/comments",
    "issue_number",
  ),
  review: markedItem("GET /repos/{owner}/{repo}/pulls/{pull_number}/reviews", "pull_number"),
  review_comment: markedItem(
    "GET /repos/{owner}/{repo}/pulls/{pull_number}/comments",
    "pull_number",
  ),
  pull_request: pullRequest,
  merge: merged,
  label_removed: labelRemoved,
  release,
  check_run: checkRun,
});
