import { useState } from "react";
import { Link } from "wouter";
import { useQuery } from "urql";
import { DataTable, type ColumnDef } from "../../components/DataTable";
import { ErrorNotice } from "../../components/ErrorNotice";
import { FilterBar, SelectFilter } from "../../components/Filters";
import { JsonView } from "../../components/JsonView";
import { Loading } from "../../components/Loading";
import { Time } from "../../components/Time";
import { graphql } from "../../gql";
import type { AuditLogQuery } from "../../gql/graphql";
import { STREAM_KINDS, metadataOf, streamHref, streamKind } from "./streams";
import { useLosslessContext } from "../../lib/useLosslessContext";

const Log = graphql(`
  query AuditLog(
    $type: AggregateType
    $first: Int
    $after: String
    $last: Int
    $before: String
  ) {
    log(
      aggregateType: $type
      first: $first
      after: $after
      last: $last
      before: $before
    ) {
      edges {
        cursor
        node {
          aggregateType
          aggregateId
          sequence
          eventType
          eventVersion
          payload
          metadata
          recordedAt
          position
          hash
        }
      }
      pageInfo {
        hasNextPage
        hasPreviousPage
        startCursor
        endCursor
      }
    }
  }
`);

type Row = AuditLogQuery["log"]["edges"][number]["node"];

const PAGE = 25;

/** Where the log page stands: the oldest events, the newest, or next to a cursor. */
type Page =
  { first: number; after?: string } | { last: number; before?: string };

/**
 * The whole log in its global order (oldest first), paged on the server, filtered
 * by aggregate type.
 */
export function GlobalLog(props: {
  type: string;
  onType: (type: string) => void;
}) {
  const kind = streamKind(props.type);
  const [page, setPage] = useState<Page>({ first: PAGE });
  const [expanded, setExpanded] = useState<string | null>(null);
  const context = useLosslessContext();
  const [{ data, fetching, error }, refetch] = useQuery({
    query: Log,
    variables: { type: kind?.value ?? null, ...page },
    requestPolicy: "cache-and-network",
    context,
  });
  const rows = data?.log.edges.map((e) => e.node) ?? [];
  const info = data?.log.pageInfo;
  const backwards = "last" in page;
  const hasOlder = backwards
    ? !!info?.hasPreviousPage
    : "after" in page && page.after != null;
  const hasNewer = backwards
    ? "before" in page && page.before != null
    : !!info?.hasNextPage;
  const keyOf = (r: Row) => `${r.position}`;

  const columns: ColumnDef<Row>[] = [
    {
      header: "Position",
      cell: ({ row }) => <code>{row.original.position}</code>,
    },
    {
      header: "Recorded",
      cell: ({ row }) => (
        <span className="nowrap">
          <Time value={row.original.recordedAt} />
        </span>
      ),
    },
    {
      header: "Stream",
      cell: ({ row }) => (
        <Link
          href={streamHref(
            row.original.aggregateType,
            row.original.aggregateId,
          )}
          className="audit-log-stream"
        >
          {row.original.aggregateType} <code>{row.original.aggregateId}</code>
        </Link>
      ),
    },
    {
      header: "Event",
      cell: ({ row }) => (
        <>
          <span className="muted">#{row.original.sequence}</span>{" "}
          <strong>{row.original.eventType}</strong>
        </>
      ),
    },
    {
      header: "Actor",
      cell: ({ row }) => metadataOf(row.original.metadata).actor ?? "—",
    },
    {
      header: "Details",
      cell: ({ row }) => {
        const id = keyOf(row.original);
        return (
          <button
            type="button"
            className="btn btn-small"
            aria-expanded={expanded === id}
            aria-label={`${expanded === id ? "Hide" : "Show"} event at position ${id}`}
            onClick={() => setExpanded(expanded === id ? null : id)}
          >
            {expanded === id ? "Hide" : "Show"}
          </button>
        );
      },
    },
  ];

  const go = (next: Page) => {
    setExpanded(null);
    setPage(next);
  };

  return (
    <section aria-label="Global log">
      <FilterBar label="Log filters">
        <SelectFilter
          label="Aggregate type"
          value={kind?.name ?? ""}
          options={STREAM_KINDS.map((k) => ({ value: k.name, label: k.label }))}
          anyLabel="All types"
          testId="log-type"
          onChange={(value) => {
            props.onType(value);
            go({ first: PAGE });
          }}
        />
        <button
          type="button"
          className="btn"
          disabled={fetching}
          onClick={() => refetch({ requestPolicy: "network-only" })}
        >
          Refresh
        </button>
      </FilterBar>
      <p className="muted">
        Oldest first, in the order the events were committed. Events of
        transactions still running appear once they commit.
      </p>
      {error ? (
        <ErrorNotice
          error={error}
          title="Log not available"
          onRetry={() => refetch()}
        />
      ) : null}
      {fetching && !data ? <Loading label="Reading the log…" /> : null}
      {data ? (
        <DataTable
          columns={columns}
          data={rows}
          getRowId={keyOf}
          caption="Events of the log"
          empty="No events in the log yet."
          rowTestId="log-row"
          expandedId={expanded}
          renderExpanded={(r) => (
            <div className="audit-log-detail">
              <p>
                Request <code>{metadataOf(r.metadata).requestId ?? "—"}</code>
                {" · "}correlation{" "}
                <code>{metadataOf(r.metadata).correlationId ?? "—"}</code>
              </p>
              <JsonView value={r.payload} openDepth={3} label="Payload" />
              <JsonView value={r.metadata} openDepth={1} label="Metadata" />
              <p className="audit-hash">
                Hash <code>{r.hash}</code>
              </p>
            </div>
          )}
        />
      ) : null}
      <nav className="pager" aria-label="Log pages">
        <button
          type="button"
          className="btn btn-small"
          disabled={!backwards && !("after" in page && page.after)}
          onClick={() => go({ first: PAGE })}
        >
          « Oldest
        </button>
        <button
          type="button"
          className="btn btn-small"
          disabled={!hasOlder || !info?.startCursor}
          onClick={() =>
            info?.startCursor && go({ last: PAGE, before: info.startCursor })
          }
        >
          ‹ Older
        </button>
        <button
          type="button"
          className="btn btn-small"
          disabled={!hasNewer || !info?.endCursor}
          onClick={() =>
            info?.endCursor && go({ first: PAGE, after: info.endCursor })
          }
        >
          Newer ›
        </button>
        <button
          type="button"
          className="btn btn-small"
          disabled={backwards && !("before" in page && page.before)}
          onClick={() => go({ last: PAGE })}
        >
          Newest »
        </button>
      </nav>
    </section>
  );
}
