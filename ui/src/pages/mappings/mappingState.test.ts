import { describe, expect, it } from "vitest";
import { newestMapping } from "./mappingState";

const v = (version: number, retiredAt: string | null = null) => ({
  version,
  retiredAt,
});

describe("newestMapping", () => {
  it("shows the read model without an answer", () => {
    const read = v(2);
    expect(newestMapping(read, null)).toBe(read);
    expect(newestMapping(null, null)).toBeNull();
  });
  it("shows a published version the read model does not hold yet", () => {
    const answer = v(3);
    expect(newestMapping(v(2), answer)).toBe(answer);
    expect(newestMapping(null, answer)).toBe(answer);
  });
  it("shows a retirement the read model does not hold yet", () => {
    const answer = v(2, "2025-01-01T00:00:00Z");
    expect(newestMapping(v(2), answer)).toBe(answer);
  });
  it("shows the read model once it caught up or moved on", () => {
    const read = v(2, "2025-01-01T00:00:00Z");
    expect(newestMapping(read, v(2, "2025-01-01T00:00:00Z"))).toBe(read);
    const newer = v(4);
    expect(newestMapping(newer, v(3))).toBe(newer);
  });
});
