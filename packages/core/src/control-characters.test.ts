import { describe, expect, it } from "vitest";
import { escapeControlCharacters } from "./control-characters.js";

describe("escapeControlCharacters", () => {
  it("keeps a forged log line on the same line", () => {
    const escaped = escapeControlCharacters("done\n2026-01-01 [info] token rotated\r");
    expect(escaped).toBe("done\\n2026-01-01 [info] token rotated\\r");
    expect(escaped).not.toMatch(/[\n\r]/);
  });

  it("escapes terminal sequences, DEL, C1 controls, separators and bidi overrides", () => {
    expect(escapeControlCharacters("\u001b[31mred\u0007")).toBe("\\x1b[31mred\\x07");
    expect(escapeControlCharacters("\u007f\u009b\u2028\u202e\u2066")).toBe(
      "\\x7f\\x9b\\u2028\\u202e\\u2066",
    );
    expect(escapeControlCharacters("a\u0000b\tc")).toBe("a\\x00b\\tc");
  });

  it("escapes backslashes so output cannot be mistaken for an escape", () => {
    expect(escapeControlCharacters("C:\\n")).toBe("C:\\\\n");
  });

  it("leaves printable text, quotes and non-Latin letters alone", () => {
    const text = 'owner/repo#12 "quoted" ünïcødé 日本語 🚀';
    expect(escapeControlCharacters(text)).toBe(text);
  });
});
