import { useCallback, useState } from "react";
import { useQuery } from "urql";
import { Link } from "wouter";
import { CopyButton } from "../../components/CopyButton";
import { ErrorNotice } from "../../components/ErrorNotice";
import { Loading } from "../../components/Loading";
import { PageHeader } from "../../components/PageHeader";
import { StatusBadge } from "../../components/StatusBadge";
import { Time } from "../../components/Time";
import { usePolling } from "../../lib/live";
import { usePageTitle } from "../../lib/page";
import { useCan } from "../../lib/session";
import { auditHref } from "../events/RoutingDecision";
import { AttemptsTimeline } from "./AttemptsTimeline";
import { EndpointLabel, useEndpointNames } from "./endpoints";
import { isInFlight, isRequeueable, statusAttr } from "./logic";
import {
  DELIVERY_DEAD_LETTERS_QUERY,
  DELIVERY_DETAIL_QUERY,
} from "./operations";
import { RequeueButton } from "./RequeueButton";

const BUSY_POLL_MS = 2000;
const IDLE_POLL_MS = 15000;
const AFTER_REQUEUE_MS = 15000;

/** `/deliveries/:id`: one delivery, its attempts timeline and its dead letters. */
export function DeliveryDetail(props: { id: string }) {
  usePageTitle("Delivery");
  const canAudit = useCan("audit:read");
  const [{ data, fetching, error }, reexecute] = useQuery({
    query: DELIVERY_DETAIL_QUERY,
    variables: { id: props.id },
  });
  const d = data?.delivery;
  const [dl, reexecuteDl] = useQuery({
    query: DELIVERY_DEAD_LETTERS_QUERY,
    variables: { eventId: d?.eventId ?? "" },
    pause: !d,
  });
  const names = useEndpointNames();
  const [busyUntil, setBusyUntil] = useState(0);
  const [tick, setTick] = useState(0);
  const refresh = useCallback(() => {
    reexecute({ requestPolicy: "network-only" });
    reexecuteDl({ requestPolicy: "network-only" });
    setTick(Date.now());
  }, [reexecute, reexecuteDl]);
  const moving = !!d && (isInFlight(d.status) || tick < busyUntil);
  usePolling(
    refresh,
    error && !data ? null : moving ? BUSY_POLL_MS : IDLE_POLL_MS,
  );
  const onRequeued = useCallback(() => {
    const t = Date.now();
    setTick(t);
    setBusyUntil(t + AFTER_REQUEUE_MS);
    refresh();
  }, [refresh]);

  if (!data && fetching) return <Loading label="Loading the delivery…" />;
  if (!d) {
    return (
      <>
        <PageHeader title="Delivery" />
        <p>
          <Link href="/deliveries">← Deliveries</Link>
        </p>
        <ErrorNotice error={error} onRetry={refresh} />
      </>
    );
  }
  const deadLetters =
    dl.data?.deadLetters.nodes.filter((x) => x.deliveryId === d.id) ?? [];
  const endpoint = names.get(d.endpointId);

  return (
    <>
      <p className="breadcrumb">
        <Link href="/deliveries">← Deliveries</Link>
      </p>
      <PageHeader
        title={`Delivery to ${endpoint?.systemName ?? `endpoint ${d.endpointId}`}`}
        description={
          <>
            of event <Link href={`/events/${d.eventId}`}>{d.eventId}</Link>
          </>
        }
      >
        <div className="header-status">
          <span data-testid="delivery-row" data-status={statusAttr(d.status)}>
            <StatusBadge status={d.status} testId="delivery-status" />
          </span>
          {isInFlight(d.status) ? (
            <span className="live-note" role="status">
              <span className="spinner" aria-hidden="true" /> updating live
            </span>
          ) : null}
          {isRequeueable(d.status) ? (
            <RequeueButton deliveryId={d.id} onRequeued={onRequeued} />
          ) : null}
        </div>
      </PageHeader>
      {error ? <ErrorNotice error={error} onRetry={refresh} /> : null}

      <div className="detail-grid">
        <section className="card" aria-labelledby="delivery-facts-title">
          <div className="section-head">
            <h2 id="delivery-facts-title">Delivery</h2>
            {canAudit ? (
              <Link
                href={auditHref("Delivery", `${d.eventId}:${d.endpointId}`)}
                className="btn btn-small"
              >
                Stream in the audit log
              </Link>
            ) : null}
          </div>
          <dl className="props">
            <dt>Id</dt>
            <dd>
              <span className="mono">{d.id}</span>{" "}
              <CopyButton text={d.id} label="Copy id" />
            </dd>
            <dt>Webhook id</dt>
            <dd className="mono">msg_{d.id}</dd>
            <dt>Event</dt>
            <dd>
              <Link href={`/events/${d.eventId}`} className="mono">
                {d.eventId}
              </Link>{" "}
              <span className="muted">
                received <Time value={d.eventCreatedAt} />
              </span>
            </dd>
            <dt>Endpoint</dt>
            <dd>
              <EndpointLabel id={d.endpointId} names={names} />
              {endpoint ? (
                <span className="muted break"> {endpoint.url}</span>
              ) : null}
            </dd>
            <dt>Mapping</dt>
            <dd>
              {d.mappingVersion != null ? `version ${d.mappingVersion}` : "—"}
              {d.mappingId ? (
                <span className="muted mono"> ({d.mappingId})</span>
              ) : null}
            </dd>
            <dt>Status</dt>
            <dd>
              <StatusBadge status={d.status} />
            </dd>
            <dt>Attempts</dt>
            <dd>{d.attemptCount}</dd>
            <dt>Last response</dt>
            <dd>
              {d.responseCode ?? "—"}
              {d.lastError ? (
                <span className="muted"> ({d.lastError})</span>
              ) : null}
            </dd>
            <dt>Last attempt</dt>
            <dd>
              <Time value={d.lastAttemptAt} />
            </dd>
            {isInFlight(d.status) ? (
              <>
                <dt>Next attempt</dt>
                <dd>
                  <Time value={d.nextAttemptAt} relative empty="due now" />
                </dd>
              </>
            ) : null}
            <dt>Scheduled</dt>
            <dd>
              <Time value={d.createdAt} />
            </dd>
            <dt>Last change</dt>
            <dd>
              <Time value={d.updatedAt} />
            </dd>
          </dl>
        </section>
        <section className="card" aria-labelledby="delivery-timeline-title">
          <h2 id="delivery-timeline-title">Attempts timeline</h2>
          <AttemptsTimeline
            attempts={d.attempts}
            status={d.status}
            nextAttemptAt={d.nextAttemptAt}
            createdAt={d.createdAt}
            updatedAt={d.updatedAt}
          />
        </section>
      </div>

      <section className="card" aria-labelledby="delivery-dl-title">
        <h2 id="delivery-dl-title">Dead letters</h2>
        {dl.error ? <ErrorNotice error={dl.error} /> : null}
        {!dl.data && dl.fetching ? <Loading /> : null}
        {dl.data && deadLetters.length === 0 ? (
          <p className="muted">This delivery has never been dead-lettered.</p>
        ) : null}
        {deadLetters.length > 0 ? (
          <ul className="dead-letter-history">
            {deadLetters.map((x) => (
              <li key={x.id}>
                <Time value={x.createdAt} />: {x.reason}{" "}
                {x.requeuedAt ? (
                  <span className="muted">
                    (requeued <Time value={x.requeuedAt} />)
                  </span>
                ) : (
                  <StatusBadge status="Open" tone="danger" />
                )}
              </li>
            ))}
          </ul>
        ) : null}
      </section>
    </>
  );
}
