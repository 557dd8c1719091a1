import { useCallback, useEffect, useRef } from "react";
import { useQuery } from "urql";
import { Link } from "wouter";
import { ErrorNotice } from "../../components/ErrorNotice";
import { ProgressBar } from "../../components/ProgressBar";
import { StatusBadge } from "../../components/StatusBadge";
import { Time } from "../../components/Time";
import { usePolling } from "../../lib/live";
import { isJobFinished } from "./logic";
import { SYNC_JOB_QUERY } from "./operations";

const POLL_MS = 1000;

/**
 * A bulk dead-letter replay's progress: reads `syncJob(id)` every second
 * until the job has finished, then calls `onFinished` once.
 */
export function ReplayPanel(props: {
  jobId: string;
  onFinished: () => void;
  onDismiss: () => void;
}) {
  const [{ data, error }, reexecute] = useQuery({
    query: SYNC_JOB_QUERY,
    variables: { id: props.jobId },
    requestPolicy: "network-only",
  });
  const job = data?.syncJob;
  const finished = job ? isJobFinished(job.status) : false;
  const refresh = useCallback(
    () => reexecute({ requestPolicy: "network-only" }),
    [reexecute],
  );
  usePolling(refresh, finished || (error && !data) ? null : POLL_MS);

  const reported = useRef(false);
  const { onFinished } = props;
  useEffect(() => {
    if (finished && !reported.current) {
      reported.current = true;
      onFinished();
    }
  }, [finished, onFinished]);

  const tone =
    job?.status === "SUCCEEDED"
      ? "success"
      : job?.status === "FAILED" || job?.status === "CANCELLED"
        ? "danger"
        : "info";
  return (
    <section
      className="card replay-panel"
      aria-labelledby="replay-title"
      data-testid="replay-panel"
    >
      <div className="replay-panel-head">
        <h2 id="replay-title">
          Dead-letter replay <span className="mono muted">{props.jobId}</span>
        </h2>
        <div className="page-actions">
          <Link href="/jobs" className="btn btn-small">
            Sync jobs
          </Link>
          {finished || error ? (
            <button
              type="button"
              className="btn btn-small"
              onClick={props.onDismiss}
            >
              Dismiss
            </button>
          ) : null}
        </div>
      </div>
      {error ? <ErrorNotice error={error} onRetry={refresh} /> : null}
      {job ? (
        <>
          <ProgressBar
            done={job.progressDone}
            total={job.progressTotal}
            label="Replay progress"
            testId="replay-progress"
            tone={tone}
          />
          <p
            className="muted"
            role="status"
            aria-live="polite"
            data-testid="replay-status"
            data-job-status={job.status.toLowerCase()}
          >
            <StatusBadge status={job.status} />{" "}
            {finished ? (
              job.status === "SUCCEEDED" ? (
                <>
                  Requeued {job.progressDone} of{" "}
                  {job.progressTotal ?? job.progressDone} dead letters; finished{" "}
                  <Time value={job.finishedAt} relative />.
                </>
              ) : (
                <>
                  Stopped after {job.progressDone}
                  {job.error ? `: ${job.error}` : "."}
                </>
              )
            ) : job.progressTotal == null ? (
              "Finding the dead letters to requeue…"
            ) : (
              `Requeueing: ${job.progressDone} of ${job.progressTotal}.`
            )}
          </p>
        </>
      ) : error ? null : (
        <p
          className="muted"
          data-testid="replay-status"
          data-job-status="starting"
        >
          Starting…
        </p>
      )}
    </section>
  );
}
