import { useCallback, useMemo } from "react";
import { useLocation, useSearch } from "wouter";
import type { PagerState } from "../../components/Pager";
import { pageArgs, readCursor, withCursor } from "./urlFilters";

/**
 * The query string of the current page, and `go(qs)` to another one on the same
 * path. Unlike `lib/url`'s setter, `go` adds a history entry, so the back button
 * steps back through filters and pages.
 *
 * Call it in a component that does not also run a `useQuery` whose variables
 * come from the URL, and pass `search` down: React 18 drops a
 * `useSyncExternalStore` update back to the first value in a component that
 * sets state while rendering (react#25565), as urql's `useQuery` does when its
 * variables change.
 */
export function useUrlQuery(): {
  search: string;
  go: (qs: string, options?: { replace?: boolean }) => void;
} {
  const search = useSearch();
  const [location, navigate] = useLocation();
  const go = useCallback(
    (qs: string, options?: { replace?: boolean }) =>
      navigate(qs ? `${location}?${qs}` : location, options),
    [location, navigate],
  );
  return { search, go };
}

/** Server cursor paging kept in the URL (`after` / `before`), for the shared Pager. */
export function useUrlPager(
  search: string,
  go: (qs: string) => void,
  pageSize = 25,
): PagerState {
  return useMemo(
    () => ({
      vars: pageArgs(readCursor(search), pageSize),
      pageSize,
      reset: () => go(withCursor(search, null)),
      next: (after: string) => go(withCursor(search, { after })),
      previous: (before: string) => go(withCursor(search, { before })),
    }),
    [search, go, pageSize],
  );
}
