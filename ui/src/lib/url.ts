import { useCallback, useMemo } from "react";
import { useLocation, useSearch } from "wouter";
import type { PagerState } from "../components/Pager";
import { pageArgs, readCursor, withCursor } from "./urlFilters";

/**
 * The query string as a record, and a setter that replaces some parameters
 * (empty or null values are removed) without adding a history entry.
 *
 * Call it in a component that does not also run a `useQuery` whose variables
 * come from the URL, and pass the pair down (`SearchParamsProps`): React 18
 * drops a `useSyncExternalStore` update back to the first value in a component
 * that sets state while rendering (react#25565), as urql's `useQuery` does when
 * its variables change, so back to the first query string would not re-render.
 */
export function useSearchParams(): [
  Record<string, string>,
  (changes: Record<string, string | null | undefined>) => void,
] {
  const search = useSearch();
  const [location, navigate] = useLocation();
  const params = useMemo(
    () => Object.fromEntries(new URLSearchParams(search)),
    [search],
  );
  const set = useCallback(
    (changes: Record<string, string | null | undefined>) => {
      const next = new URLSearchParams(search);
      for (const [k, v] of Object.entries(changes)) {
        if (v == null || v === "") next.delete(k);
        else next.set(k, v);
      }
      const qs = next.toString();
      navigate(qs ? `${location}?${qs}` : location, { replace: true });
    },
    [search, location, navigate],
  );
  return [params, set];
}

/** The query string handed down by the component that calls `useSearchParams`. */
export interface SearchParamsProps {
  params: Record<string, string>;
  setParams: (changes: Record<string, string | null | undefined>) => void;
}

/**
 * The query string of the current page, and `go(qs)` to another one on the
 * same path. Unlike `useSearchParams`'s setter, `go` adds a history entry, so
 * the back button steps back through filters and pages.
 *
 * As with `useSearchParams`, call it in a component that does not also run a
 * `useQuery` whose variables come from the URL, and pass `search` down
 * (react#25565).
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
