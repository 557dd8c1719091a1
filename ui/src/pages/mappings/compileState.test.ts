import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import {
  compileReducer,
  debounce,
  errorPosition,
  initialCompileState,
  offsetOf,
  type CompileState,
} from "./compileState";

describe("compileReducer", () => {
  it("goes waiting → checking → ok for the current text", () => {
    let s: CompileState = initialCompileState;
    s = compileReducer(s, { type: "edited", seq: 1, empty: false });
    expect(s).toEqual({ status: "waiting", seq: 1 });
    s = compileReducer(s, { type: "started", seq: 1 });
    expect(s).toEqual({ status: "checking", seq: 1 });
    s = compileReducer(s, { type: "checked", seq: 1, error: null });
    expect(s).toEqual({ status: "ok", seq: 1 });
  });

  it("shows a compile error", () => {
    let s = compileReducer(initialCompileState, {
      type: "edited",
      seq: 1,
      empty: false,
    });
    const error = {
      code: "invalid_mapping",
      message: "unexpected end",
      line: 2,
      column: 5,
    };
    s = compileReducer(s, { type: "checked", seq: 1, error });
    expect(s).toEqual({ status: "invalid", seq: 1, error });
  });

  it("drops the answer to an older text", () => {
    let s = compileReducer(initialCompileState, {
      type: "edited",
      seq: 1,
      empty: false,
    });
    s = compileReducer(s, { type: "started", seq: 1 });
    s = compileReducer(s, { type: "edited", seq: 2, empty: false });
    const late = compileReducer(s, {
      type: "checked",
      seq: 1,
      error: { code: "invalid_mapping", message: "x" },
    });
    expect(late).toBe(s);
    expect(compileReducer(s, { type: "started", seq: 1 })).toBe(s);
    expect(
      compileReducer(s, {
        type: "checkFailed",
        seq: 1,
        code: "network_error",
        message: "",
      }),
    ).toBe(s);
  });

  it("is idle for an empty program and ignores answers then", () => {
    let s = compileReducer(initialCompileState, {
      type: "edited",
      seq: 1,
      empty: false,
    });
    s = compileReducer(s, { type: "edited", seq: 2, empty: true });
    expect(s).toEqual({ status: "idle" });
    expect(compileReducer(s, { type: "checked", seq: 2, error: null })).toBe(s);
  });

  it("reports a check that failed", () => {
    let s = compileReducer(initialCompileState, {
      type: "edited",
      seq: 3,
      empty: false,
    });
    s = compileReducer(s, {
      type: "checkFailed",
      seq: 3,
      code: "missing_scope",
      message: "no",
    });
    expect(s).toEqual({
      status: "failed",
      seq: 3,
      code: "missing_scope",
      message: "no",
    });
  });
});

describe("debounce", () => {
  beforeEach(() => vi.useFakeTimers());
  afterEach(() => vi.useRealTimers());

  it("calls once, 300 ms after the last call, with the last arguments", () => {
    const fn = vi.fn();
    const d = debounce(fn, 300);
    d.call("a");
    vi.advanceTimersByTime(200);
    d.call("ab");
    vi.advanceTimersByTime(299);
    expect(fn).not.toHaveBeenCalled();
    vi.advanceTimersByTime(1);
    expect(fn).toHaveBeenCalledTimes(1);
    expect(fn).toHaveBeenCalledWith("ab");
  });

  it("cancels and flushes", () => {
    const fn = vi.fn();
    const d = debounce(fn, 300);
    d.call(1);
    d.cancel();
    vi.advanceTimersByTime(1000);
    expect(fn).not.toHaveBeenCalled();
    d.call(2);
    d.flush();
    expect(fn).toHaveBeenCalledWith(2);
    vi.advanceTimersByTime(1000);
    expect(fn).toHaveBeenCalledTimes(1);
    d.flush();
    expect(fn).toHaveBeenCalledTimes(1);
  });
});

describe("error positions", () => {
  it("reads 1-based line and column", () => {
    expect(errorPosition({ line: 3, column: 9 })).toEqual({
      line: 3,
      column: 9,
    });
    expect(errorPosition({ line: null, column: undefined })).toEqual({
      line: null,
      column: null,
    });
    expect(errorPosition({ line: "3", column: 0 })).toEqual({
      line: null,
      column: null,
    });
    expect(errorPosition(null)).toEqual({ line: null, column: null });
  });

  it("finds the offset of a line and column", () => {
    const text = "ab\ncde\nf";
    expect(offsetOf(text, 1, 1)).toBe(0);
    expect(offsetOf(text, 2, 2)).toBe(4);
    expect(offsetOf(text, 2, 99)).toBe(6);
    expect(offsetOf(text, 3, 1)).toBe(7);
    expect(offsetOf(text, 9, 1)).toBe(text.length);
  });
});
