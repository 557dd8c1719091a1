import { Time } from "../../components/Time";
import type {
  DeliveryStatus,
  DeliveryWithAttemptsFragment,
} from "../../gql/graphql";
import { formatDuration } from "../../lib/format";
import { describeAttempt, gapMs } from "./logic";

type Attempt = DeliveryWithAttemptsFragment["attempts"][number];

/**
 * A delivery's attempts, oldest first: number, outcome, status code, duration,
 * response excerpt and time, then where the delivery stands now.
 */
export function AttemptsTimeline(props: {
  attempts: readonly Attempt[];
  status: DeliveryStatus;
  nextAttemptAt: string | null | undefined;
  updatedAt: string;
  createdAt: string;
}) {
  const attempts = [...props.attempts].sort((a, b) => a.number - b.number);
  return (
    <ol className="timeline" aria-label="Attempts">
      <li className="timeline-item timeline-neutral">
        <span className="timeline-dot" aria-hidden="true" />
        <div className="timeline-body">
          <span className="timeline-title">Scheduled</span>{" "}
          <Time value={props.createdAt} />
        </div>
      </li>
      {attempts.map((a, i) => {
        const { label, tone } = describeAttempt(a);
        const gap = gapMs(
          i === 0 ? props.createdAt : attempts[i - 1]!.attemptedAt,
          a.attemptedAt,
        );
        return (
          <li
            key={a.sequence}
            className={`timeline-item timeline-${tone}`}
            data-testid="attempt"
            data-outcome={a.outcome.toLowerCase()}
          >
            <span className="timeline-dot" aria-hidden="true" />
            <div className="timeline-body">
              <div className="timeline-head">
                <span className="timeline-title">Attempt {a.number}</span>
                <span className={`badge badge-${tone}`}>{label}</span>
                <span className="muted">{formatDuration(a.durationMs)}</span>
                <Time value={a.attemptedAt} />
                {gap != null && gap >= 0 ? (
                  <span
                    className="muted timeline-gap"
                    title={
                      i === 0
                        ? "since the delivery was scheduled"
                        : "since the previous attempt"
                    }
                  >
                    +{formatDuration(gap)}
                  </span>
                ) : null}
              </div>
              {a.message ? (
                <p className="timeline-message">{a.message}</p>
              ) : null}
              {a.responseExcerpt ? (
                <details className="timeline-excerpt">
                  <summary>Response ({a.responseExcerpt.length} chars)</summary>
                  <pre>{a.responseExcerpt}</pre>
                </details>
              ) : null}
            </div>
          </li>
        );
      })}
      <NowItem {...props} />
    </ol>
  );
}

function NowItem(props: {
  status: DeliveryStatus;
  nextAttemptAt: string | null | undefined;
  updatedAt: string;
}) {
  switch (props.status) {
    case "PENDING":
    case "RETRYING":
      return (
        <li className="timeline-item timeline-info timeline-now">
          <span className="timeline-dot" aria-hidden="true" />
          <div className="timeline-body">
            <span className="timeline-title">Next attempt</span>{" "}
            {props.nextAttemptAt ? (
              <Time value={props.nextAttemptAt} relative />
            ) : (
              <span className="muted">due now</span>
            )}
          </div>
        </li>
      );
    case "SUCCEEDED":
      return (
        <li className="timeline-item timeline-success timeline-now">
          <span className="timeline-dot" aria-hidden="true" />
          <div className="timeline-body">
            <span className="timeline-title">Delivered</span>{" "}
            <Time value={props.updatedAt} />
          </div>
        </li>
      );
    case "DEAD_LETTERED":
      return (
        <li className="timeline-item timeline-danger timeline-now">
          <span className="timeline-dot" aria-hidden="true" />
          <div className="timeline-body">
            <span className="timeline-title">Dead-lettered</span>{" "}
            <Time value={props.updatedAt} />
          </div>
        </li>
      );
    case "CANCELLED":
      return (
        <li className="timeline-item timeline-neutral timeline-now">
          <span className="timeline-dot" aria-hidden="true" />
          <div className="timeline-body">
            <span className="timeline-title">Cancelled</span>{" "}
            <Time value={props.updatedAt} />
          </div>
        </li>
      );
    default:
      return null;
  }
}
