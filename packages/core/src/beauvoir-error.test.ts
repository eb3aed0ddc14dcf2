import { describe, expect, it } from "vitest";
import { BeauvoirError, isBeauvoirErrorWithCode } from "./beauvoir-error.js";

class WidgetJammedError extends BeauvoirError<"WIDGET_JAMMED"> {
  static override isInstance(value: unknown): value is WidgetJammedError {
    return isBeauvoirErrorWithCode(value, "WIDGET_JAMMED");
  }
}

describe("BeauvoirError", () => {
  it("carries a code, a cause and the subclass name", () => {
    const cause = new Error("disk full");
    const error = new WidgetJammedError("WIDGET_JAMMED", "jammed", { cause });
    expect(error.code).toBe("WIDGET_JAMMED");
    expect(error.cause).toBe(cause);
    expect(error.name).toBe("WidgetJammedError");
    expect(error).toBeInstanceOf(Error);
    expect(error.stack).toContain("jammed");
  });

  it("is recognised across copies of a package through the global symbol marker", () => {
    const error = new WidgetJammedError("WIDGET_JAMMED", "jammed");
    // A structural clone stands in for an instance made by another copy of the class.
    const fromOtherCopy = Object.create(Error.prototype) as Record<symbol, unknown>;
    fromOtherCopy[Symbol.for("beauvoir.error")] = true;
    fromOtherCopy[Symbol.for("beauvoir.error.WIDGET_JAMMED")] = true;
    expect(BeauvoirError.isInstance(error)).toBe(true);
    expect(WidgetJammedError.isInstance(fromOtherCopy)).toBe(true);
    expect(BeauvoirError.isInstance(fromOtherCopy)).toBe(true);
  });

  it("does not recognise other errors or other codes", () => {
    const other = new BeauvoirError("OTHER", "x");
    expect(WidgetJammedError.isInstance(other)).toBe(false);
    expect(BeauvoirError.isInstance(new Error("plain"))).toBe(false);
    expect(BeauvoirError.isInstance(null)).toBe(false);
    expect(BeauvoirError.isInstance("WIDGET_JAMMED")).toBe(false);
  });

  it("leaves cause unset when none is given", () => {
    expect("cause" in new BeauvoirError("X", "x")).toBe(false);
  });
});
