import { useCallback, useMemo, type ReactNode } from "react";
import type { FieldDef } from "../../components/FilterForm";
import {
  countFilters,
  readFilters,
  toGraphQLFilter,
  writeFilters,
  type FieldKind,
  type FilterSpec,
  type FilterValues,
} from "../../lib/urlFilters";
import { useUrlPager } from "../../lib/url";
import type { ColumnDef } from "../../components/DataTable";
import {
  endpointField,
  EndpointLabel,
  IdLink,
  useEndpointNames,
  type EndpointNames,
} from "./endpoints";

/** What the deliveries page hands each tab: the URL's query string and a way to change it. */
export interface TabProps {
  search: string;
  go: (qs: string, options?: { replace?: boolean }) => void;
}

/**
 * What the three tabs' lists share: their filter values and page read from the
 * URL (`search`, read by the page: see `useUrlQuery`), the endpoint names, the
 * filter form's fields (the endpoint picker first, then `baseFields`), the
 * GraphQL filter, and `apply` to put new filter values in the URL.
 */
export function useTabList<S extends FilterSpec & { endpointId: FieldKind }>(
  spec: S,
  baseFields: readonly FieldDef<keyof S & string>[],
  { search, go }: TabProps,
) {
  const values = useMemo(() => readFilters(spec, search), [spec, search]);
  const pager = useUrlPager(search, go);
  const names = useEndpointNames();
  const fields = useMemo(
    () => [
      endpointField("endpointId", names, values.endpointId),
      ...baseFields,
    ],
    [names, values.endpointId, baseFields],
  );
  const apply = useCallback(
    (v: FilterValues<S>) => go(writeFilters(spec, v, search)),
    [spec, search, go],
  );
  return {
    values,
    pager,
    names,
    fields,
    apply,
    filter: toGraphQLFilter(spec, values),
    filtered: countFilters(values) > 0,
  };
}

/**
 * The columns every tab's rows have, linked: the delivery (column `columnId`,
 * its id from `deliveryId`), its event and its endpoint (by system name).
 */
export function linkColumns<
  Row extends { eventId: string; endpointId: string },
>(
  names: EndpointNames,
  delivery: {
    columnId: string;
    deliveryId: (row: Row) => string;
    testId?: string;
  },
): ColumnDef<Row>[] {
  return [
    {
      id: delivery.columnId,
      header: "Delivery",
      cell: ({ row }) => (
        <IdLink
          href={`/deliveries/${delivery.deliveryId(row.original)}`}
          id={delivery.deliveryId(row.original)}
          kind="Delivery"
          testId={delivery.testId}
        />
      ),
    },
    {
      id: "event",
      header: "Event",
      cell: ({ row }) => (
        <IdLink
          href={`/events/${row.original.eventId}`}
          id={row.original.eventId}
          kind="Event"
        />
      ),
    },
    {
      id: "endpoint",
      header: "Endpoint",
      cell: ({ row }) => (
        <EndpointLabel id={row.original.endpointId} names={names} />
      ),
    },
  ];
}

/** The line above a tab's list: what it shows, Refresh, and the tab's own actions. */
export function ListToolbar(props: {
  note: ReactNode;
  fetching: boolean;
  onRefresh: () => void;
  children?: ReactNode;
}) {
  const refresh = (
    <button
      type="button"
      className="btn btn-small"
      disabled={props.fetching}
      onClick={props.onRefresh}
    >
      Refresh
    </button>
  );
  return (
    <div className="list-toolbar">
      <p className="muted">{props.note}</p>
      {props.children !== undefined ? (
        <div className="page-actions">
          {refresh}
          {props.children}
        </div>
      ) : (
        refresh
      )}
    </div>
  );
}
