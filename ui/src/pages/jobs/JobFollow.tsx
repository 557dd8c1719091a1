import { useEffect, useRef } from "react";
import { useQuery } from "urql";
import { ErrorNotice } from "../../components/ErrorNotice";
import { JsonView } from "../../components/JsonView";
import { Loading } from "../../components/Loading";
import { ProgressBar } from "../../components/ProgressBar";
import { StatusBadge } from "../../components/StatusBadge";
import { Time } from "../../components/Time";
import { formatDuration } from "../../lib/format";
import { usePolling } from "../../lib/live";
import { SYNC_JOB } from "./queries";
import { isFinished, jobTypeLabel, progressTotalOf } from "./jobs";

const FOLLOW_MS = 1000;

/**
 * One job, followed live: polls `syncJob(id)` every second until it has
 * finished, then calls `onFinished` once.
 */
export function JobFollow(props: {
  id: string;
  onClose: () => void;
  onFinished: () => void;
}) {
  const [result, reexecute] = useQuery({
    query: SYNC_JOB,
    variables: { id: props.id },
    requestPolicy: "network-only",
  });
  const job = result.data?.syncJob;
  const finished = job ? isFinished(job.status) : false;
  usePolling(
    () => reexecute({ requestPolicy: "network-only" }),
    finished || (result.error && !job) ? null : FOLLOW_MS,
  );

  const onFinished = useRef(props.onFinished);
  useEffect(() => {
    onFinished.current = props.onFinished;
  });
  const reported = useRef<string | null>(null);
  useEffect(() => {
    if (finished && job && reported.current !== job.id) {
      reported.current = job.id;
      onFinished.current();
    }
  }, [finished, job]);

  const heading = job ? `${jobTypeLabel(job.jobType)}` : "Sync job";
  return (
    <section
      className="card job-follow"
      aria-labelledby="job-follow-title"
      data-testid="job-follow"
    >
      <div className="job-card-head">
        <h2 id="job-follow-title">
          {heading} <span className="mono muted small">{props.id}</span>
        </h2>
        <button type="button" className="btn btn-small" onClick={props.onClose}>
          Close
        </button>
      </div>
      {result.error && !job ? <ErrorNotice error={result.error} /> : null}
      {!job && !result.error ? <Loading /> : null}
      {job ? (
        <>
          <div className="job-follow-status">
            <span data-testid="job-status" aria-live="polite">
              <StatusBadge status={job.status} />
            </span>
            {finished ? null : (
              <span className="muted small">following live</span>
            )}
          </div>
          <ProgressBar
            done={job.progressDone}
            total={progressTotalOf(job)}
            label={`Progress of ${heading.toLowerCase()} ${job.id}`}
            testId="job-progress"
            tone={
              job.status === "FAILED"
                ? "danger"
                : job.status === "SUCCEEDED"
                  ? "success"
                  : "info"
            }
          />
          {job.error ? (
            <div
              className={`notice ${job.status === "FAILED" ? "notice-error" : "notice-warning"}`}
              role="alert"
              data-testid="job-error"
            >
              <p>
                <strong>
                  {job.status === "FAILED" ? "Failed: " : "Stopped: "}
                </strong>
                {job.error}
              </p>
            </div>
          ) : null}
          {result.error ? (
            <ErrorNotice error={result.error} title="The last refresh failed" />
          ) : null}
          <dl className="props">
            <dt>Created</dt>
            <dd>
              <Time value={job.createdAt} />
            </dd>
            <dt>Started</dt>
            <dd>
              <Time value={job.startedAt} empty="not yet" />
            </dd>
            <dt>Finished</dt>
            <dd>
              <Time value={job.finishedAt} empty="not yet" />
              {job.startedAt && job.finishedAt
                ? ` (took ${formatDuration(Date.parse(job.finishedAt) - Date.parse(job.startedAt))})`
                : null}
            </dd>
            <dt>Parameters</dt>
            <dd>
              <JsonView value={job.parameters} label="Job parameters" />
            </dd>
          </dl>
        </>
      ) : null}
    </section>
  );
}
