import { describe, expect, it } from "vitest";
import {
  describeOrdering,
  orderingChanged,
  orderingFormProblem,
  orderingFormState,
  orderingInput,
} from "./ordering";

describe("orderingInput", () => {
  it("sends only the mode for NONE", () => {
    expect(
      orderingInput({ mode: "NONE", keyPath: ".x", onDeadLetter: "SKIPS" }),
    ).toEqual({ mode: "NONE" });
  });
  it("sends the rule but no key path for ENDPOINT", () => {
    expect(
      orderingInput({ mode: "ENDPOINT", keyPath: ".x", onDeadLetter: "SKIPS" }),
    ).toEqual({ mode: "ENDPOINT", onDeadLetter: "SKIPS" });
  });
  it("sends the trimmed key path and the rule for KEY", () => {
    expect(
      orderingInput({
        mode: "KEY",
        keyPath: "  .payload.customer_id ",
        onDeadLetter: "BLOCKS",
      }),
    ).toEqual({
      mode: "KEY",
      keyPath: ".payload.customer_id",
      onDeadLetter: "BLOCKS",
    });
  });
});

describe("orderingFormState", () => {
  it("defaults to NONE and BLOCKS", () => {
    expect(orderingFormState(null)).toEqual({
      mode: "NONE",
      keyPath: "",
      onDeadLetter: "BLOCKS",
    });
  });
  it("reads a server ordering", () => {
    expect(
      orderingFormState({ mode: "KEY", keyPath: ".a", onDeadLetter: "SKIPS" }),
    ).toEqual({ mode: "KEY", keyPath: ".a", onDeadLetter: "SKIPS" });
  });
});

describe("orderingFormProblem", () => {
  it("needs a key path for KEY", () => {
    expect(
      orderingFormProblem({
        mode: "KEY",
        keyPath: " ",
        onDeadLetter: "BLOCKS",
      }),
    ).toMatch(/needs a key path/);
    expect(
      orderingFormProblem({
        mode: "KEY",
        keyPath: "payload.id",
        onDeadLetter: "BLOCKS",
      }),
    ).toMatch(/starts with a dot/);
    expect(
      orderingFormProblem({
        mode: "KEY",
        keyPath: ".payload.id",
        onDeadLetter: "BLOCKS",
      }),
    ).toBeNull();
  });
  it("accepts other modes without a path", () => {
    expect(
      orderingFormProblem({
        mode: "ENDPOINT",
        keyPath: "",
        onDeadLetter: "BLOCKS",
      }),
    ).toBeNull();
  });
});

describe("orderingChanged", () => {
  const cur = orderingFormState({ mode: "NONE" });
  it("ignores fields the mode does not send", () => {
    expect(orderingChanged({ ...cur, onDeadLetter: "SKIPS" }, cur)).toBe(false);
    expect(orderingChanged({ ...cur, keyPath: ".x" }, cur)).toBe(false);
  });
  it("sees a mode, path or rule change", () => {
    expect(orderingChanged({ ...cur, mode: "ENDPOINT" }, cur)).toBe(true);
    const key = orderingFormState({ mode: "KEY", keyPath: ".a" });
    expect(orderingChanged({ ...key, keyPath: ".b" }, key)).toBe(true);
    expect(orderingChanged({ ...key, onDeadLetter: "SKIPS" }, key)).toBe(true);
  });
});

describe("describeOrdering", () => {
  it("names the mode and key path", () => {
    expect(describeOrdering({ mode: "NONE" })).toMatch(/^none/);
    expect(describeOrdering({ mode: "ENDPOINT" })).toMatch(/^endpoint/);
    expect(describeOrdering({ mode: "KEY", keyPath: ".payload.id" })).toMatch(
      /^key \.payload\.id/,
    );
  });
});
