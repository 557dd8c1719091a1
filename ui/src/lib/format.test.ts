import { describe, expect, it } from "vitest";
import {
  formatDuration,
  formatLocal,
  formatNumber,
  formatPercent,
  formatRelative,
  formatUtc,
  humanize,
  progressPercent,
} from "./format";

describe("format", () => {
  it("formats UTC with milliseconds", () => {
    expect(formatUtc("2025-03-01T12:04:05.123Z")).toBe(
      "2025-03-01T12:04:05.123Z",
    );
  });
  it("formats local time from the Date's own fields", () => {
    const d = new Date(2025, 2, 1, 13, 4, 5);
    expect(formatLocal(d)).toBe("2025-03-01 13:04:05");
  });
  it("passes invalid times through", () => {
    expect(formatLocal("nope")).toBe("nope");
    expect(formatUtc("nope")).toBe("nope");
  });
  it("formats durations", () => {
    expect(formatDuration(850)).toBe("850 ms");
    expect(formatDuration(4250)).toBe("4.2 s");
    expect(formatDuration(45_000)).toBe("45 s");
    expect(formatDuration(200_000)).toBe("3 min 20 s");
    expect(formatDuration(60_000)).toBe("1 min");
    expect(formatDuration(7_500_000)).toBe("2 h 5 min");
    expect(formatDuration(3 * 86_400_000 + 4 * 3_600_000)).toBe("3 d 4 h");
    expect(formatDuration(Number.NaN)).toBe("—");
  });
  it("formats relative times", () => {
    const now = new Date("2025-01-01T00:00:00Z");
    expect(formatRelative("2024-12-31T23:57:00Z", now)).toBe("3 min ago");
    expect(formatRelative("2025-01-01T00:00:20Z", now)).toBe("in 20 s");
    expect(formatRelative("2025-01-01T00:00:00.500Z", now)).toBe("now");
    expect(formatRelative("2024-12-31T23:59:56.800Z", now)).toBe("3 s ago");
  });
  it("formats numbers and shares", () => {
    expect(formatNumber(12345)).toBe("12,345");
    expect(formatNumber(null)).toBe("—");
    expect(formatPercent(0.975)).toBe("97.5 %");
    expect(formatPercent(null)).toBe("—");
  });
  it("computes progress", () => {
    expect(progressPercent(5, null)).toBeNull();
    expect(progressPercent(0, 0)).toBe(100);
    expect(progressPercent(1, 3)).toBe(33);
    expect(progressPercent(7, 5)).toBe(100);
  });
  it("humanizes codes", () => {
    expect(humanize("projection_rebuild")).toBe("Projection rebuild");
    expect(humanize("DEAD_LETTERED")).toBe("Dead lettered");
  });
});
