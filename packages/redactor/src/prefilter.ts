import type { Anchor } from "./pattern-syntax.js";

/** Anchors of one character whose distances differ by at most this are checked as one. */
const MERGED_DISTANCE = 8;

/** Characters with a meaning inside a character class. */
const CLASS_SYNTAX = /[\\\]^-]/g;

/**
 * One scan that finds the places where a secret may start, so the full
 * patterns run only there. It is a single regular expression whose
 * alternatives each begin with one character (`_`, `:`, `=`, `J`…) followed
 * by lookarounds confirming a token prefix or a key name, so the engine
 * rejects most positions with one comparison and returns to JavaScript only
 * near a candidate.
 *
 * Each hit tells how far before it a match may start (`back`): a hit at `i`
 * means "a match may start in `[i - back, i]`, and nowhere else nearby".
 */
export class Prefilter {
  /** The scan; global, its `lastIndex` is the caller's. */
  readonly regex: RegExp;
  /** The same scan without the global flag, for quick tests that leave `regex` alone. */
  readonly #probe: RegExp;
  /** `back` of each marker group, by group number. */
  readonly #backs: number[] = [];
  /** Whether each marker group is a sign after a key name (see `Anchor.afterKey`). */
  readonly #afterKey: boolean[] = [];

  /** @param anchors - the anchors of every pattern in use (duplicates are merged). */
  constructor(anchors: readonly Anchor[]) {
    // One alternative per character; inside it, one group per distance, the
    // largest first, so the first check that passes gives the widest window.
    const byCharacter = new Map<string, Map<number, Set<string>>>();
    const afterKeyChecks = new Set(
      anchors.filter((anchor) => anchor.afterKey).map(({ check }) => check),
    );
    for (const { at, check, back } of anchors) {
      let byBack = byCharacter.get(at);
      if (byBack === undefined) {
        byBack = new Map();
        byCharacter.set(at, byBack);
      }
      let checks = byBack.get(back);
      if (checks === undefined) {
        checks = new Set();
        byBack.set(back, checks);
      }
      checks.add(check);
    }
    const alternatives: string[] = [];
    let group = 0;
    for (const [at, byBack] of byCharacter) {
      // Distances close to each other share one group (the largest): fewer
      // lookarounds per candidate, a few more positions tried per hit.
      const clusters: { back: number; checks: string[] }[] = [];
      for (const [back, checks] of [...byBack].sort(([a], [b]) => b - a)) {
        const last = clusters[clusters.length - 1];
        const mergeable =
          last !== undefined &&
          last.back - back <= MERGED_DISTANCE &&
          [...checks, ...last.checks].every((check) => afterKeyChecks.has(check)) ===
            [...checks, ...last.checks].some((check) => afterKeyChecks.has(check));
        if (mergeable) last.checks.push(...checks);
        else clusters.push({ back, checks: [...checks] });
      }
      const groups = clusters.map(({ back, checks }) => {
        this.#backs[++group] = back;
        this.#afterKey[group] = checks.every((check) => afterKeyChecks.has(check));
        return `(?:${checks.join("|")})()`;
      });
      alternatives.push(`[${at.replace(CLASS_SYNTAX, "\\$&")}](?:${groups.join("|")})`);
    }
    const source = alternatives.length > 0 ? alternatives.join("|") : "(?!)";
    this.regex = new RegExp(source, "g");
    this.#probe = new RegExp(source);
  }

  /** Whether `text` holds a place where a secret may start. */
  mayHoldSecret(text: string): boolean {
    return this.#probe.test(text);
  }

  /** Which group of anchors the hit `match` (from {@link regex}) is. */
  groupOf(match: RegExpExecArray): number {
    let group = 1;
    while (group < match.length - 1 && match[group] === undefined) group++;
    return group;
  }

  /** How far before a hit of `group` a secret may start. */
  back(group: number): number {
    return this.#backs[group] ?? 0;
  }

  /** Whether hits of `group` are signs after a key name. */
  afterKey(group: number): boolean {
    return this.#afterKey[group] === true;
  }
}
