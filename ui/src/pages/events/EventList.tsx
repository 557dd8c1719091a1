import { useMemo } from "react";
import { useQuery } from "urql";
import { Link } from "wouter";
import { type ColumnDef } from "../../components/DataTable";
import { PageHeader } from "../../components/PageHeader";
import { PagedTable } from "../../components/PagedTable";
import { QueryResult } from "../../components/QueryResult";
import { StatusBadge } from "../../components/StatusBadge";
import { Time } from "../../components/Time";
import type { EventsPageQuery } from "../../gql/graphql";
import { humanize } from "../../lib/format";
import { usePageTitle } from "../../lib/page";
import { useRowNavigation } from "../../lib/rowNavigation";
import { EVENT_FILTERS, EVENT_STATUSES } from "./filters";
import { FilterForm, type FieldDef } from "../../components/FilterForm";
import { EVENTS_QUERY } from "./operations";
import { useUrlPager } from "../../lib/url";
import {
  countFilters,
  readFilters,
  toGraphQLFilter,
  writeFilters,
} from "../../lib/urlFilters";

type Row = EventsPageQuery["events"]["edges"][number]["node"];

const FIELDS: readonly FieldDef<keyof typeof EVENT_FILTERS>[] = [
  {
    key: "eventType",
    label: "Event type",
    input: "text",
    placeholder: "order.created",
  },
  {
    key: "sourceSystem",
    label: "Source system",
    input: "text",
    placeholder: "shop",
  },
  {
    key: "status",
    label: "Status",
    input: "select",
    options: EVENT_STATUSES.map((s) => ({ value: s, label: humanize(s) })),
  },
  { key: "from", label: "Received from", input: "datetime" },
  { key: "to", label: "Received before", input: "datetime" },
];

const columns: ColumnDef<Row>[] = [
  {
    id: "createdAt",
    header: "Received",
    cell: ({ row }) => <Time value={row.original.createdAt} />,
  },
  {
    id: "eventType",
    header: "Type",
    cell: ({ row }) => (
      <Link
        href={`/events/${row.original.id}`}
        data-testid="event-link"
        className="strong-link"
      >
        {row.original.eventType}
      </Link>
    ),
  },
  { id: "sourceSystem", header: "Source", accessorKey: "sourceSystem" },
  {
    id: "eventKey",
    header: "Key",
    cell: ({ row }) => (
      <span className="mono break">{row.original.eventKey}</span>
    ),
  },
  {
    id: "status",
    header: "Status",
    cell: ({ row }) => <StatusBadge status={row.original.status} />,
  },
  { id: "channel", header: "Channel", accessorKey: "channel" },
  {
    id: "id",
    header: "Id",
    cell: ({ row }) => <span className="mono muted">{row.original.id}</span>,
  },
];

/** `/events`: integration events, newest first, filtered by the URL. */
export function EventList(props: { search: string; go: (qs: string) => void }) {
  usePageTitle("Events");
  const { search, go } = props;
  const values = useMemo(() => readFilters(EVENT_FILTERS, search), [search]);
  const pager = useUrlPager(search, go);
  const [result, reexecute] = useQuery({
    query: EVENTS_QUERY,
    variables: {
      filter: toGraphQLFilter(EVENT_FILTERS, values),
      ...pager.vars,
    },
  });
  const refresh = () => reexecute({ requestPolicy: "network-only" });
  const onRowClick = useRowNavigation("/events");
  const filtered = countFilters(values) > 0;

  return (
    <>
      <PageHeader
        title="Events"
        description="Integration events as producers handed them in, newest first."
      >
        <button
          type="button"
          className="btn"
          onClick={refresh}
          disabled={result.fetching}
        >
          Refresh
        </button>
      </PageHeader>
      <FilterForm
        key={search}
        fields={FIELDS}
        values={values}
        label="Event filters"
        testIdPrefix="events-filter"
        onApply={(v) => go(writeFilters(EVENT_FILTERS, v, search))}
      />
      <QueryResult
        result={result}
        onRetry={refresh}
        loadingLabel="Loading events…"
      >
        {(data) => (
          <PagedTable
            columns={columns}
            data={data.events.edges.map((e) => e.node)}
            getRowId={(r) => r.id}
            caption="Events"
            rowTestId="event-row"
            empty={
              filtered
                ? "No event matches these filters."
                : "No events yet. Producers post them to /v1/events."
            }
            pager={pager}
            pageInfo={data.events.pageInfo}
            pagerLabel="Event pages"
            onRowClick={onRowClick}
            refreshing={result.fetching}
          />
        )}
      </QueryResult>
    </>
  );
}
