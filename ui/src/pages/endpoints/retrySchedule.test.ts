import { describe, expect, it } from "vitest";
import {
  MAX_RETRY_DELAY_SECS,
  describeRetrySchedule,
  formatDelay,
  parseRetrySchedule,
} from "./retrySchedule";

describe("parseRetrySchedule", () => {
  it("reads blank input as the default schedule", () => {
    expect(parseRetrySchedule("")).toEqual({ ok: true, schedule: null });
    expect(parseRetrySchedule("   ")).toEqual({ ok: true, schedule: null });
  });

  it("reads comma- and space-separated seconds", () => {
    expect(parseRetrySchedule("0, 5, 300")).toEqual({
      ok: true,
      schedule: [0, 5, 300],
    });
    expect(parseRetrySchedule("0,5,300")).toEqual({
      ok: true,
      schedule: [0, 5, 300],
    });
    expect(parseRetrySchedule(" 1 2\t3 ")).toEqual({
      ok: true,
      schedule: [1, 2, 3],
    });
    expect(parseRetrySchedule("60")).toEqual({ ok: true, schedule: [60] });
  });

  it("refuses what is not a whole number of seconds", () => {
    for (const bad of ["1.5", "-1", "5s", "abc", "1e3", "0x10"]) {
      const r = parseRetrySchedule(bad);
      expect(r.ok, bad).toBe(false);
    }
    const r = parseRetrySchedule("0, five");
    expect(r).toEqual({
      ok: false,
      error: "“five” is not a whole number of seconds.",
    });
  });

  it("refuses empty entries", () => {
    expect(parseRetrySchedule("1,,2").ok).toBe(false);
    expect(parseRetrySchedule("1, ,2").ok).toBe(false);
    expect(parseRetrySchedule(",1").ok).toBe(false);
    expect(parseRetrySchedule("1,").ok).toBe(false);
  });

  it("keeps to the server's limits", () => {
    expect(parseRetrySchedule(String(MAX_RETRY_DELAY_SECS))).toEqual({
      ok: true,
      schedule: [MAX_RETRY_DELAY_SECS],
    });
    expect(parseRetrySchedule(String(MAX_RETRY_DELAY_SECS + 1)).ok).toBe(false);
    expect(parseRetrySchedule(Array(32).fill("1").join(",")).ok).toBe(true);
    expect(parseRetrySchedule(Array(33).fill("1").join(","))).toEqual({
      ok: false,
      error: "At most 32 delays (got 33).",
    });
  });
});

describe("formatDelay / describeRetrySchedule", () => {
  it("formats delays shortly", () => {
    expect(formatDelay(0)).toBe("0s");
    expect(formatDelay(45)).toBe("45s");
    expect(formatDelay(300)).toBe("5m");
    expect(formatDelay(5400)).toBe("1h 30m");
    expect(formatDelay(90061)).toBe("1d 1h");
    expect(formatDelay(86400)).toBe("1d");
  });

  it("describes a schedule", () => {
    expect(describeRetrySchedule(null)).toBe("default");
    expect(describeRetrySchedule([])).toBe("default");
    expect(describeRetrySchedule([0, 5, 300])).toBe("0s → 5s → 5m");
  });
});
