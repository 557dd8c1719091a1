import type { MouseEventHandler } from "react";
import { DataTable, type DataTableProps } from "./DataTable";
import { Pager, type PageInfoLike, type PagerState } from "./Pager";

/**
 * One page of a server-paged list: the table and its Pager.
 *
 * With `onRowClick` (see `useRowNavigation`) both stand in a `.clickable-rows`
 * wrapper whose rows open on a click; `refreshing` then dims it and marks it
 * busy while the list is read again (leave it out for lists that poll).
 */
export function PagedTable<T>(
  props: DataTableProps<T> & {
    pager: PagerState;
    pageInfo: PageInfoLike | null | undefined;
    pagerLabel: string;
    onRowClick?: MouseEventHandler<HTMLElement>;
    refreshing?: boolean;
  },
) {
  const { pager, pageInfo, pagerLabel, onRowClick, refreshing, ...table } =
    props;
  const body = (
    <>
      <DataTable {...table} />
      <Pager pager={pager} pageInfo={pageInfo} label={pagerLabel} />
    </>
  );
  if (!onRowClick) return body;
  return (
    <div
      className={`clickable-rows${refreshing ? " is-refreshing" : ""}`}
      onClick={onRowClick}
      aria-busy={refreshing}
    >
      {body}
    </div>
  );
}
