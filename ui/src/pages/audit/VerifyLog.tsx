import { useState } from "react";
import { Link } from "wouter";
import { useMutation, useQuery } from "urql";
import { ErrorNotice } from "../../components/ErrorNotice";
import { ProgressBar } from "../../components/ProgressBar";
import { StatusBadge } from "../../components/StatusBadge";
import { Time } from "../../components/Time";
import { graphql } from "../../gql";
import { usePolling } from "../../lib/live";

const StartVerify = graphql(`
  mutation AuditVerifyLog {
    verifyLog {
      id
      status
    }
  }
`);

const Job = graphql(`
  query AuditVerifyJob($id: ID!) {
    syncJob(id: $id) {
      id
      jobType
      status
      progressDone
      progressTotal
      error
      startedAt
      finishedAt
    }
  }
`);

const TERMINAL = new Set(["SUCCEEDED", "FAILED", "CANCELLED"]);

/**
 * "Verify whole log": starts a `chain_verification` job and follows it to its end
 * with a progress bar. `jobId`/`onJob` keep the job in the page's address.
 */
export function VerifyLog(props: {
  jobId: string | null;
  onJob: (id: string) => void;
}) {
  const [started, start] = useMutation(StartVerify);
  const [startError, setStartError] = useState<unknown>(null);
  const [{ data, error }, refetch] = useQuery({
    query: Job,
    variables: { id: props.jobId ?? "" },
    pause: !props.jobId,
    requestPolicy: "network-only",
  });
  const job =
    props.jobId && data?.syncJob.id === props.jobId ? data.syncJob : null;
  const running = !!props.jobId && (!job || !TERMINAL.has(job.status));
  usePolling(
    () => refetch({ requestPolicy: "network-only" }),
    running ? 500 : null,
  );

  const onStart = async () => {
    setStartError(null);
    const result = await start({});
    if (result.error) setStartError(result.error);
    else if (result.data) props.onJob(result.data.verifyLog.id);
  };

  const tone =
    job?.status === "SUCCEEDED"
      ? "success"
      : job?.status === "FAILED"
        ? "danger"
        : "info";

  return (
    <section className="card audit-verify" aria-label="Whole-log verification">
      <button
        type="button"
        className="btn btn-primary"
        disabled={started.fetching || running}
        onClick={onStart}
      >
        {running ? "Verifying the log…" : "Verify whole log"}
      </button>
      {props.jobId ? null : (
        <p className="muted">
          Recomputes every stream's hash chain and names the first altered
          event, if any.
        </p>
      )}
      <ErrorNotice error={startError} title="Verification not started" />
      {props.jobId ? (
        <div className="audit-verify-job" aria-live="polite">
          {error ? (
            <ErrorNotice error={error} title="Job not available" />
          ) : null}
          <ProgressBar
            done={job?.progressDone ?? 0}
            total={job?.progressTotal}
            label="Whole-log verification"
            testId="verify-progress"
            tone={tone}
          />
          <p>
            <StatusBadge
              status={job?.status ?? "PENDING"}
              testId="verify-status"
            />{" "}
            {job?.status === "SUCCEEDED" ? (
              <>
                Every stream's hash chain is intact
                {job.finishedAt ? (
                  <>
                    {" "}
                    (finished <Time value={job.finishedAt} />)
                  </>
                ) : null}
                .
              </>
            ) : job?.status === "FAILED" ? (
              <span className="audit-verify-error">
                {job.error ?? "The log has been altered."}
              </span>
            ) : job?.status === "CANCELLED" ? (
              "Cancelled."
            ) : (
              "Recomputing every stream's hash chain…"
            )}{" "}
            <Link href="/jobs" className="muted">
              Job {props.jobId}
            </Link>
          </p>
        </div>
      ) : null}
    </section>
  );
}
