import type { OctokitReader, OctokitResponseLike } from "./octokit-types.js";

/** A lookup never walks more pages than this (100 items each): 100 000 comments. */
export const MAX_LOOKUP_PAGES = 1_000;

/**
 * Walks a list route page by page (100 items each, following the `link`
 * header's `next`) and hands every item to `visit` until it returns
 * something other than `undefined`.
 * @param reader - any Octokit.
 * @param route - e.g. `GET /repos/{owner}/{repo}/issues/{issue_number}/comments`.
 * @param params - its parameters.
 * @param signal - aborts the walk.
 * @param visit - called with each item; a value ends the walk.
 * @param itemsOf - the items of a page whose data is not an array (`check_runs`).
 * @returns what `visit` returned, or `undefined` after the last page.
 * @throws RangeError past {@link MAX_LOOKUP_PAGES} pages (the step then stays in doubt).
 */
export async function findInPages<Found>(
  reader: OctokitReader,
  route: string,
  params: Record<string, unknown>,
  signal: AbortSignal,
  visit: (item: Record<string, unknown>) => Found | undefined,
  itemsOf: (data: unknown) => unknown[] = (data) => (Array.isArray(data) ? data : []),
): Promise<Found | undefined> {
  let response: OctokitResponseLike = await reader.request(route, {
    ...params,
    per_page: 100,
    request: { signal },
  });
  for (let page = 1; ; page++) {
    for (const item of itemsOf(response.data)) {
      if (typeof item !== "object" || item === null) continue;
      const found = visit(item as Record<string, unknown>);
      if (found !== undefined) return found;
    }
    const next = nextPage(response.headers.link);
    if (next === undefined) return undefined;
    // Not found within the bound is not "not there": the step stays in doubt.
    if (page >= MAX_LOOKUP_PAGES)
      throw new RangeError(`lookup stopped after ${page} pages of ${route}`);
    signal.throwIfAborted();
    response = await reader.request({ method: "GET", url: next, request: { signal } });
  }
}

/** The `rel="next"` URL of a `link` header. */
export function nextPage(link: unknown): string | undefined {
  if (typeof link !== "string") return undefined;
  for (const part of link.split(",")) {
    const match = /<([^>]+)>\s*;\s*rel="?next"?/.exec(part);
    if (match) return match[1];
  }
  return undefined;
}
