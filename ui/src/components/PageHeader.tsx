import type { ReactNode } from "react";

/** A page's <h1> with optional actions on the right. */
export function PageHeader(props: {
  title: string;
  children?: ReactNode;
  description?: ReactNode;
}) {
  return (
    <header className="page-header">
      <div>
        <h1>{props.title}</h1>
        {props.description ? (
          <p className="muted">{props.description}</p>
        ) : null}
      </div>
      {props.children ? (
        <div className="page-actions">{props.children}</div>
      ) : null}
    </header>
  );
}
