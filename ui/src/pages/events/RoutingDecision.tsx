import { useEffect, useMemo } from "react";
import { useQuery } from "urql";
import { Link } from "wouter";
import { ErrorNotice } from "../../components/ErrorNotice";
import { Loading } from "../../components/Loading";
import { Time } from "../../components/Time";
import {
  EndpointLabel,
  IdLink,
  type EndpointNames,
} from "../deliveries/endpoints";
import { EVENT_STREAM_QUERY } from "./operations";
import { routingDecision } from "./routing";
import { useLosslessContext } from "../../lib/useLosslessContext";

/** Where the audit page shows a stream. */
export function auditHref(type: string, id: string): string {
  return `/audit?${new URLSearchParams({ type, id }).toString()}`;
}

/**
 * The routing decision recorded in the event's own stream: which endpoints it
 * was routed to with which mapping versions, or that none was subscribed.
 * Needs `audit:read` (the caller renders it only then).
 */
export function RoutingDecision(props: {
  sourceSystem: string;
  eventKey: string;
  eventType: string;
  names: EndpointNames;
  /** Changes when the page polls, to read the stream again until it is routed. */
  refreshKey: number;
}) {
  const streamId = `${props.sourceSystem}:${props.eventKey}`;
  const context = useLosslessContext();
  const [{ data, fetching, error }, reexecute] = useQuery({
    query: EVENT_STREAM_QUERY,
    variables: { aggregateId: streamId },
    context,
  });
  const decision = useMemo(
    () => (data ? routingDecision(data.history) : null),
    [data],
  );
  // Until the router has decided, read the stream again with the page's polls.
  const pending = decision?.kind === "pending";
  useEffect(() => {
    if (pending && props.refreshKey > 0)
      reexecute({ requestPolicy: "network-only" });
  }, [pending, props.refreshKey, reexecute]);

  return (
    <section
      className="card"
      aria-labelledby="routing-title"
      data-testid="routing-decision"
    >
      <div className="section-head">
        <h2 id="routing-title">Routing decision</h2>
        <Link
          href={auditHref("IntegrationEvent", streamId)}
          className="btn btn-small"
        >
          Event stream in the audit log
        </Link>
      </div>
      {error ? <ErrorNotice error={error} /> : null}
      {!data && fetching ? (
        <Loading label="Reading the event's stream…" />
      ) : null}
      {decision?.kind === "pending" ? (
        <p className="muted" data-testid="routing-pending">
          Not routed yet: the router has not reached this event.
        </p>
      ) : null}
      {decision?.kind === "unroutable" ? (
        <p data-testid="routing-unroutable">
          <strong>Unroutable</strong>: no endpoint was subscribed to{" "}
          <code>{props.eventType}</code> when the router reached it (
          <Time value={decision.routedAt ?? decision.recordedAt} />
          ). Publish a mapping for a target system with an endpoint to route
          later events of this type.
        </p>
      ) : null}
      {decision?.kind === "routed" ? (
        <>
          <p>
            Routed to {decision.deliveries.length}{" "}
            {decision.deliveries.length === 1 ? "endpoint" : "endpoints"} at{" "}
            <Time value={decision.routedAt ?? decision.recordedAt} />
            {decision.actor ? (
              <span className="muted"> (by {decision.actor})</span>
            ) : null}
            , each with the mapping version live at the event's place in the
            log.
          </p>
          <div className="table-wrap">
            <table className="table table-stack" data-testid="routing-table">
              <caption className="visually-hidden">Routed deliveries</caption>
              <thead>
                <tr>
                  <th scope="col">Endpoint</th>
                  <th scope="col">Mapping</th>
                  <th scope="col">Delivery</th>
                </tr>
              </thead>
              <tbody>
                {decision.deliveries.map((d) => {
                  const system = props.names.get(d.endpointId)?.systemName;
                  return (
                    <tr
                      key={d.deliveryId || d.endpointId}
                      data-testid="routed-delivery"
                    >
                      <td data-label="Endpoint">
                        <EndpointLabel id={d.endpointId} names={props.names} />
                      </td>
                      <td data-label="Mapping">
                        {system ? (
                          <Link
                            href={`/mappings/${encodeURIComponent(props.eventType)}/${encodeURIComponent(system)}`}
                            title={`mapping version id ${d.mappingId}`}
                          >
                            v{d.mappingVersion ?? "?"}
                          </Link>
                        ) : (
                          <span title={`mapping version id ${d.mappingId}`}>
                            v{d.mappingVersion ?? "?"}
                          </span>
                        )}
                      </td>
                      <td data-label="Delivery">
                        <IdLink
                          href={`/deliveries/${d.deliveryId}`}
                          id={d.deliveryId}
                          kind="Delivery"
                        />
                      </td>
                    </tr>
                  );
                })}
              </tbody>
            </table>
          </div>
        </>
      ) : null}
    </section>
  );
}
