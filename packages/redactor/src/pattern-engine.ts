import { Prefilter } from "./prefilter.js";
import { Rewrite } from "./rewrite.js";
import { BUILT_IN_SOURCES, placeholder } from "./secret-patterns.js";
import { keyStart, regionStart, windowSize } from "./text-positions.js";

/** A placeholder already in the text, from an earlier pattern or an earlier call. */
const PLACEHOLDER = /\[REDACTED:[A-Za-z0-9._-]{1,64}\]/g;
/**
 * What may be left of a value around placeholders without being redacted
 * itself: nothing, or an authentication scheme (`Bearer [REDACTED:jwt]`).
 * Any other word stays suspect: in `"hunter2 ghp_…"` both halves are secret.
 */
const INSIGNIFICANT =
  /^\s*(?:(?:bearer|basic|token|bot|digest|negotiate|oauth|apikey|key|aws4-hmac-sha256)\s+)?$/i;
/** `://` percent-encoded, at the start of a URL-password match. */
const ENCODED_SCHEME_SEPARATOR = /^%3[Aa]%2[Ff]%2[Ff]/;
/** Values that are data, not credentials, even after `token=`. */
const LITERAL_VALUES = new Set(["null", "undefined", "true", "false", "None", "nil"]);
/** Values that are a mask someone already put in place of a secret. */
const MASK = /^(?:\*{3,}|x{3,}|X{3,}|•{3,})$/;
const MASK_START = /^[*xX•]/;
/** No built-in pattern matches fewer characters than this (`?key=x`, `://:p@`). */
export const SHORTEST_MATCH = 6;
/**
 * How far around each placeholder a pass checks whether redacting again
 * would change anything. A replacement changes what the text beside it looks
 * like (`…-----AIza…` was part of a longer run until the PEM block went, a
 * value shrinks under a length limit), and these effects reach a few hundred
 * characters at most.
 */
const SETTLE_REACH = 320;
/** Characters before a region the prefilter sees, more than its lookbehinds reach. */
const PREFILTER_CONTEXT = 64;
/** Characters after a region a check sees, so the matches that start in it are seldom cut. */
const REGION_CONTEXT = 4096;
/** Passes before giving up; each pass that changes the text replaces at least one secret. */
const MAXIMUM_PASSES = 16;
/**
 * When the prefilter has hit more than this many times at less than this
 * many characters apart on average, every position is a candidate and the
 * rest of the text is scanned by the combined patterns alone.
 */
const DENSE_AFTER_HITS = 64;
const DENSE_SPACING = 48;

/**
 * The built-in patterns, combined into one alternation, and the prefilter
 * that tells where to try it. Alternative `k` is wrapped in a capturing group
 * (to tell which one matched) and its `secret` group becomes the next
 * numbered group. Numbered, not named: V8 builds a groups object with every
 * name for every match, which made texts dense with matches ten times slower.
 *
 * What a text redacts to is defined by the plain alternation run over the
 * whole text (leftmost match, first alternative at that position); the
 * prefilter only skips the positions where no alternative can match, which
 * the tests check against the plain alternation.
 */
export class BuiltInPatternSet {
  readonly #names: string[];
  readonly #sources: string[];
  /** Group number of each alternative's wrapper; its secret group, if any, is the next one. */
  readonly #wrapperGroups: number[] = [];
  readonly #hasSecret: boolean[] = [];
  readonly #redactsPrefix: boolean[] = [];
  /** `[REDACTED:<name>]` of each pattern. */
  readonly #placeholders: string[];
  /**
   * Whether the last replacement {@link #replacementOf} gave replaced a whole
   * match (a token by its shape), as opposed to the value after a key name,
   * which always keeps the key. Only whole matches change what their
   * neighbours look like: a value ends where the text after it begins anew
   * (a blank, a quote, `&`, the end of a line).
   */
  #lastWasWhole = false;
  /** Combined expressions of the first `k` patterns, built on first use. */
  readonly #prefixes: (RegExp | undefined)[] = [];
  /** Sticky expressions trying every pattern at each of `back + 1` positions, by `back`. */
  readonly #windows = new Map<number, RegExp>();
  readonly #prefilter: Prefilter;

  /** @param disabled - names of built-in patterns to leave out. */
  constructor(disabled: ReadonlySet<string>) {
    const enabled = BUILT_IN_SOURCES.filter((source) => !disabled.has(source.name));
    this.#names = enabled.map((source) => source.name);
    this.#placeholders = this.#names.map(placeholder);
    let group = 1;
    this.#sources = enabled.map(({ name, source, redactsPrefix }) => {
      const numbered = source.replaceAll("(?<secret>", "(");
      const captures = new RegExp(`${numbered}|`).exec("")!.length - 1;
      if (captures > 1)
        throw new Error(`built-in pattern ${name} has more than one capturing group`);
      this.#wrapperGroups.push(group);
      this.#hasSecret.push(captures === 1);
      this.#redactsPrefix.push(redactsPrefix === true);
      group += 1 + captures;
      return `(${numbered})`;
    });
    this.#prefilter = new Prefilter(enabled.flatMap((source) => source.anchors));
  }

  /** Names of the patterns in use, in order. */
  get names(): readonly string[] {
    return this.#names;
  }

  /**
   * Replaces every built-in secret in `text`. Passes again while redacting
   * the result would change it near a placeholder, so that redacting the
   * result changes nothing.
   */
  redact(text: string): string {
    return this.#settle(text, true);
  }

  /** {@link redact} without the prefilter: the definition the fast path must agree with. */
  redactWithoutPrefilter(text: string): string {
    return this.#settle(text, false);
  }

  #settle(text: string, prefiltered: boolean): string {
    let current = text;
    for (let round = 0; round < MAXIMUM_PASSES; round++) {
      const rewrite = prefiltered
        ? this.#pass(current)
        : this.#plainPass(current, this.#names.length);
      if (rewrite === undefined) return current;
      const output = rewrite.finish();
      if (rewrite.placed.length === 0 || !this.#wouldChange(output, rewrite.placed, prefiltered)) {
        return output;
      }
      current = output;
    }
    return current;
  }

  /**
   * Whether a pass over `text` would replace anything near the placeholders
   * at `placed` (start and end offsets, in pairs).
   */
  #wouldChange(text: string, placed: readonly number[], prefiltered: boolean): boolean {
    let index = 0;
    while (index < placed.length) {
      const from = regionStart(text, placed[index]! - SETTLE_REACH);
      let to = Math.min(text.length, placed[index + 1]! + SETTLE_REACH);
      // Regions that touch are checked as one.
      for (index += 2; index < placed.length && placed[index]! - SETTLE_REACH <= to; index += 2) {
        to = Math.min(text.length, placed[index + 1]! + SETTLE_REACH);
      }
      const changed = prefiltered
        ? this.#changesWithin(text, from, to)
        : this.#plainPass(text, this.#names.length, from, undefined, to) !== undefined;
      if (changed) return true;
    }
    return false;
  }

  /**
   * One pass: the prefilter proposes windows, the combined patterns run only
   * there. `undefined` when nothing would change.
   */
  #pass(text: string): Rewrite | undefined {
    const scan = this.#prefilter.regex;
    scan.lastIndex = 0;
    let output: Rewrite | undefined;
    // Positions below this were tried already, or lie inside a match.
    let testedUpTo = 0;
    let hits = 0;
    for (let hit = scan.exec(text); hit !== null; hit = scan.exec(text)) {
      if (++hits > DENSE_AFTER_HITS && hits * DENSE_SPACING > hit.index) {
        // Candidates everywhere (pathological input): the combined patterns
        // scanning on their own cost less than a window per candidate.
        return this.#plainPass(text, this.#names.length, testedUpTo, output);
      }
      const match = this.#windowMatch(text, hit.index, hit, testedUpTo);
      // A hit may consume a few characters of a token prefix; the next
      // anchor may start inside them.
      scan.lastIndex = hit.index + 1;
      if (typeof match === "number") {
        testedUpTo = match;
        continue;
      }
      const end = match.start + match.length;
      const replacement = this.#replacementOf(match.match, 1);
      if (replacement !== undefined) {
        output ??= new Rewrite(text);
        output.replace(match.start, end, replacement, this.#lastWasWhole);
      }
      testedUpTo = end;
      if (scan.lastIndex < end) scan.lastIndex = end;
    }
    return output;
  }

  /**
   * Whether a pass would replace anything that starts in `[from, to]`. The
   * region is scanned as a slice with some context around it, so the scan
   * stops at its end instead of running on to the next candidate; a match
   * cut by the slice's end counts as a change (at worst one pass too many).
   */
  #changesWithin(text: string, from: number, to: number): boolean {
    const offset = Math.max(0, from - PREFILTER_CONTEXT);
    // Hits up to an anchor's reach past `to` can open a window starting in the region.
    const subject = text.slice(offset, to + PREFILTER_CONTEXT);
    const scan = this.#prefilter.regex;
    scan.lastIndex = from - offset;
    let testedUpTo = from;
    let hits = 0;
    for (let hit = scan.exec(subject); hit !== null; hit = scan.exec(subject)) {
      if (++hits > DENSE_AFTER_HITS && hits * DENSE_SPACING > hit.index + offset - from) {
        const rest = this.#plainPass(
          text.slice(offset, to + REGION_CONTEXT),
          this.#names.length,
          testedUpTo - offset,
          undefined,
          to - offset,
        );
        return rest !== undefined;
      }
      const match = this.#windowMatch(text, hit.index + offset, hit, testedUpTo);
      scan.lastIndex = hit.index + 1;
      if (typeof match === "number") {
        testedUpTo = match;
        continue;
      }
      if (match.start > to) return false;
      if (this.#replacementOf(match.match, 1) !== undefined) return true;
      testedUpTo = match.start + match.length;
      if (scan.lastIndex < testedUpTo - offset) scan.lastIndex = testedUpTo - offset;
    }
    return false;
  }

  /**
   * The match of the combined patterns in the window of the prefilter hit
   * `hit`, at `anchor` in `text`, not before `testedUpTo`; when there is
   * none, the position up to which the window was tried.
   */
  #windowMatch(
    text: string,
    anchor: number,
    hit: RegExpExecArray,
    testedUpTo: number,
  ): { match: RegExpExecArray; start: number; length: number } | number {
    const prefilter = this.#prefilter;
    const group = prefilter.groupOf(hit);
    const reach = prefilter.back(group);
    let start = Math.max(anchor - reach, testedUpTo);
    if (prefilter.afterKey(group)) start = Math.max(start, keyStart(text, anchor, reach));
    if (start > anchor) return testedUpTo;
    // The smallest window reaching the anchor, from the few sizes there are.
    const back = windowSize(anchor - start);
    const window = this.#window(back);
    window.lastIndex = start;
    const match = window.exec(text);
    if (match === null) return start + back + 1;
    const prefix = match[1]!.length;
    return { match, start: start + prefix, length: match[0].length - prefix };
  }

  /**
   * One pass of the first `count` patterns combined, tried at every position
   * from `from`, continuing `output` if given. Only matches starting at or
   * before `to` count. `undefined` when nothing would change.
   */
  #plainPass(
    text: string,
    count: number,
    from = 0,
    output?: Rewrite,
    to = text.length,
  ): Rewrite | undefined {
    if (text.length - from < SHORTEST_MATCH) return output;
    const regex = this.#combined(count);
    regex.lastIndex = from;
    for (let match = regex.exec(text); match !== null; match = regex.exec(text)) {
      if (match.index > to) break;
      const end = match.index + match[0].length;
      const replacement = this.#replacementOf(match, 0);
      if (replacement !== undefined) {
        output ??= new Rewrite(text);
        output.replace(match.index, end, replacement, this.#lastWasWhole);
      }
      // Redacting a key name or a value inside may have used this expression.
      regex.lastIndex = end;
    }
    return output;
  }

  /**
   * `text` (a value or a user name) with the secrets of the first `count`
   * patterns replaced, in one pass. Most values hold no candidate at all,
   * which the prefilter tells at a glance. (Nothing is cached: the redactor
   * keeps no secret it saw.)
   */
  #inner(text: string, count: number): string {
    if (text.length < SHORTEST_MATCH || !this.#prefilter.mayHoldSecret(text)) return text;
    return this.#plainPass(text, count)?.finish() ?? text;
  }

  /**
   * The part of a URL-password match before the password, `://user:` (or
   * percent-encoded), with the user name redacted: it may be a token. The
   * scheme separator is left out of the check, or it would always look like
   * a candidate.
   */
  #redactUser(before: string): string {
    const start = before.startsWith("://") ? 3 : ENCODED_SCHEME_SEPARATOR.test(before) ? 9 : 0;
    return before.slice(0, start) + this.#inner(before.slice(start), this.#names.length);
  }

  /**
   * What the match `match` of the combined patterns (its groups shifted by
   * `offset`) is replaced with; `undefined` when that is the match itself
   * (`token=null`, a value that already is a placeholder).
   */
  #replacementOf(match: RegExpExecArray, offset: number): string | undefined {
    const groups = this.#wrapperGroups;
    let index = 0;
    while (match[groups[index]! + offset] === undefined) index++;
    const group = groups[index]! + offset;
    const whole = match[group]!;
    const secret = this.#hasSecret[index] ? match[group + 1] : undefined;
    if (secret === undefined) {
      this.#lastWasWhole = true;
      return this.#placeholders[index];
    }
    const before = whole.slice(0, whole.length - secret.length);
    const kept = this.#redactsPrefix[index] ? this.#redactUser(before) : before;
    const replacement = kept + this.#redactValue(secret, index);
    // Set after the value: redacting it may have replaced whole tokens inside.
    this.#lastWasWhole = false;
    return replacement === whole ? undefined : replacement;
  }

  /**
   * The value after a key name or scheme. A more specific secret inside it
   * keeps its own placeholder (most specific first); anything else that is
   * left becomes this pattern's placeholder.
   */
  #redactValue(value: string, index: number): string {
    if (LITERAL_VALUES.has(value) || (MASK_START.test(value) && MASK.test(value))) return value;
    const inner = index > 0 ? this.#inner(value, index) : value;
    // Nothing inside was a secret of its own, and nothing was redacted before:
    // the whole value is this pattern's secret (a value never is blank alone).
    if (inner === value && !value.includes("[REDACTED:")) return this.#placeholders[index]!;
    const left = inner.replace(PLACEHOLDER, "");
    return INSIGNIFICANT.test(left) ? inner : this.#placeholders[index]!;
  }

  #combined(count: number): RegExp {
    let regex = this.#prefixes[count];
    if (regex === undefined) {
      regex = new RegExp(this.#sources.slice(0, count).join("|") || "(?!)", "g");
      this.#prefixes[count] = regex;
    }
    return regex;
  }

  /**
   * Every pattern tried at each position from `lastIndex` to `lastIndex +
   * back`, the nearest first; group 1 holds what lies before the match.
   */
  #window(back: number): RegExp {
    let regex = this.#windows.get(back);
    if (regex === undefined) {
      regex = new RegExp(`([\\s\\S]{0,${back}}?)(?:${this.#sources.join("|") || "(?!)"})`, "y");
      this.#windows.set(back, regex);
    }
    return regex;
  }
}
