import type { ReactNode } from "react";

/** What a list shows when it has no rows. */
export function Empty(props: { children?: ReactNode }) {
  return (
    <p className="empty" data-testid="empty">
      {props.children ?? "Nothing here yet."}
    </p>
  );
}
