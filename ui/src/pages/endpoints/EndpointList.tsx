import { useMemo, useState } from "react";
import { useQuery } from "urql";
import { Link } from "wouter";
import { DataTable, type ColumnDef } from "../../components/DataTable";
import { FilterBar, SelectFilter, TextFilter } from "../../components/Filters";
import { PageHeader } from "../../components/PageHeader";
import { Pager, usePager } from "../../components/Pager";
import { QueryResult } from "../../components/QueryResult";
import { StatusBadge } from "../../components/StatusBadge";
import { Time } from "../../components/Time";
import type { EndpointFieldsFragment, EndpointStatus } from "../../gql/graphql";
import { formatDuration } from "../../lib/format";
import { usePolling } from "../../lib/live";
import { usePageTitle } from "../../lib/page";
import { useCan } from "../../lib/session";
import { useSearchParams, type SearchParamsProps } from "../../lib/url";
import { CircuitBadge, SuccessRate, disabledReasonText } from "./CircuitBadge";
import { ENDPOINTS_QUERY } from "./operations";
import { RegisterEndpointForm } from "./RegisterEndpointForm";
import { describeRetrySchedule } from "./retrySchedule";
import { SecretReveal } from "./SecretReveal";

const STATUSES: EndpointStatus[] = ["ACTIVE", "DISABLED", "DELETED"];

/** `datetime-local` value to RFC 3339 (local time), or undefined. */
function toIso(local: string | undefined): string | undefined {
  if (!local) return undefined;
  const d = new Date(local);
  return Number.isNaN(d.getTime()) ? undefined : d.toISOString();
}

const columns: ColumnDef<EndpointFieldsFragment>[] = [
  {
    id: "system",
    header: "System",
    cell: ({ row }) => (
      <Link href={`/endpoints/${row.original.id}`} className="strong-link">
        {row.original.systemName}
      </Link>
    ),
  },
  {
    id: "url",
    header: "URL",
    cell: ({ row }) => (
      <span className="mono url-cell" title={row.original.url}>
        {row.original.url}
      </span>
    ),
  },
  {
    id: "status",
    header: "Status",
    cell: ({ row }) => (
      <div className="stack-xs">
        <StatusBadge status={row.original.status} testId="endpoint-status" />
        {row.original.disabledReason ? (
          <span className="small muted" data-testid="endpoint-disabled-reason">
            {disabledReasonText(row.original.disabledReason)}
          </span>
        ) : null}
      </div>
    ),
  },
  {
    id: "circuit",
    header: "Circuit",
    cell: ({ row }) => <CircuitBadge endpoint={row.original} />,
  },
  {
    id: "rate",
    header: "Success",
    cell: ({ row }) => <SuccessRate rate={row.original.successRate} />,
  },
  {
    id: "delivery",
    header: "Timeout · retries",
    cell: ({ row }) => (
      <span className="small">
        {formatDuration(row.original.timeoutMs)} ·{" "}
        <span className="muted">
          {describeRetrySchedule(row.original.retrySchedule)}
        </span>
      </span>
    ),
  },
  {
    id: "created",
    header: "Registered",
    cell: ({ row }) => <Time value={row.original.createdAt} />,
  },
];

/** `/endpoints`: reads the query string and hands it down (see `useSearchParams`). */
export function EndpointList() {
  const [params, setParams] = useSearchParams();
  return <Endpoints params={params} setParams={setParams} />;
}

function Endpoints({ params, setParams }: SearchParamsProps) {
  usePageTitle("Endpoints");
  const canWrite = useCan("endpoints:write");
  const pager = usePager(20);
  const [registering, setRegistering] = useState(false);
  const [registered, setRegistered] = useState<{
    endpoint: EndpointFieldsFragment;
    secret: string;
  } | null>(null);

  const status = STATUSES.includes(params.status as EndpointStatus)
    ? (params.status as EndpointStatus)
    : undefined;
  const filter = useMemo(
    () => ({
      status,
      systemName: params.system?.trim() || undefined,
      from: toIso(params.from),
      to: toIso(params.to),
    }),
    [status, params.system, params.from, params.to],
  );
  const [result, reexecute] = useQuery({
    query: ENDPOINTS_QUERY,
    variables: { filter, ...pager.vars },
  });
  usePolling(() => reexecute({ requestPolicy: "network-only" }), 15_000);

  const setFilter = (changes: Record<string, string>) => {
    pager.reset();
    setParams(changes);
  };
  const rows = result.data?.endpoints.edges.map((e) => e.node) ?? [];
  const filtered = Object.values(filter).some((v) => v != null);

  return (
    <>
      <PageHeader
        title="Endpoints"
        description="Where webhooks go: one or more per target system."
      >
        {canWrite && !registering && !registered ? (
          <button
            type="button"
            className="btn btn-primary"
            onClick={() => setRegistering(true)}
            data-testid="register-endpoint"
          >
            Register endpoint
          </button>
        ) : null}
      </PageHeader>

      {registered ? (
        <SecretReveal
          title={`Endpoint registered: ${registered.endpoint.systemName}`}
          secret={registered.secret}
          onDone={() => setRegistered(null)}
        >
          <p>
            <Link href={`/endpoints/${registered.endpoint.id}`}>
              Open the endpoint
            </Link>{" "}
            <span className="muted mono small">
              ({registered.endpoint.url})
            </span>
          </p>
        </SecretReveal>
      ) : registering ? (
        <RegisterEndpointForm
          onCancel={() => setRegistering(false)}
          onRegistered={(endpoint, secret) => {
            setRegistering(false);
            setRegistered({ endpoint, secret });
            // The read models follow the log within moments: read now and again.
            reexecute({ requestPolicy: "network-only" });
            window.setTimeout(
              () => reexecute({ requestPolicy: "network-only" }),
              1500,
            );
          }}
        />
      ) : null}

      <FilterBar label="Endpoint filters">
        <SelectFilter
          label="Status"
          value={status ?? ""}
          options={STATUSES.map((s) => ({ value: s, label: s.toLowerCase() }))}
          onChange={(v) => setFilter({ status: v })}
          testId="filter-status"
        />
        <TextFilter
          label="Target"
          value={params.system ?? ""}
          onChange={(v) => setFilter({ system: v })}
          placeholder="crm"
          type="search"
          testId="filter-system"
        />
        <TextFilter
          label="Registered from"
          type="datetime-local"
          value={params.from ?? ""}
          onChange={(v) => setFilter({ from: v })}
        />
        <TextFilter
          label="Registered before"
          type="datetime-local"
          value={params.to ?? ""}
          onChange={(v) => setFilter({ to: v })}
        />
        {filtered ? (
          <button
            type="button"
            className="btn btn-small filter-clear"
            onClick={() =>
              setFilter({ status: "", system: "", from: "", to: "" })
            }
          >
            Clear filters
          </button>
        ) : null}
      </FilterBar>

      <QueryResult
        result={result}
        onRetry={() => reexecute({ requestPolicy: "network-only" })}
        loadingLabel="Loading endpoints…"
      >
        {(data) => (
          <>
            <div className="endpoints-table">
              <DataTable
                columns={columns}
                data={rows}
                getRowId={(e) => e.id}
                caption="Endpoints"
                rowTestId="endpoint-row"
                empty={
                  filtered
                    ? "No endpoint matches these filters."
                    : canWrite
                      ? "No endpoint yet: register one to start delivering webhooks."
                      : "No endpoint yet."
                }
              />
            </div>
            <Pager
              pager={pager}
              pageInfo={data.endpoints.pageInfo}
              label="Endpoint pages"
            />
          </>
        )}
      </QueryResult>
    </>
  );
}
