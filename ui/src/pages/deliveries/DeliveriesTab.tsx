import { useMemo } from "react";
import { useQuery } from "urql";
import { type ColumnDef } from "../../components/DataTable";
import { PagedTable } from "../../components/PagedTable";
import { QueryResult } from "../../components/QueryResult";
import { StatusBadge } from "../../components/StatusBadge";
import { Time } from "../../components/Time";
import type { DeliveriesPageQuery } from "../../gql/graphql";
import { humanize } from "../../lib/format";
import { FilterForm, type FieldDef } from "../../components/FilterForm";
import { type EndpointNames } from "./endpoints";
import {
  DELIVERY_FILTERS,
  DELIVERY_STATUSES,
  isInFlight,
  statusAttr,
} from "./logic";
import { DELIVERIES_QUERY } from "./operations";
import { useRowNavigation } from "../../lib/rowNavigation";
import { linkColumns, ListToolbar, useTabList, type TabProps } from "./tabList";

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
    ...linkColumns<Row>(names, {
      columnId: "id",
      deliveryId: (r) => r.id,
      testId: "delivery-link",
    }),
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
export function DeliveriesTab(props: TabProps) {
  const { values, pager, names, fields, apply, filter, filtered } = useTabList(
    DELIVERY_FILTERS,
    BASE_FIELDS,
    props,
  );
  const [result, reexecute] = useQuery({
    query: DELIVERIES_QUERY,
    variables: { filter, ...pager.vars },
  });
  const refresh = () => reexecute({ requestPolicy: "network-only" });
  const cols = useMemo(() => columns(names), [names]);
  const onRowClick = useRowNavigation("/deliveries");

  return (
    <>
      <FilterForm
        key={props.search}
        fields={fields}
        values={values}
        label="Delivery filters"
        testIdPrefix="deliveries-filter"
        onApply={apply}
      />
      <ListToolbar
        note="Newest first. Click a row for its attempts."
        fetching={result.fetching}
        onRefresh={refresh}
      />
      <QueryResult
        result={result}
        onRetry={refresh}
        loadingLabel="Loading deliveries…"
      >
        {(data) => (
          <PagedTable
            columns={cols}
            data={data.deliveries.edges.map((e) => e.node)}
            getRowId={(r) => r.id}
            caption="Deliveries"
            rowTestId="delivery-list-row"
            empty={
              filtered
                ? "No delivery matches these filters."
                : "No deliveries yet."
            }
            pager={pager}
            pageInfo={data.deliveries.pageInfo}
            pagerLabel="Delivery pages"
            onRowClick={onRowClick}
            refreshing={result.fetching}
          />
        )}
      </QueryResult>
    </>
  );
}
