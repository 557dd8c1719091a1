import { describe, expect, it } from "vitest";
import { chunkLines, diffMarker, hunks, lineDiff } from "./diffModel";

describe("lineDiff", () => {
  it("numbers unchanged, removed and added lines", () => {
    const d = lineDiff("a\nb\nc\n", "a\nB\nc\nd\n");
    expect(d.rows).toEqual([
      { kind: "same", oldNo: 1, newNo: 1, text: "a" },
      { kind: "removed", oldNo: 2, newNo: null, text: "b" },
      { kind: "added", oldNo: null, newNo: 2, text: "B" },
      { kind: "same", oldNo: 3, newNo: 3, text: "c" },
      { kind: "added", oldNo: null, newNo: 4, text: "d" },
    ]);
    expect(d.added).toBe(2);
    expect(d.removed).toBe(1);
  });

  it("ignores a missing final newline", () => {
    const d = lineDiff("{id: .id}", "{id: .id}\n");
    expect(d.rows).toEqual([
      { kind: "same", oldNo: 1, newNo: 1, text: "{id: .id}" },
    ]);
    expect(d.added + d.removed).toBe(0);
  });

  it("handles empty sides", () => {
    expect(lineDiff("", "").rows).toEqual([]);
    const d = lineDiff("", "x\ny");
    expect(d.rows.map((r) => r.kind)).toEqual(["added", "added"]);
    expect(lineDiff("x", "").rows).toEqual([
      { kind: "removed", oldNo: 1, newNo: null, text: "x" },
    ]);
  });

  it("keeps blank lines and strips CR", () => {
    expect(chunkLines("a\n\nb\n")).toEqual(["a", "", "b"]);
    expect(chunkLines("a\r\nb")).toEqual(["a", "b"]);
    expect(chunkLines("")).toEqual([]);
  });

  it("marks rows so colour is not the only cue", () => {
    expect(diffMarker("added")).toBe("+");
    expect(diffMarker("removed")).toBe("-");
    expect(diffMarker("same")).toBe(" ");
  });
});

describe("hunks", () => {
  const lines = (n: number) =>
    Array.from({ length: n }, (_, i) => `l${i + 1}`).join("\n");

  it("folds long unchanged runs, keeping context", () => {
    const old = lines(20);
    const neu = old.replace("l10", "L10");
    const { hunks: hs, skippedAfter } = hunks(lineDiff(old, neu).rows, 2);
    expect(hs).toHaveLength(1);
    expect(hs[0]?.skippedBefore).toBe(7);
    expect(hs[0]?.rows.map((r) => r.text)).toEqual([
      "l8",
      "l9",
      "l10",
      "L10",
      "l11",
      "l12",
    ]);
    expect(skippedAfter).toBe(8);
  });

  it("joins changes whose context overlaps", () => {
    const old = lines(10);
    const neu = old.replace("l3", "X").replace("l6", "Y");
    const { hunks: hs } = hunks(lineDiff(old, neu).rows, 2);
    expect(hs).toHaveLength(1);
  });

  it("has no hunk for identical texts", () => {
    const { hunks: hs, skippedAfter } = hunks(lineDiff("a\nb", "a\nb").rows);
    expect(hs).toEqual([]);
    expect(skippedAfter).toBe(2);
  });
});
