import { useCallback, useMemo } from "react";
import { useQuery } from "urql";
import { DataTable, type ColumnDef } from "../../components/DataTable";
import { ErrorNotice } from "../../components/ErrorNotice";
import { Loading } from "../../components/Loading";
import { Pager } from "../../components/Pager";
import { Time } from "../../components/Time";
import type { RetryQueuePageQuery } from "../../gql/graphql";
import { usePolling } from "../../lib/live";
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
import { RETRY_FILTERS } from "./logic";
import { RETRY_QUEUE_QUERY } from "./operations";
import { useRowNavigation } from "./rows";

type Row = RetryQueuePageQuery["retryQueue"]["edges"][number]["node"];

/** The queue moves on its own: read it again this often while the tab is open. */
const POLL_MS = 5000;

const BASE_FIELDS: readonly FieldDef<keyof typeof RETRY_FILTERS>[] = [
  { key: "dueBefore", label: "Due before", input: "datetime" },
];

function columns(names: EndpointNames): ColumnDef<Row>[] {
  return [
    {
      id: "due",
      header: "Due",
      cell: ({ row }) => {
        const due = row.original.nextRetryAt;
        const overdue = Date.parse(due) < Date.now();
        return (
          <span className={overdue ? "overdue" : undefined}>
            <Time value={due} relative />
            {overdue ? (
              <span className="visually-hidden"> (overdue)</span>
            ) : null}
          </span>
        );
      },
    },
    {
      id: "id",
      header: "Delivery",
      cell: ({ row }) => (
        <IdLink
          href={`/deliveries/${row.original.id}`}
          id={row.original.id}
          kind="Delivery"
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
      id: "attempts",
      header: "Attempts",
      cell: ({ row }) => row.original.attempts,
    },
    {
      id: "lease",
      header: "Lease",
      cell: ({ row }) =>
        row.original.leasedBy ? (
          <span data-testid="lease">
            <span className="mono">{row.original.leasedBy}</span>
            <span className="cell-error">
              until <Time value={row.original.leasedUntil} />
            </span>
          </span>
        ) : (
          <span className="muted">not leased</span>
        ),
    },
    {
      id: "eventCreatedAt",
      header: "Event received",
      cell: ({ row }) => <Time value={row.original.eventCreatedAt} />,
    },
  ];
}

/** The retry queue tab: deliveries waiting for their next attempt, soonest due first. */
export function RetryQueueTab(props: {
  search: string;
  go: (qs: string) => void;
}) {
  const { search, go } = props;
  const values = useMemo(() => readFilters(RETRY_FILTERS, search), [search]);
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
    query: RETRY_QUEUE_QUERY,
    variables: {
      filter: toGraphQLFilter(RETRY_FILTERS, values),
      ...pager.vars,
    },
  });
  const refresh = useCallback(
    () => reexecute({ requestPolicy: "network-only" }),
    [reexecute],
  );
  usePolling(refresh, error ? null : POLL_MS);
  const cols = useMemo(() => columns(names), [names]);
  const onRowClick = useRowNavigation("/deliveries");
  const rows = data?.retryQueue.edges.map((e) => e.node) ?? [];

  return (
    <>
      <FilterForm
        key={search}
        fields={fields}
        values={values}
        label="Retry queue filters"
        testIdPrefix="retry-filter"
        onApply={(v) => go(writeFilters(RETRY_FILTERS, v, search))}
      />
      <div className="list-toolbar">
        <p className="muted">
          Soonest due first; refreshed every {POLL_MS / 1000} s. A lease is a
          dispatcher working on the delivery now.
        </p>
        <button
          type="button"
          className="btn btn-small"
          disabled={fetching}
          onClick={refresh}
        >
          Refresh
        </button>
      </div>
      {error ? <ErrorNotice error={error} onRetry={refresh} /> : null}
      {!data && fetching ? (
        <Loading label="Loading the retry queue…" />
      ) : data ? (
        <div className="clickable-rows" onClick={onRowClick}>
          <DataTable
            columns={cols}
            data={rows}
            getRowId={(r) => r.id}
            caption="Retry queue"
            rowTestId="retry-row"
            empty={
              countFilters(values) > 0
                ? "Nothing in the queue matches these filters."
                : "The retry queue is empty: nothing is waiting for an attempt."
            }
          />
          <Pager
            pager={pager}
            pageInfo={data.retryQueue.pageInfo}
            label="Retry queue pages"
          />
        </div>
      ) : null}
    </>
  );
}
