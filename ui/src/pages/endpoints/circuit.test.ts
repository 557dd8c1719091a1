import { describe, expect, it } from "vitest";
import { circuitState, formatSuccessRate, successRateTone } from "./circuit";

describe("circuitState", () => {
  it("is healthy without a failure streak", () => {
    expect(
      circuitState({ status: "ACTIVE", failingSince: null, failedAttempts: 0 }),
    ).toEqual({
      kind: "healthy",
    });
  });
  it("is failing with a streak", () => {
    expect(
      circuitState({
        status: "ACTIVE",
        failingSince: "2025-01-01T00:00:00Z",
        failedAttempts: 4,
      }),
    ).toEqual({ kind: "failing", since: "2025-01-01T00:00:00Z", attempts: 4 });
  });
  it("is open when the breaker disabled it", () => {
    expect(
      circuitState({
        status: "DISABLED",
        disabledReason: "circuit_breaker",
        failingSince: "2025-01-01T00:00:00Z",
        failedAttempts: 12,
      }),
    ).toEqual({ kind: "open" });
  });
  it("has none once deleted", () => {
    expect(circuitState({ status: "DELETED" })).toEqual({ kind: "none" });
  });
});

describe("success rate", () => {
  it("formats a share without rounding to the extremes", () => {
    expect(formatSuccessRate(null)).toBe("—");
    expect(formatSuccessRate(1)).toBe("100 %");
    expect(formatSuccessRate(0)).toBe("0 %");
    expect(formatSuccessRate(0.975)).toBe("97.5 %");
    expect(formatSuccessRate(0.99996)).toBe("> 99.9 %");
    expect(formatSuccessRate(0.0001)).toBe("< 0.1 %");
  });
  it("has a tone", () => {
    expect(successRateTone(null)).toBe("none");
    expect(successRateTone(1)).toBe("good");
    expect(successRateTone(0.95)).toBe("warn");
    expect(successRateTone(0.5)).toBe("bad");
  });
});
