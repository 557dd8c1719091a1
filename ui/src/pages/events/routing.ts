/**
 * The routing decision of an integration event, read from its own stream in
 * the log: the `EventRouted` event (which endpoints, which mapping versions) or
 * `EventUnroutable` (no endpoint subscribed).
 */

export interface RoutedDelivery {
  deliveryId: string;
  endpointId: string;
  mappingId: string;
  mappingVersion: number | null;
}

export type RoutingDecision =
  | { kind: "pending" }
  | {
      kind: "routed";
      routedAt: string | null;
      recordedAt: string;
      actor: string | null;
      deliveries: RoutedDelivery[];
    }
  | {
      kind: "unroutable";
      routedAt: string | null;
      recordedAt: string;
      actor: string | null;
    };

export interface StreamEvent {
  sequence: number;
  eventType: string;
  payload: unknown;
  metadata: unknown;
  recordedAt: string;
}

function record(value: unknown): Record<string, unknown> {
  return value !== null && typeof value === "object" && !Array.isArray(value)
    ? (value as Record<string, unknown>)
    : {};
}

/** An id as the log wrote it: a JSON number, or a string when it was too big for one. */
function idOf(value: unknown): string {
  return typeof value === "number" || typeof value === "string"
    ? String(value)
    : "";
}

/** The event's body: payloads are stored tagged, `{"EventRouted": {...}}`. */
function body(event: StreamEvent): Record<string, unknown> {
  const payload = record(event.payload);
  return record(payload[event.eventType] ?? payload);
}

/** The first routing decision in the stream (the router writes one per event). */
export function routingDecision(
  history: readonly StreamEvent[],
): RoutingDecision {
  const event = [...history]
    .sort((a, b) => a.sequence - b.sequence)
    .find(
      (e) => e.eventType === "EventRouted" || e.eventType === "EventUnroutable",
    );
  if (!event) return { kind: "pending" };
  const b = body(event);
  const routedAt = typeof b.routed_at === "string" ? b.routed_at : null;
  const actorValue = record(event.metadata).actor;
  const actor = typeof actorValue === "string" ? actorValue : null;
  if (event.eventType === "EventUnroutable") {
    return {
      kind: "unroutable",
      routedAt,
      recordedAt: event.recordedAt,
      actor,
    };
  }
  const deliveries = (Array.isArray(b.deliveries) ? b.deliveries : []).map(
    (d): RoutedDelivery => {
      const r = record(d);
      const version = Number(r.mapping_version);
      return {
        deliveryId: idOf(r.delivery_id),
        endpointId: idOf(r.endpoint_id),
        mappingId: idOf(r.mapping_id),
        mappingVersion: Number.isFinite(version) ? version : null,
      };
    },
  );
  return {
    kind: "routed",
    routedAt,
    recordedAt: event.recordedAt,
    actor,
    deliveries,
  };
}
