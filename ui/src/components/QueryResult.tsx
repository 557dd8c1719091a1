import type { ReactNode } from "react";
import { ErrorNotice } from "./ErrorNotice";
import { Loading } from "./Loading";

/**
 * What a query shows while it runs: its error (with Retry), a loading line
 * until the first answer, then `children(data)` (also while it reads again, so
 * a refresh does not blank the page).
 */
export function QueryResult<D>(props: {
  result: { data?: D; fetching: boolean; error?: unknown };
  onRetry?: () => void;
  loadingLabel?: string;
  children: (data: D) => ReactNode;
}) {
  const { data, fetching, error } = props.result;
  return (
    <>
      {error ? <ErrorNotice error={error} onRetry={props.onRetry} /> : null}
      {!data && fetching ? (
        <Loading label={props.loadingLabel} />
      ) : data ? (
        props.children(data)
      ) : null}
    </>
  );
}
