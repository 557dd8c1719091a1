import { useMemo } from "react";
import { useQuery } from "urql";
import { DataTable, type ColumnDef } from "../../components/DataTable";
import { ErrorNotice } from "../../components/ErrorNotice";
import { Loading } from "../../components/Loading";
import { Pager } from "../../components/Pager";
import { StatusBadge } from "../../components/StatusBadge";
import { Time } from "../../components/Time";
import type { DeliveriesPageQuery } from "../../gql/graphql";
import { humanize } from "../../lib/format";
import { FilterForm, type FieldDef } from "../events/FilterForm";
import {
  countFilters,
  readFilters,
  toGraphQLFilter,
  writeFilters,
} from "../events/urlFilters";
import { useUrlPager } from "../events/useUrlQuery";
import {
  endpointField,
  EndpointLabel,
  IdLink,
  useEndpointNames,
  type EndpointNames,
} from "./endpoints";
import {
  DELIVERY_FILTERS,
  DELIVERY_STATUSES,
  isInFlight,
  statusAttr,
} from "./logic";
import { DELIVERIES_QUERY } from "./operations";
import { useRowNavigation } from "./rows";

type Row = DeliveriesPageQuery["deliveries"]["edges"][number]["node"];

const BASE_FIELDS: readonly FieldDef<keyof typeof DELIVERY_FILTERS>[] = [
  {
    key: "status",
    label: "Status",
    input: "select",
    options: DELIVERY_STATUSES.map((s) => ({ value: s, label: humanize(s) })),
  },
  {
    key: "eventType",
    label: "Event type",
    input: "text",
    placeholder: "order.created",
  },
  { key: "system", label: "Target system", input: "text", placeholder: "crm" },
  {
    key: "responseCode",
    label: "Response code",
    input: "number",
    placeholder: "503",
  },
  { key: "eventId", label: "Event id", input: "text" },
  { key: "from", label: "Scheduled from", input: "datetime" },
  { key: "to", label: "Scheduled before", input: "datetime" },
];

function columns(names: EndpointNames): ColumnDef<Row>[] {
  return [
    {
      id: "createdAt",
      header: "Scheduled",
      cell: ({ row }) => <Time value={row.original.createdAt} />,
    },
    {
      id: "id",
      header: "Delivery",
      cell: ({ row }) => (
        <IdLink
          href={`/deliveries/${row.original.id}`}
          id={row.original.id}
          kind="Delivery"
          testId="delivery-link"
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
    {
      id: "status",
      header: "Status",
      cell: ({ row }) => (
        <span data-status={statusAttr(row.original.status)}>
          <StatusBadge status={row.original.status} />
        </span>
      ),
    },
    {
      id: "attempts",
      header: "Attempts",
      cell: ({ row }) => row.original.attemptCount,
    },
    {
      id: "response",
      header: "Last response",
      cell: ({ row }) => (
        <>
          {row.original.responseCode ?? "—"}
          {row.original.lastError ? (
            <span className="cell-error">{row.original.lastError}</span>
          ) : null}
        </>
      ),
    },
    {
      id: "next",
      header: "Next attempt",
      cell: ({ row }) =>
        isInFlight(row.original.status) ? (
          <Time value={row.original.nextAttemptAt} relative empty="due now" />
        ) : (
          <span className="muted">—</span>
        ),
    },
  ];
}

/** The deliveries tab: every delivery, newest first, filtered by the URL. */
export function DeliveriesTab(props: {
  search: string;
  go: (qs: string) => void;
}) {
  const { search, go } = props;
  const values = useMemo(() => readFilters(DELIVERY_FILTERS, search), [search]);
  const pager = useUrlPager(search, go);
  const names = useEndpointNames();
  const fields = useMemo(
    () => [
      endpointField("endpointId", names, values.endpointId),
      ...BASE_FIELDS,
    ],
    [names, values.endpointId],
  );
  const [{ data, fetching, error }, reexecute] = useQuery({
    query: DELIVERIES_QUERY,
    variables: {
      filter: toGraphQLFilter(DELIVERY_FILTERS, values),
      ...pager.vars,
    },
  });
  const cols = useMemo(() => columns(names), [names]);
  const onRowClick = useRowNavigation("/deliveries");
  const rows = data?.deliveries.edges.map((e) => e.node) ?? [];

  return (
    <>
      <FilterForm
        key={search}
        fields={fields}
        values={values}
        label="Delivery filters"
        testIdPrefix="deliveries-filter"
        onApply={(v) => go(writeFilters(DELIVERY_FILTERS, v, search))}
      />
      <div className="list-toolbar">
        <p className="muted">Newest first. Click a row for its attempts.</p>
        <button
          type="button"
          className="btn btn-small"
          disabled={fetching}
          onClick={() => reexecute({ requestPolicy: "network-only" })}
        >
          Refresh
        </button>
      </div>
      {error ? (
        <ErrorNotice
          error={error}
          onRetry={() => reexecute({ requestPolicy: "network-only" })}
        />
      ) : null}
      {!data && fetching ? (
        <Loading label="Loading deliveries…" />
      ) : data ? (
        <div
          className={`clickable-rows${fetching ? " is-refreshing" : ""}`}
          onClick={onRowClick}
          aria-busy={fetching}
        >
          <DataTable
            columns={cols}
            data={rows}
            getRowId={(r) => r.id}
            caption="Deliveries"
            rowTestId="delivery-list-row"
            empty={
              countFilters(values) > 0
                ? "No delivery matches these filters."
                : "No deliveries yet."
            }
          />
          <Pager
            pager={pager}
            pageInfo={data.deliveries.pageInfo}
            label="Delivery pages"
          />
        </div>
      ) : null}
    </>
  );
}
