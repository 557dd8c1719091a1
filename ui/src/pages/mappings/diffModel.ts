/** A line diff of two mapping programs, as rows a table can show. */
import { diffLines } from "diff";

export type DiffKind = "same" | "added" | "removed";

export interface DiffRow {
  kind: DiffKind;
  /** 1-based line number in the old text (absent for an added line). */
  oldNo: number | null;
  /** 1-based line number in the new text (absent for a removed line). */
  newNo: number | null;
  text: string;
}

export interface LineDiff {
  rows: DiffRow[];
  added: number;
  removed: number;
}

/** Splits a diff chunk into its lines; the final newline ends the last line, it does not start another. */
export function chunkLines(value: string): string[] {
  if (value === "") return [];
  const lines = value.split("\n");
  if (lines[lines.length - 1] === "") lines.pop();
  return lines.map((l) => (l.endsWith("\r") ? l.slice(0, -1) : l));
}

/** The marker shown before a row (not colour alone tells the kind). */
export function diffMarker(kind: DiffKind): string {
  return kind === "added" ? "+" : kind === "removed" ? "-" : " ";
}

export function lineDiff(oldText: string, newText: string): LineDiff {
  // Compare without regard to a missing final newline: mapping programs are typed in a textarea.
  const norm = (s: string) => (s === "" || s.endsWith("\n") ? s : `${s}\n`);
  const changes = diffLines(norm(oldText), norm(newText));
  const rows: DiffRow[] = [];
  let oldNo = 1;
  let newNo = 1;
  let added = 0;
  let removed = 0;
  for (const change of changes) {
    for (const text of chunkLines(change.value)) {
      if (change.added) {
        rows.push({ kind: "added", oldNo: null, newNo: newNo++, text });
        added++;
      } else if (change.removed) {
        rows.push({ kind: "removed", oldNo: oldNo++, newNo: null, text });
        removed++;
      } else {
        rows.push({ kind: "same", oldNo: oldNo++, newNo: newNo++, text });
      }
    }
  }
  return { rows, added, removed };
}

export interface Hunk {
  rows: DiffRow[];
  /** Unchanged rows hidden before this hunk. */
  skippedBefore: number;
}

/**
 * Groups rows into hunks with `context` unchanged lines around each change; the
 * unchanged runs between are folded (their count is kept for a "… n unchanged lines" row).
 */
export function hunks(
  rows: readonly DiffRow[],
  context = 3,
): { hunks: Hunk[]; skippedAfter: number } {
  const keep = new Array<boolean>(rows.length).fill(false);
  rows.forEach((r, i) => {
    if (r.kind !== "same") {
      for (
        let j = Math.max(0, i - context);
        j <= Math.min(rows.length - 1, i + context);
        j++
      )
        keep[j] = true;
    }
  });
  const out: Hunk[] = [];
  let skipped = 0;
  let current: Hunk | null = null;
  rows.forEach((r, i) => {
    if (keep[i]) {
      if (!current) {
        current = { rows: [], skippedBefore: skipped };
        out.push(current);
        skipped = 0;
      }
      current.rows.push(r);
    } else {
      current = null;
      skipped++;
    }
  });
  return { hunks: out, skippedAfter: skipped };
}
