import { describe, expect, it } from "vitest";
import { parsePayload, validEventId } from "./dryRun";

describe("parsePayload", () => {
  it("reads JSON of any kind", () => {
    expect(parsePayload('{"id": 1}')).toEqual({ ok: true, value: { id: 1 } });
    expect(parsePayload("[1, 2]")).toEqual({ ok: true, value: [1, 2] });
    expect(parsePayload("null")).toEqual({ ok: true, value: null });
    expect(parsePayload(' "x" ')).toEqual({ ok: true, value: "x" });
  });
  it("says why it is not JSON", () => {
    expect(parsePayload("")).toEqual({
      ok: false,
      error: "Paste a JSON payload.",
    });
    const r = parsePayload("{id: 1}");
    expect(r.ok).toBe(false);
  });
});

describe("validEventId", () => {
  it("takes positive 64-bit decimal ids", () => {
    expect(validEventId("388357663823503361")).toBe(true);
    expect(validEventId(" 1 ")).toBe(true);
    expect(validEventId("9223372036854775807")).toBe(true);
  });
  it("refuses the rest", () => {
    for (const bad of [
      "",
      "0",
      "-1",
      "1.5",
      "abc",
      "9223372036854775808",
      "1e5",
    ]) {
      expect(validEventId(bad), bad).toBe(false);
    }
  });
});
