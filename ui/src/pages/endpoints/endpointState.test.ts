import { describe, expect, it } from "vitest";
import { isOlder } from "./endpointState";

describe("isOlder", () => {
  it("compares updatedAt as instants, whatever their precision", () => {
    const read = { updatedAt: "2026-12-07T16:35:51.302136+00:00" };
    const answer = { updatedAt: "2026-12-07T16:35:51.302136210+00:00" };
    expect(isOlder(read, answer)).toBe(false);
    expect(isOlder({ updatedAt: "2026-12-07T16:35:50Z" }, answer)).toBe(true);
    expect(isOlder(answer, { updatedAt: "2026-12-07T16:35:50Z" })).toBe(false);
  });
});
