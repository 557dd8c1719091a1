/**
 * Tab handling of the program textarea: Tab indents by two spaces (Shift+Tab
 * outdents), but after Escape the next Tab leaves the textarea as usual, so
 * keyboard users are never trapped.
 */

export const INDENT = "  ";

/** A replacement of `text[start, end)` by `insert`, then the selection to set. */
export interface Edit {
  start: number;
  end: number;
  insert: string;
  selStart: number;
  selEnd: number;
}

function lineStart(text: string, pos: number): number {
  return text.lastIndexOf("\n", pos - 1) + 1;
}

/** Tab: two spaces at the caret (replacing a selection within one line); a multi-line selection is indented. */
export function indentEdit(
  text: string,
  selStart: number,
  selEnd: number,
): Edit {
  const selected = text.slice(selStart, selEnd);
  if (!selected.includes("\n")) {
    const at = selStart + INDENT.length;
    return {
      start: selStart,
      end: selEnd,
      insert: INDENT,
      selStart: at,
      selEnd: at,
    };
  }
  const from = lineStart(text, selStart);
  // A selection ending right after a newline does not take in the next line.
  const to = text[selEnd - 1] === "\n" ? selEnd - 1 : selEnd;
  const block = text.slice(from, to);
  const lines = block.split("\n");
  const insert = lines.map((l) => INDENT + l).join("\n");
  return {
    start: from,
    end: to,
    insert,
    selStart: selStart + INDENT.length,
    selEnd: to + INDENT.length * lines.length + (selEnd - to),
  };
}

/** Shift+Tab: removes up to two leading spaces of every line the selection touches. */
export function outdentEdit(
  text: string,
  selStart: number,
  selEnd: number,
): Edit | null {
  const from = lineStart(text, selStart);
  const to =
    selEnd > selStart && text[selEnd - 1] === "\n" ? selEnd - 1 : selEnd;
  const endOfLine = text.indexOf("\n", to);
  const blockEnd = endOfLine < 0 ? text.length : endOfLine;
  const lines = text.slice(from, blockEnd).split("\n");
  let removedFirst = 0;
  let removedTotal = 0;
  const out = lines.map((l, i) => {
    const n = l.startsWith(INDENT) ? 2 : l.startsWith(" ") ? 1 : 0;
    if (i === 0) removedFirst = n;
    removedTotal += n;
    return l.slice(n);
  });
  if (removedTotal === 0) return null;
  const newStart = Math.max(from, selStart - removedFirst);
  const newEnd = Math.max(newStart, selEnd - removedTotal);
  return {
    start: from,
    end: blockEnd,
    insert: out.join("\n"),
    selStart: newStart,
    selEnd: newEnd,
  };
}

export function applyEdit(text: string, e: Edit): string {
  return text.slice(0, e.start) + e.insert + text.slice(e.end);
}

export interface KeyLike {
  key: string;
  shiftKey: boolean;
  altKey: boolean;
  ctrlKey: boolean;
  metaKey: boolean;
}

/**
 * What a key press does: 'release' (Escape: the next Tab moves focus), 'indent',
 * 'outdent', or 'default' (let the browser handle it). `released` is whether
 * Escape was the previous key.
 */
export function tabAction(
  k: KeyLike,
  released: boolean,
): "release" | "indent" | "outdent" | "default" {
  if (k.key === "Escape") return "release";
  if (k.key !== "Tab" || k.altKey || k.ctrlKey || k.metaKey || released)
    return "default";
  return k.shiftKey ? "outdent" : "indent";
}
