import { useCallback, useMemo, useState } from "react";
import { useQuery } from "urql";
import { Link } from "wouter";
import { CopyButton } from "../../components/CopyButton";
import { Empty } from "../../components/Empty";
import { ErrorNotice } from "../../components/ErrorNotice";
import { JsonView } from "../../components/JsonView";
import { Loading } from "../../components/Loading";
import { PageHeader } from "../../components/PageHeader";
import { StatusBadge } from "../../components/StatusBadge";
import { Time } from "../../components/Time";
import { usePolling } from "../../lib/live";
import { usePageTitle } from "../../lib/page";
import { useCan } from "../../lib/session";
import { DeliveryCard } from "../deliveries/DeliveryCard";
import { useEndpointNames } from "../deliveries/endpoints";
import { isInFlight, sortDeliveries } from "../deliveries/logic";
import "../deliveries/deliveries.css";
import { EVENT_DETAIL_QUERY } from "./operations";
import { hasQuotedIntegers } from "../../lib/losslessJson";
import { RoutingDecision } from "./RoutingDecision";
import { useLosslessContext } from "../../lib/useLosslessContext";

/** Poll this often while something is still moving (routing, a delivery in flight). */
const BUSY_POLL_MS = 2000;
/** Otherwise, now and then (a requeue from elsewhere, the read models catching up). */
const IDLE_POLL_MS = 15000;
/** After a requeue, poll fast this long even if the read models still say dead-lettered. */
const AFTER_REQUEUE_MS = 15000;

/** `/events/:id`: the event, its payload, routing decision and deliveries. */
export function EventDetail(props: { id: string }) {
  usePageTitle("Event");
  const canDeliveries = useCan("deliveries:read");
  const canAudit = useCan("audit:read");
  const context = useLosslessContext();
  const [{ data, fetching, error }, reexecute] = useQuery({
    query: EVENT_DETAIL_QUERY,
    variables: { id: props.id, withDeliveries: canDeliveries },
    context,
  });
  const names = useEndpointNames();
  const [busyUntil, setBusyUntil] = useState(0);
  const [polls, setPolls] = useState(0);
  const [lastPoll, setLastPoll] = useState(0);

  const event = data?.event;
  const deliveries = useMemo(
    () => sortDeliveries(event?.deliveries ?? []),
    [event?.deliveries],
  );
  const moving =
    !!event &&
    (event.status === "RECEIVED" ||
      (event.status === "ROUTED" && deliveries.length === 0) ||
      deliveries.some((d) => isInFlight(d.status)));
  const refresh = useCallback(() => {
    reexecute({ requestPolicy: "network-only" });
    setPolls((n) => n + 1);
    setLastPoll(Date.now());
  }, [reexecute]);
  usePolling(
    refresh,
    error && !data
      ? null
      : moving || lastPoll < busyUntil
        ? BUSY_POLL_MS
        : IDLE_POLL_MS,
  );
  const onRequeued = useCallback(() => {
    const now = Date.now();
    setLastPoll(now);
    setBusyUntil(now + AFTER_REQUEUE_MS);
    refresh();
  }, [refresh]);

  if (!data && fetching) return <Loading label="Loading the event…" />;
  if (!event) {
    return (
      <>
        <PageHeader title="Event" />
        <p>
          <Link href="/events">← Events</Link>
        </p>
        <ErrorNotice error={error} onRetry={refresh} />
      </>
    );
  }

  return (
    <>
      <p className="breadcrumb">
        <Link href="/events">← Events</Link>
      </p>
      <PageHeader
        title={event.eventType}
        description={
          <>
            from <strong>{event.sourceSystem}</strong>, key{" "}
            <code>{event.eventKey}</code>
          </>
        }
      >
        <div className="header-status">
          <StatusBadge status={event.status} testId="event-status" />
          {moving ? (
            <span className="live-note" role="status">
              <span className="spinner" aria-hidden="true" /> updating live
            </span>
          ) : null}
        </div>
      </PageHeader>
      {error ? <ErrorNotice error={error} onRetry={refresh} /> : null}

      <div className="detail-grid">
        <section className="card" aria-labelledby="event-facts-title">
          <h2 id="event-facts-title">Event</h2>
          <dl className="props">
            <dt>Id</dt>
            <dd>
              <span className="mono">{event.id}</span>{" "}
              <CopyButton text={event.id} label="Copy id" />
            </dd>
            <dt>Type</dt>
            <dd>{event.eventType}</dd>
            <dt>Source system</dt>
            <dd>{event.sourceSystem}</dd>
            <dt>Event key</dt>
            <dd className="mono">{event.eventKey}</dd>
            <dt>Channel</dt>
            <dd>{event.channel}</dd>
            <dt>Status</dt>
            <dd>
              <StatusBadge status={event.status} />
            </dd>
            <dt>Received</dt>
            <dd>
              <Time value={event.createdAt} />
            </dd>
            <dt>Last change</dt>
            <dd>
              <Time value={event.updatedAt} />
            </dd>
          </dl>
        </section>
        <section className="card" aria-labelledby="event-payload-title">
          <div className="section-head">
            <h2 id="event-payload-title">Payload</h2>
            <CopyButton
              text={JSON.stringify(event.payload, null, 2)}
              label="Copy JSON"
            />
          </div>
          <JsonView value={event.payload} label="Payload" openDepth={2} />
          {hasQuotedIntegers(event.payload) ? (
            <p className="muted small-note">
              Integers too large for a JavaScript number are shown as strings,
              so that no digit is lost.
            </p>
          ) : null}
        </section>
      </div>

      {canAudit ? (
        <RoutingDecision
          sourceSystem={event.sourceSystem}
          eventKey={event.eventKey}
          eventType={event.eventType}
          names={names}
          refreshKey={polls}
        />
      ) : null}

      {canDeliveries ? (
        <section
          aria-labelledby="event-deliveries-title"
          className="deliveries-section"
        >
          <div className="section-head">
            <h2 id="event-deliveries-title">
              Deliveries <span className="muted">({deliveries.length})</span>
            </h2>
            {deliveries.length > 0 ? (
              <Link
                href={`/deliveries?eventId=${event.id}`}
                className="btn btn-small"
              >
                In the deliveries list
              </Link>
            ) : null}
          </div>
          {deliveries.length === 0 ? (
            <Empty>
              {event.status === "UNROUTABLE"
                ? "No deliveries: no endpoint was subscribed to this event."
                : event.status === "RECEIVED" || event.status === "ROUTED"
                  ? "No deliveries yet: the event is being routed."
                  : "No deliveries."}
            </Empty>
          ) : (
            <div className="delivery-list">
              {deliveries.map((d) => (
                <DeliveryCard
                  key={d.id}
                  delivery={d}
                  names={names}
                  onRequeued={onRequeued}
                />
              ))}
            </div>
          )}
        </section>
      ) : (
        <p className="muted">
          Its deliveries are shown to keys with the deliveries:read scope.
        </p>
      )}
    </>
  );
}
