import { Link } from "wouter";
import { StatusBadge } from "../../components/StatusBadge";
import { Time } from "../../components/Time";
import type { DeliveryWithAttemptsFragment } from "../../gql/graphql";
import { AttemptsTimeline } from "./AttemptsTimeline";
import { EndpointLabel, type EndpointNames } from "./endpoints";
import { isInFlight, isRequeueable, statusAttr } from "./logic";
import { RequeueButton } from "./RequeueButton";

/**
 * One delivery of an event: its endpoint, status and last response, a Requeue
 * button when it can be requeued, and its attempts timeline.
 */
export function DeliveryCard(props: {
  delivery: DeliveryWithAttemptsFragment;
  names: EndpointNames;
  onRequeued?: () => void;
}) {
  const d = props.delivery;
  return (
    <section
      className="card delivery-card"
      data-testid="delivery-row"
      data-status={statusAttr(d.status)}
      data-delivery-id={d.id}
      aria-label={`Delivery ${d.id}`}
    >
      <div className="delivery-card-head">
        <div className="delivery-card-title">
          <EndpointLabel id={d.endpointId} names={props.names} />
          <StatusBadge status={d.status} />
        </div>
        <div className="delivery-card-actions">
          <Link href={`/deliveries/${d.id}`} className="btn btn-small">
            Details
          </Link>
          {isRequeueable(d.status) ? (
            <RequeueButton
              deliveryId={d.id}
              small
              onRequeued={props.onRequeued}
            />
          ) : null}
        </div>
      </div>
      <dl className="delivery-facts">
        <div>
          <dt>Attempts</dt>
          <dd>{d.attemptCount}</dd>
        </div>
        <div>
          <dt>Last response</dt>
          <dd>
            {d.responseCode ?? (d.lastError ? "—" : "none yet")}
            {d.lastError ? (
              <span className="muted"> ({d.lastError})</span>
            ) : null}
          </dd>
        </div>
        {isInFlight(d.status) ? (
          <div>
            <dt>Next attempt</dt>
            <dd>
              <Time value={d.nextAttemptAt} relative empty="due now" />
            </dd>
          </div>
        ) : null}
        <div>
          <dt>Mapping</dt>
          <dd>{d.mappingVersion != null ? `v${d.mappingVersion}` : "—"}</dd>
        </div>
        <div>
          <dt>Webhook id</dt>
          <dd className="mono">msg_{d.id}</dd>
        </div>
      </dl>
      <details className="delivery-attempts" open>
        <summary>
          Attempts timeline ({d.attempts.length}{" "}
          {d.attempts.length === 1 ? "attempt" : "attempts"})
        </summary>
        <AttemptsTimeline
          attempts={d.attempts}
          status={d.status}
          nextAttemptAt={d.nextAttemptAt}
          createdAt={d.createdAt}
          updatedAt={d.updatedAt}
        />
      </details>
    </section>
  );
}
