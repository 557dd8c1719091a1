import { useCallback, useMemo, useState } from "react";

/** Variables of one page of a Relay connection: spread them into the query's variables. */
export interface PageVars {
  first?: number;
  after?: string;
  last?: number;
  before?: string;
}

export interface PageInfoLike {
  hasNextPage: boolean;
  hasPreviousPage: boolean;
  startCursor?: string | null;
  endCursor?: string | null;
}

export interface PagerState {
  vars: PageVars;
  pageSize: number;
  /** Back to the first (newest) page, e.g. when a filter changes. */
  reset: () => void;
  next: (endCursor: string) => void;
  previous: (startCursor: string) => void;
}

/** Server cursor paging: `first/after` forwards, `last/before` backwards. */
export function usePager(pageSize = 20): PagerState {
  const [vars, setVars] = useState<PageVars>({ first: pageSize });
  const reset = useCallback(() => setVars({ first: pageSize }), [pageSize]);
  const next = useCallback(
    (after: string) => setVars({ first: pageSize, after }),
    [pageSize],
  );
  const previous = useCallback(
    (before: string) => setVars({ last: pageSize, before }),
    [pageSize],
  );
  return useMemo(
    () => ({ vars, pageSize, reset, next, previous }),
    [vars, pageSize, reset, next, previous],
  );
}

/** Whether there is a page before / after the current one. */
export function pageAvailability(
  vars: PageVars,
  info: PageInfoLike | null | undefined,
) {
  if (!info) return { hasPrevious: false, hasNext: false };
  const backwards = vars.before != null;
  return {
    hasPrevious: backwards ? info.hasPreviousPage : vars.after != null,
    hasNext: backwards ? true : info.hasNextPage,
  };
}

/** First / Previous / Next buttons for a connection. */
export function Pager(props: {
  pager: PagerState;
  pageInfo: PageInfoLike | null | undefined;
  label?: string;
}) {
  const { pager, pageInfo } = props;
  const { hasPrevious, hasNext } = pageAvailability(pager.vars, pageInfo);
  const onFirst = pager.vars.after == null && pager.vars.before == null;
  if (onFirst && !hasNext) return null;
  return (
    <nav className="pager" aria-label={props.label ?? "Pages"}>
      <button
        type="button"
        className="btn btn-small"
        disabled={onFirst}
        onClick={pager.reset}
      >
        First
      </button>
      <button
        type="button"
        className="btn btn-small"
        disabled={!hasPrevious || !pageInfo?.startCursor}
        onClick={() =>
          pageInfo?.startCursor && pager.previous(pageInfo.startCursor)
        }
      >
        ‹ Previous
      </button>
      <button
        type="button"
        className="btn btn-small"
        disabled={!hasNext || !pageInfo?.endCursor}
        onClick={() => pageInfo?.endCursor && pager.next(pageInfo.endCursor)}
      >
        Next ›
      </button>
    </nav>
  );
}
