import type { MouseEvent } from "react";
import { useLocation } from "wouter";

/**
 * A click handler for a table's wrapper: a click on a row (not on a link, a
 * button or a field in it) opens `${prefix}/${row id}`, or `prefix(row id)`.
 * The links in the rows stay the keyboard's way there.
 */
export function useRowNavigation(
  prefix: string | ((rowId: string) => string | null),
) {
  const [, navigate] = useLocation();
  return (e: MouseEvent<HTMLElement>) => {
    const target = e.target as HTMLElement;
    if (target.closest("a, button, input, select, textarea, summary, label"))
      return;
    if (window.getSelection()?.toString()) return;
    const id = target.closest("tr[data-row-id]")?.getAttribute("data-row-id");
    if (!id) return;
    const href = typeof prefix === "string" ? `${prefix}/${id}` : prefix(id);
    if (href) navigate(href);
  };
}
