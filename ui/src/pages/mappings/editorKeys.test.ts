import { describe, expect, it } from "vitest";
import { applyEdit, indentEdit, outdentEdit, tabAction } from "./editorKeys";

const key = (k: string, shiftKey = false) => ({
  key: k,
  shiftKey,
  altKey: false,
  ctrlKey: false,
  metaKey: false,
});

describe("tabAction", () => {
  it("indents on Tab and outdents on Shift+Tab", () => {
    expect(tabAction(key("Tab"), false)).toBe("indent");
    expect(tabAction(key("Tab", true), false)).toBe("outdent");
  });
  it("lets Tab leave after Escape", () => {
    expect(tabAction(key("Escape"), false)).toBe("release");
    expect(tabAction(key("Tab"), true)).toBe("default");
    expect(tabAction(key("Tab", true), true)).toBe("default");
  });
  it("leaves other keys and modified Tabs alone", () => {
    expect(tabAction(key("a"), false)).toBe("default");
    expect(tabAction({ ...key("Tab"), ctrlKey: true }, false)).toBe("default");
  });
});

describe("indentEdit", () => {
  it("inserts two spaces at the caret", () => {
    const e = indentEdit("ab", 1, 1);
    expect(applyEdit("ab", e)).toBe("a  b");
    expect([e.selStart, e.selEnd]).toEqual([3, 3]);
  });
  it("replaces a selection within a line", () => {
    expect(applyEdit("abcd", indentEdit("abcd", 1, 3))).toBe("a  d");
  });
  it("indents every selected line", () => {
    const text = "a\nb\nc";
    const e = indentEdit(text, 0, 3); // "a\nb"
    expect(applyEdit(text, e)).toBe("  a\n  b\nc");
    expect([e.selStart, e.selEnd]).toEqual([2, 7]);
  });
  it("does not take in the line after a selection ending on a newline", () => {
    const text = "a\nb\n";
    const e = indentEdit(text, 0, 2); // "a\n"
    expect(applyEdit(text, e)).toBe("  a\nb\n");
  });
});

describe("outdentEdit", () => {
  it("removes up to two leading spaces of each line", () => {
    const text = "    a\n b\nc";
    const e = outdentEdit(text, 0, text.length);
    expect(e).not.toBeNull();
    expect(applyEdit(text, e!)).toBe("  a\nb\nc");
  });
  it("works on the caret's line", () => {
    const text = "x\n  y";
    const e = outdentEdit(text, 5, 5);
    expect(applyEdit(text, e!)).toBe("x\ny");
    expect([e!.selStart, e!.selEnd]).toEqual([3, 3]);
  });
  it("does nothing without leading spaces", () => {
    expect(outdentEdit("abc", 1, 1)).toBeNull();
  });
});
