import { describe, expect, it } from "vitest";
import { backoffMs } from "./useDeliveryFeed";

describe("backoffMs", () => {
  it("doubles from 1 s up to 30 s", () => {
    const mid = () => 0.5; // no jitter
    expect([1, 2, 3, 4, 5, 6, 7].map((n) => backoffMs(n, mid))).toEqual([
      1000, 2000, 4000, 8000, 16000, 30000, 30000,
    ]);
  });
  it("jitters by ±20 %", () => {
    expect(backoffMs(1, () => 0)).toBe(800);
    expect(backoffMs(1, () => 1)).toBe(1200);
  });
});
