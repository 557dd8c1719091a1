import { describe, expect, it } from "vitest";
import { isFinished, jobTypeLabel, parseStatus, progressTotalOf } from "./jobs";

describe("jobs", () => {
  it("labels job types", () => {
    expect(jobTypeLabel("projection_rebuild")).toBe("Read-model rebuild");
    expect(jobTypeLabel("something_new")).toBe("something new");
  });
  it("knows finished statuses", () => {
    expect(isFinished("RUNNING")).toBe(false);
    expect(isFinished("PENDING")).toBe(false);
    expect(isFinished("FAILED")).toBe(true);
    expect(isFinished("SUCCEEDED")).toBe(true);
  });
  it("draws a succeeded job as complete", () => {
    expect(
      progressTotalOf({
        status: "SUCCEEDED",
        progressDone: 0,
        progressTotal: null,
      }),
    ).toBe(0);
    expect(
      progressTotalOf({
        status: "SUCCEEDED",
        progressDone: 12,
        progressTotal: 10,
      }),
    ).toBe(12);
    expect(
      progressTotalOf({
        status: "RUNNING",
        progressDone: 3,
        progressTotal: null,
      }),
    ).toBeNull();
    expect(
      progressTotalOf({ status: "RUNNING", progressDone: 3, progressTotal: 9 }),
    ).toBe(9);
  });
  it("parses the status filter", () => {
    expect(parseStatus("RUNNING")).toBe("RUNNING");
    expect(parseStatus("nope")).toBeUndefined();
    expect(parseStatus(undefined)).toBeUndefined();
  });
});
