import { ManualClock } from "@beauvoir/core";
import { describe, expect, it, vi } from "vitest";
import { githubAnswers, RESET_AT_EPOCH_SEC } from "./__fixtures__/github-responses.js";
import { OctokitRequestError } from "./__fixtures__/http-shapes.js";
import type { RateLimitBlocksSnapshot } from "./blocks-snapshot.js";
import { RateLimitSnapshotError } from "./errors.js";
import { RateLimiter } from "./rate-limiter.js";

const NOW = (RESET_AT_EPOCH_SEC - 600) * 1000;
const MINUTE = 60_000;

function setup(now = NOW) {
  const clock = new ManualClock(now);
  const limiter = new RateLimiter({ clock, cleanupIntervalMs: Number.POSITIVE_INFINITY });
  return { clock, limiter };
}

/** Through JSON text, as a store keeps it. */
const persist = (snapshot: RateLimitBlocksSnapshot): unknown =>
  JSON.parse(JSON.stringify(snapshot));

describe("exportBlocks() / restoreBlocks()", () => {
  it("a restarted limiter keeps holding requests until GitHub's reset", () => {
    const first = setup();
    first.limiter.recordRateLimitFailure(new OctokitRequestError(githubAnswers.primaryLimit));
    const saved = persist(first.limiter.exportBlocks());
    expect(saved).toEqual({
      version: 1,
      savedAt: NOW,
      blocks: [{ kind: "primary", until: RESET_AT_EPOCH_SEC * 1000 }],
      secondaryStreak: null,
    });

    const restarted = setup(NOW + 60_000);
    restarted.limiter.restoreBlocks(saved);
    expect(restarted.limiter.blockedUntil).toBe(RESET_AT_EPOCH_SEC * 1000);
    expect(restarted.limiter.tryConsume("any")).toMatchObject({
      allowed: false,
      retryAfterMs: 540_000,
      bucket: "global",
    });
    // Token counts start full: documented.
    expect(restarted.limiter.getRemainingTokens()).toEqual({ global: 500, workflow: 100 });
  });

  it("keeps both kinds and the secondary streak, so the next repeat still doubles", () => {
    const first = setup();
    const secondary = new OctokitRequestError(githubAnswers.secondaryMessage);
    first.limiter.recordRateLimitFailure(secondary);
    first.clock.advance(MINUTE);
    first.limiter.recordRateLimitFailure(secondary); // 2 minutes, until NOW + 3 min
    first.limiter.recordRateLimit("w", "primary", undefined, RESET_AT_EPOCH_SEC);
    const saved = persist(first.limiter.exportBlocks());
    expect(saved).toEqual({
      version: 1,
      savedAt: NOW + MINUTE,
      blocks: [
        { kind: "primary", until: RESET_AT_EPOCH_SEC * 1000 },
        { kind: "secondary", until: NOW + 3 * MINUTE },
      ],
      secondaryStreak: { count: 2, until: NOW + 5 * MINUTE },
    });
    const restarted = setup(NOW + 3 * MINUTE);
    restarted.limiter.restoreBlocks(saved);
    restarted.limiter.recordRateLimitFailure(secondary);
    expect(restarted.limiter.exportBlocks().blocks).toContainEqual({
      kind: "secondary",
      until: NOW + 7 * MINUTE,
    });
  });

  it("drops blocks that ended while the process was down", () => {
    const first = setup();
    first.limiter.recordRateLimit("w", "secondary", 30);
    const saved = persist(first.limiter.exportBlocks());
    const restarted = setup(NOW + 31_000);
    restarted.limiter.restoreBlocks(saved);
    expect(restarted.limiter.blockedUntil).toBeNull();
    expect(restarted.limiter.exportBlocks().blocks).toEqual([]);
    expect(restarted.limiter.tryConsume("w").allowed).toBe(true);
  });

  it("never shortens a longer block already recorded, and caps a restored one at maxBlockMs", () => {
    const { limiter } = setup();
    limiter.recordRateLimit("w", "secondary", 120);
    limiter.restoreBlocks({
      version: 1,
      savedAt: NOW,
      blocks: [{ kind: "secondary", until: NOW + 10_000 }],
      secondaryStreak: null,
    });
    expect(limiter.blockedUntil).toBe(NOW + 120_000);
    const far = setup().limiter;
    far.restoreBlocks({
      version: 1,
      savedAt: NOW,
      blocks: [{ kind: "primary", until: NOW + 30 * 24 * 3_600_000 }],
      secondaryStreak: null,
    });
    expect(far.blockedUntil).toBe(NOW + 3_600_000);
  });

  it("exports nothing for a fresh limiter, or when only tokens ran out", () => {
    const { limiter } = setup();
    limiter.recordRateLimit("w", "primary"); // empties the bucket: tokens, not a block
    expect(limiter.exportBlocks()).toEqual({
      version: 1,
      savedAt: NOW,
      blocks: [],
      secondaryStreak: null,
    });
  });

  it.each([
    ["not an object", "nope", "snapshot"],
    ["a newer version", { version: 2, savedAt: NOW, blocks: [] }, "version"],
    ["blocks not an array", { version: 1, savedAt: NOW, blocks: {} }, "blocks"],
    [
      "an unknown kind",
      { version: 1, savedAt: NOW, blocks: [{ kind: "tertiary", until: NOW }] },
      "blocks[0].kind",
    ],
    [
      "a time that is not a number",
      { version: 1, savedAt: NOW, blocks: [{ kind: "primary", until: "soon" }] },
      "blocks[0].until",
    ],
    ["a bad savedAt", { version: 1, savedAt: Number.NaN, blocks: [] }, "savedAt"],
    [
      "a bad streak",
      { version: 1, savedAt: NOW, blocks: [], secondaryStreak: { count: -1, until: NOW } },
      "secondaryStreak.count",
    ],
  ])("refuses %s with RateLimitSnapshotError, applying nothing", (_label, snapshot, field) => {
    const { limiter } = setup();
    const good = { kind: "primary", until: NOW + MINUTE };
    const withGoodBlockFirst =
      typeof snapshot === "object" && Array.isArray((snapshot as { blocks?: unknown }).blocks)
        ? { ...snapshot, blocks: [good, ...(snapshot as { blocks: unknown[] }).blocks] }
        : snapshot;
    const error = (() => {
      try {
        limiter.restoreBlocks(withGoodBlockFirst);
      } catch (caught) {
        return caught;
      }
      return undefined;
    })();
    expect(RateLimitSnapshotError.isInstance(error)).toBe(true);
    expect(error).toMatchObject({ code: "RATE_LIMIT_SNAPSHOT_INVALID" });
    expect((error as RateLimitSnapshotError).field.replace("blocks[1]", "blocks[0]")).toBe(field);
    expect(limiter.blockedUntil).toBeNull();
  });
});

describe("blocksChange notifications", () => {
  it("tells when the GitHub-imposed blocks change, with the snapshot to persist", () => {
    const { clock, limiter } = setup();
    const seen: unknown[] = [];
    const stop = limiter.on("blocksChange", (event) => seen.push(event));
    limiter.recordRateLimit("w", "secondary", 30);
    expect(seen).toEqual([
      {
        reason: "recorded",
        at: NOW,
        snapshot: limiter.exportBlocks(),
      },
    ]);
    // A shorter block changes nothing: no notification.
    limiter.recordRateLimit("w", "secondary", 10);
    expect(seen).toHaveLength(1);
    clock.advance(1_000);
    limiter.restoreBlocks({
      version: 1,
      savedAt: NOW,
      blocks: [{ kind: "primary", until: NOW + MINUTE }],
      secondaryStreak: null,
    });
    expect(seen).toHaveLength(2);
    expect(seen[1]).toMatchObject({ reason: "restored" });
    stop();
    limiter.recordRateLimit("w", "secondary", 600);
    expect(seen).toHaveLength(2);
  });

  it("a listener that throws is logged and changes nothing", () => {
    const warn = vi.fn();
    const limiter = new RateLimiter({
      clock: new ManualClock(NOW),
      logger: { warn, debug: () => {} },
    });
    const after = vi.fn();
    limiter.on("blocksChange", () => {
      throw new Error("listener broke");
    });
    limiter.on("blocksChange", after);
    limiter.recordRateLimit("w", "secondary", 30);
    expect(after).toHaveBeenCalledTimes(1);
    expect(limiter.blockedUntil).toBe(NOW + 30_000);
    expect(warn).toHaveBeenCalledWith(expect.stringContaining("listener"), expect.anything());
  });

  it("calls the onBlocksChange option too, before the listeners", () => {
    const order: string[] = [];
    const limiter = new RateLimiter({
      clock: new ManualClock(NOW),
      onBlocksChange: ({ reason }) => order.push(`option:${reason}`),
    });
    limiter.on("blocksChange", ({ reason }) => order.push(`listener:${reason}`));
    limiter.recordRateLimit("w", "secondary", 30);
    expect(order).toEqual(["option:recorded", "listener:recorded"]);
    expect(() => new RateLimiter({ onBlocksChange: 5 as never })).toThrow(/onBlocksChange/);
  });

  it("refuses unknown events and listeners that are not functions", () => {
    const { limiter } = setup();
    expect(() => limiter.on("wait" as "blocksChange", () => {})).toThrow(TypeError);
    expect(() => limiter.on("blocksChange", 5 as unknown as () => void)).toThrow(TypeError);
  });
});
