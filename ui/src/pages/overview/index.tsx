import { useMemo, useState } from "react";
import { useQuery } from "urql";
import { Link } from "wouter";
import { Empty } from "../../components/Empty";
import { ErrorNotice } from "../../components/ErrorNotice";
import { Loading } from "../../components/Loading";
import { PageHeader } from "../../components/PageHeader";
import { ProgressBar } from "../../components/ProgressBar";
import { StatusBadge } from "../../components/StatusBadge";
import { Time } from "../../components/Time";
import { graphql } from "../../gql";
import type { OverviewQuery } from "../../gql/graphql";
import {
  formatDuration,
  formatLocal,
  formatNumber,
  humanize,
} from "../../lib/format";
import { usePageVisible, usePolling } from "../../lib/live";
import { usePageTitle, type PageProps } from "../../lib/page";
import { can } from "../../lib/permissions";
import { useSession } from "../../lib/session";
import { MinutesChart, SERIES } from "./MinutesChart";

const OVERVIEW = graphql(`
  query Overview(
    $withHealth: Boolean!
    $withSubscriptions: Boolean!
    $withJobs: Boolean!
  ) {
    overview(minutes: 60) @include(if: $withHealth) {
      minutes {
        minute
        eventsReceived
        deliveriesSucceeded
        deliveriesFailed
        deadLettered
      }
      retryQueueDepth
      oldestDueAt
      endpoints {
        active
        failing
        disabled
      }
    }
    subscriptions @include(if: $withSubscriptions) {
      name
      feeds
      position
      lagEvents
      lagMs
      state
      error
      updatedAt
    }
    syncJobs(first: 20, filter: { status: RUNNING }) @include(if: $withJobs) {
      edges {
        node {
          id
          jobType
          status
          progressDone
          progressTotal
          startedAt
        }
      }
    }
  }
`);

const POLL_MS = 5000;

export default function OverviewPage(_props: PageProps) {
  usePageTitle("Overview");
  const { viewer } = useSession();
  const p = viewer.permissions;
  const variables = useMemo(
    () => ({
      withHealth: can(p, "deliveries:read"),
      withSubscriptions: can(p, "jobs:write") || can(p, "audit:read"),
      withJobs: can(p, "jobs:write"),
    }),
    [p],
  );
  const nothing =
    !variables.withHealth &&
    !variables.withSubscriptions &&
    !variables.withJobs;
  const [result, reexecute] = useQuery({
    query: OVERVIEW,
    variables,
    pause: nothing,
  });
  const visible = usePageVisible();
  usePolling(
    () => reexecute({ requestPolicy: "network-only" }),
    nothing ? null : POLL_MS,
  );

  const [updatedAt, setUpdatedAt] = useState<string | null>(null);
  const [seen, setSeen] = useState<OverviewQuery | undefined>(undefined);
  if (result.data !== seen) {
    // A new answer (not the same one re-rendered): note when it came.
    setSeen(result.data);
    if (result.data) setUpdatedAt(new Date().toISOString());
  }

  const data = result.data;
  return (
    <>
      <PageHeader title="Overview">
        {nothing ? null : (
          <p
            className="live-status muted"
            aria-live="off"
            data-testid="live-status"
          >
            <span
              className={`live-dot${visible ? " live-dot-on" : ""}`}
              aria-hidden="true"
            />
            {visible ? "Live" : "Paused while the tab is hidden"}
            {updatedAt
              ? ` · updated ${formatLocal(updatedAt).slice(11)}`
              : null}
          </p>
        )}
      </PageHeader>
      {nothing ? (
        <Empty>
          This API key can read none of the overview&apos;s sections.
        </Empty>
      ) : null}
      {result.error && !data ? (
        <ErrorNotice
          error={result.error}
          onRetry={() => reexecute({ requestPolicy: "network-only" })}
        />
      ) : result.error ? (
        <ErrorNotice error={result.error} title="The last refresh failed" />
      ) : null}
      {!data && result.fetching ? <Loading /> : null}
      {data?.overview ? <Health overview={data.overview} /> : null}
      {data?.subscriptions ? (
        <Subscriptions subscriptions={data.subscriptions} />
      ) : null}
      {data?.syncJobs ? (
        <RunningJobs jobs={data.syncJobs.edges.map((e) => e.node)} />
      ) : null}
    </>
  );
}

type Ov = NonNullable<OverviewQuery["overview"]>;

function Health({ overview }: { overview: Ov }) {
  const totals = useMemo(() => {
    const t = {
      eventsReceived: 0,
      deliveriesSucceeded: 0,
      deliveriesFailed: 0,
      deadLettered: 0,
    };
    for (const m of overview.minutes) {
      t.eventsReceived += m.eventsReceived;
      t.deliveriesSucceeded += m.deliveriesSucceeded;
      t.deliveriesFailed += m.deliveriesFailed;
      t.deadLettered += m.deadLettered;
    }
    return t;
  }, [overview.minutes]);
  const summary = SERIES.map(
    (s) => `${formatNumber(totals[s.key])} ${s.label.toLowerCase()}`,
  ).join(", ");
  const e = overview.endpoints;
  return (
    <>
      <section aria-labelledby="ov-traffic" className="card">
        <h2 id="ov-traffic">Last hour, per minute</h2>
        <div className="totals" data-testid="overview-totals">
          {SERIES.map((s) => (
            <div className="stat" key={s.key}>
              <span className="stat-value">{formatNumber(totals[s.key])}</span>
              <span className="stat-label">
                <span
                  className="legend-swatch"
                  style={{ background: `var(${s.color})` }}
                  aria-hidden="true"
                />
                {s.label}
              </span>
            </div>
          ))}
        </div>
        <MinutesChart
          points={overview.minutes}
          label={`Per-minute counts over the last hour: ${summary}.`}
        />
      </section>
      <div className="grid section">
        <section aria-labelledby="ov-retry" className="card">
          <h2 id="ov-retry">Retry queue</h2>
          <div className="stat">
            <span className="stat-value" data-testid="retry-depth">
              {formatNumber(overview.retryQueueDepth)}
            </span>
            <span className="stat-label">
              deliveries waiting for their next attempt
            </span>
          </div>
          <p className="stat-note">
            Oldest due:{" "}
            <Time value={overview.oldestDueAt} relative empty="none waiting" />
          </p>
          <Link href="/deliveries?tab=retry">Open the retry queue</Link>
        </section>
        <section aria-labelledby="ov-endpoints" className="card">
          <h2 id="ov-endpoints">Endpoints by health</h2>
          <div className="health-row">
            <HealthStat label="Active" value={e.active} tone="success" />
            <HealthStat label="Failing" value={e.failing} tone="warning" />
            <HealthStat label="Disabled" value={e.disabled} tone="neutral" />
          </div>
          <Link href="/endpoints">Open the endpoints</Link>
        </section>
      </div>
    </>
  );
}

function HealthStat(props: {
  label: string;
  value: number;
  tone: "success" | "warning" | "neutral";
}) {
  return (
    <div
      className={`stat health health-${props.tone}`}
      data-testid={`endpoints-${props.label.toLowerCase()}`}
    >
      <span className="stat-value">{formatNumber(props.value)}</span>
      <span className="stat-label">{props.label}</span>
    </div>
  );
}

function Subscriptions({
  subscriptions,
}: {
  subscriptions: NonNullable<OverviewQuery["subscriptions"]>;
}) {
  return (
    <section aria-labelledby="ov-subs" className="section">
      <h2 id="ov-subs">Subscriptions</h2>
      <p className="muted section-note">
        How far each reader of the log is behind its head.
      </p>
      {subscriptions.length === 0 ? (
        <Empty>No subscriptions.</Empty>
      ) : (
        <div className="table-wrap">
          <table className="table">
            <thead>
              <tr>
                <th scope="col">Name</th>
                <th scope="col">State</th>
                <th scope="col" className="num">
                  Position
                </th>
                <th scope="col" className="num">
                  Behind
                </th>
                <th scope="col" className="num">
                  Oldest unapplied
                </th>
                <th scope="col">Checkpoint moved</th>
              </tr>
            </thead>
            <tbody>
              {subscriptions.map((s) => (
                <tr key={s.name} data-testid="subscription-row">
                  <td>
                    <strong className="mono">{s.name}</strong>
                    <div className="muted small">{s.feeds}</div>
                    {s.error ? (
                      <div className="danger small">{s.error}</div>
                    ) : null}
                  </td>
                  <td>
                    <StatusBadge status={s.state} />
                  </td>
                  <td className="num">{formatNumber(s.position)}</td>
                  <td className="num">
                    {s.lagEvents === 0
                      ? "caught up"
                      : `${formatNumber(s.lagEvents)} events`}
                  </td>
                  <td className="num">
                    {s.lagMs === 0 ? "—" : formatDuration(s.lagMs)}
                  </td>
                  <td>
                    <Time value={s.updatedAt} relative />
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
    </section>
  );
}

interface RunningJob {
  id: string;
  jobType: string;
  status: string;
  progressDone: number;
  progressTotal?: number | null;
  startedAt?: string | null;
}

function RunningJobs({ jobs }: { jobs: RunningJob[] }) {
  return (
    <section aria-labelledby="ov-jobs" className="section">
      <h2 id="ov-jobs">Running sync jobs</h2>
      {jobs.length === 0 ? (
        <Empty>No sync job is running.</Empty>
      ) : (
        <ul className="job-list">
          {jobs.map((j) => (
            <li key={j.id} className="card job-card" data-testid="running-job">
              <div className="job-card-head">
                <Link href={`/jobs?job=${j.id}`}>{humanize(j.jobType)}</Link>
                <span className="muted small">
                  started <Time value={j.startedAt} relative />
                </span>
              </div>
              <ProgressBar
                done={j.progressDone}
                total={j.progressTotal}
                label={`${humanize(j.jobType)} ${j.id}`}
              />
            </li>
          ))}
        </ul>
      )}
    </section>
  );
}
