import { useCallback, useMemo } from "react";
import { useQuery } from "urql";
import { type ColumnDef } from "../../components/DataTable";
import { PagedTable } from "../../components/PagedTable";
import { QueryResult } from "../../components/QueryResult";
import { Time } from "../../components/Time";
import type { RetryQueuePageQuery } from "../../gql/graphql";
import { usePolling } from "../../lib/live";
import { FilterForm, type FieldDef } from "../../components/FilterForm";
import { type EndpointNames } from "./endpoints";
import { RETRY_FILTERS } from "./logic";
import { RETRY_QUEUE_QUERY } from "./operations";
import { useRowNavigation } from "../../lib/rowNavigation";
import { linkColumns, ListToolbar, useTabList, type TabProps } from "./tabList";

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
    ...linkColumns<Row>(names, { columnId: "id", deliveryId: (r) => r.id }),
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
export function RetryQueueTab(props: TabProps) {
  const { values, pager, names, fields, apply, filter, filtered } = useTabList(
    RETRY_FILTERS,
    BASE_FIELDS,
    props,
  );
  const [result, reexecute] = useQuery({
    query: RETRY_QUEUE_QUERY,
    variables: { filter, ...pager.vars },
  });
  const refresh = useCallback(
    () => reexecute({ requestPolicy: "network-only" }),
    [reexecute],
  );
  usePolling(refresh, result.error ? null : POLL_MS);
  const cols = useMemo(() => columns(names), [names]);
  const onRowClick = useRowNavigation("/deliveries");

  return (
    <>
      <FilterForm
        key={props.search}
        fields={fields}
        values={values}
        label="Retry queue filters"
        testIdPrefix="retry-filter"
        onApply={apply}
      />
      <ListToolbar
        note={`Soonest due first; refreshed every ${POLL_MS / 1000} s. A lease is a dispatcher working on the delivery now.`}
        fetching={result.fetching}
        onRefresh={refresh}
      />
      <QueryResult
        result={result}
        onRetry={refresh}
        loadingLabel="Loading the retry queue…"
      >
        {(data) => (
          <PagedTable
            columns={cols}
            data={data.retryQueue.edges.map((e) => e.node)}
            getRowId={(r) => r.id}
            caption="Retry queue"
            rowTestId="retry-row"
            empty={
              filtered
                ? "Nothing in the queue matches these filters."
                : "The retry queue is empty: nothing is waiting for an attempt."
            }
            pager={pager}
            pageInfo={data.retryQueue.pageInfo}
            pagerLabel="Retry queue pages"
            onRowClick={onRowClick}
          />
        )}
      </QueryResult>
    </>
  );
}
