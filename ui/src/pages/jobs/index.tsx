import { createColumnHelper } from "@tanstack/react-table";
import { useCallback, useMemo, useState } from "react";
import { useMutation, useQuery } from "urql";
import { ConfirmDialog } from "../../components/ConfirmDialog";
import { ErrorNotice } from "../../components/ErrorNotice";
import { FilterBar, SelectFilter } from "../../components/Filters";
import { PageHeader } from "../../components/PageHeader";
import { PagedTable } from "../../components/PagedTable";
import { usePager } from "../../components/Pager";
import { ProgressBar } from "../../components/ProgressBar";
import { QueryResult } from "../../components/QueryResult";
import { StatusBadge } from "../../components/StatusBadge";
import { Time } from "../../components/Time";
import type { SyncJobsQuery } from "../../gql/graphql";
import { humanize } from "../../lib/format";
import { usePolling } from "../../lib/live";
import { usePageTitle, type PageProps } from "../../lib/page";
import { useCan } from "../../lib/session";
import { useSearchParams, type SearchParamsProps } from "../../lib/url";
import { JobFollow } from "./JobFollow";
import {
  isFinished,
  JOB_STATUSES,
  JOB_TYPES,
  jobTypeLabel,
  parseStatus,
  progressTotalOf,
} from "./jobs";
import { REBUILD, SYNC_JOBS, VERIFY_LOG } from "./queries";

type Job = SyncJobsQuery["syncJobs"]["edges"][number]["node"];

const LIST_POLL_MS = 3000;

const column = createColumnHelper<Job>();

/** `/jobs`: reads the query string and hands it down (see `useSearchParams`). */
export default function JobsPage(_props: PageProps) {
  const [params, setParams] = useSearchParams();
  return <JobsList params={params} setParams={setParams} />;
}

function JobsList({ params, setParams }: SearchParamsProps) {
  usePageTitle("Sync jobs");
  const canVerify = useCan("jobs:write", "audit:read");
  const status = parseStatus(params.status);
  const jobType = params.type ?? "";
  const followed = params.job ?? null;
  const pager = usePager(20);

  const variables = useMemo(
    () => ({
      ...pager.vars,
      filter: { status: status ?? null, jobType: jobType || null },
    }),
    [pager.vars, status, jobType],
  );
  const [list, refetch] = useQuery({ query: SYNC_JOBS, variables });
  const refresh = useCallback(
    () => refetch({ requestPolicy: "network-only" }),
    [refetch],
  );
  const jobs = useMemo(
    () => list.data?.syncJobs.edges.map((e) => e.node) ?? [],
    [list.data],
  );
  const anyActive = jobs.some((j) => !isFinished(j.status));
  usePolling(refresh, anyActive ? LIST_POLL_MS : null);

  const follow = useCallback(
    (id: string | null) => setParams({ job: id }),
    [setParams],
  );

  const [confirmRebuild, setConfirmRebuild] = useState(false);
  const [rebuild, runRebuild] = useMutation(REBUILD);
  const [verify, runVerify] = useMutation(VERIFY_LOG);

  const startRebuild = async () => {
    const res = await runRebuild({});
    setConfirmRebuild(false);
    if (res.data) {
      follow(res.data.rebuildProjection.id);
      refresh();
    }
  };
  const startVerify = async () => {
    const res = await runVerify({});
    if (res.data) {
      follow(res.data.verifyLog.id);
      refresh();
    }
  };

  const columns = useMemo(
    () => [
      column.accessor("jobType", {
        header: "Job",
        cell: (c) => (
          <>
            {jobTypeLabel(c.getValue())}
            <div className="mono muted small">{c.row.original.id}</div>
          </>
        ),
      }),
      column.accessor("status", {
        header: "Status",
        cell: (c) => <StatusBadge status={c.getValue()} />,
      }),
      column.display({
        id: "progress",
        header: "Progress",
        cell: (c) => {
          const j = c.row.original;
          return (
            <ProgressBar
              done={j.progressDone}
              total={progressTotalOf(j)}
              label={`Progress of job ${j.id}`}
              tone={
                j.status === "FAILED"
                  ? "danger"
                  : j.status === "SUCCEEDED"
                    ? "success"
                    : "info"
              }
            />
          );
        },
      }),
      column.accessor("createdAt", {
        header: "Created",
        cell: (c) => <Time value={c.getValue()} />,
      }),
      column.accessor("finishedAt", {
        header: "Finished",
        cell: (c) => <Time value={c.getValue()} empty="—" />,
      }),
      column.display({
        id: "actions",
        header: () => <span className="visually-hidden">Actions</span>,
        cell: (c) => {
          const j = c.row.original;
          const open = followed === j.id;
          return (
            <button
              type="button"
              className="btn btn-small"
              aria-pressed={open}
              aria-label={`${open ? "Showing" : "Show"} job ${j.id}`}
              onClick={() => follow(open ? null : j.id)}
            >
              {open ? "Showing" : isFinished(j.status) ? "Details" : "Follow"}
            </button>
          );
        },
      }),
    ],
    [followed, follow],
  );

  return (
    <>
      <PageHeader
        title="Sync jobs"
        description="Replays, read-model rebuilds and log verifications, newest first."
      >
        <button
          type="button"
          className="btn btn-primary"
          onClick={() => setConfirmRebuild(true)}
          data-testid="rebuild-button"
        >
          Rebuild read models
        </button>
        {canVerify ? (
          <button
            type="button"
            className="btn"
            onClick={startVerify}
            disabled={verify.fetching}
            data-testid="verify-log-button"
          >
            {verify.fetching ? "Starting…" : "Verify whole log"}
          </button>
        ) : null}
      </PageHeader>
      <ErrorNotice error={rebuild.error} title="The rebuild did not start" />
      <ErrorNotice
        error={verify.error}
        title="The verification did not start"
      />

      {followed ? (
        <JobFollow
          key={followed}
          id={followed}
          onClose={() => follow(null)}
          onFinished={refresh}
        />
      ) : null}

      <section aria-labelledby="jobs-list" className="section">
        <h2 id="jobs-list" className="visually-hidden">
          All jobs
        </h2>
        <FilterBar>
          <SelectFilter
            label="Status"
            value={status ?? ""}
            options={JOB_STATUSES.map((s) => ({
              value: s,
              label: humanize(s),
            }))}
            onChange={(v) => {
              pager.reset();
              setParams({ status: v });
            }}
            testId="status-filter"
          />
          <SelectFilter
            label="Type"
            value={jobType}
            options={JOB_TYPES.map((t) => ({
              value: t,
              label: jobTypeLabel(t),
            }))}
            onChange={(v) => {
              pager.reset();
              setParams({ type: v });
            }}
            testId="type-filter"
          />
        </FilterBar>
        <QueryResult result={list} onRetry={refresh}>
          {(data) => (
            <PagedTable
              columns={columns}
              data={jobs}
              getRowId={(j) => j.id}
              caption="Sync jobs"
              rowTestId="job-row"
              rowClassName={(j) =>
                j.id === followed ? "row-selected" : undefined
              }
              empty={
                status || jobType
                  ? "No job matches these filters."
                  : "No sync job has run yet."
              }
              pager={pager}
              pageInfo={data.syncJobs.pageInfo}
              pagerLabel="Sync job pages"
            />
          )}
        </QueryResult>
      </section>

      <ConfirmDialog
        open={confirmRebuild}
        title="Rebuild the read models?"
        confirmLabel="Rebuild"
        busy={rebuild.fetching}
        onConfirm={startRebuild}
        onCancel={() => setConfirmRebuild(false)}
      >
        <p>
          Every read model is rebuilt from the whole log into shadow tables,
          then swapped in at once (blue/green). Reads keep answering from the
          current tables meanwhile; on a large log this takes a while.
        </p>
      </ConfirmDialog>
    </>
  );
}
