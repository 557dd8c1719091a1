import type { AggregateType } from "../../gql/graphql";

/** One aggregate type of the log: its GraphQL enum value, its name in the log and URLs. */
export interface StreamKind {
  value: AggregateType;
  /** As the log names it (`AuditEvent.aggregateType`) and as `/audit?type=` takes it. */
  name: string;
  label: string;
  /** What its stream id looks like. */
  idHint: string;
}

export const STREAM_KINDS: readonly StreamKind[] = [
  {
    value: "INTEGRATION_EVENT",
    name: "IntegrationEvent",
    label: "Integration event",
    idHint: "sourceSystem:eventKey",
  },
  {
    value: "DELIVERY",
    name: "Delivery",
    label: "Delivery",
    idHint: "eventId:endpointId",
  },
  {
    value: "ENDPOINT",
    name: "Endpoint",
    label: "Endpoint",
    idHint: "endpoint id",
  },
  {
    value: "EVENT_MAPPING",
    name: "EventMapping",
    label: "Event mapping",
    idHint: "eventType:targetSystem",
  },
  { value: "API_KEY", name: "ApiKey", label: "API key", idHint: "key id" },
  { value: "SYNC_JOB", name: "SyncJob", label: "Sync job", idHint: "job id" },
];

/**
 * The kind a URL or the log names: `Delivery`, `DELIVERY`, `delivery` and
 * `sync_job` all work. Null for anything else.
 */
export function streamKind(name: string | null | undefined): StreamKind | null {
  if (!name) return null;
  const flat = name.replace(/[\s_-]+/g, "").toLowerCase();
  return STREAM_KINDS.find((k) => k.name.toLowerCase() === flat) ?? null;
}

/** The console's address of a stream's page: `/audit?type=Delivery&id=1:2`. */
export function streamHref(type: string, id: string): string {
  const kind = streamKind(type);
  const params = new URLSearchParams({ type: kind?.name ?? type, id });
  return `/audit?${params.toString()}`;
}

/** Links from a stream to the console's pages of what it is about. */
export function relatedLinks(
  kind: StreamKind,
  id: string,
): { href: string; label: string }[] {
  const digits = /^\d+$/;
  switch (kind.value) {
    case "DELIVERY": {
      const [eventId, endpointId] = id.split(":");
      const links = [];
      if (eventId && digits.test(eventId))
        links.push({ href: `/events/${eventId}`, label: "Event" });
      if (endpointId && digits.test(endpointId)) {
        links.push({ href: `/endpoints/${endpointId}`, label: "Endpoint" });
      }
      return links;
    }
    case "ENDPOINT":
      return digits.test(id)
        ? [{ href: `/endpoints/${id}`, label: "Endpoint" }]
        : [];
    case "EVENT_MAPPING": {
      const at = id.lastIndexOf(":");
      if (at <= 0 || at === id.length - 1) return [];
      const eventType = encodeURIComponent(id.slice(0, at));
      const system = encodeURIComponent(id.slice(at + 1));
      return [{ href: `/mappings/${eventType}/${system}`, label: "Mapping" }];
    }
    default:
      return [];
  }
}

/** What a JSON metadata object says about who and which request made an event. */
export function metadataOf(metadata: unknown): {
  actor: string | null;
  requestId: string | null;
  correlationId: string | null;
  causationId: string | null;
} {
  const m =
    metadata && typeof metadata === "object"
      ? (metadata as Record<string, unknown>)
      : {};
  const text = (v: unknown) =>
    typeof v === "string" && v ? v : typeof v === "number" ? String(v) : null;
  return {
    actor: text(m.actor),
    requestId: text(m.request_id),
    correlationId: text(m.correlation_id),
    causationId: text(m.causation_id),
  };
}

/**
 * `datetime-local` value (local time, with or without seconds) to an RFC 3339
 * instant in UTC; null when it is not a time.
 */
export function localInputToInstant(value: string): string | null {
  if (!/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d+)?)?$/.test(value))
    return null;
  const d = new Date(value);
  return Number.isNaN(d.getTime()) ? null : d.toISOString();
}

/** An instant as a `datetime-local` value in local time, to the second. */
export function instantToLocalInput(value: string | Date): string {
  const d = value instanceof Date ? value : new Date(value);
  const p = (n: number) => String(n).padStart(2, "0");
  return (
    `${d.getFullYear()}-${p(d.getMonth() + 1)}-${p(d.getDate())}` +
    `T${p(d.getHours())}:${p(d.getMinutes())}:${p(d.getSeconds())}`
  );
}

/**
 * The events `stateAt(recordedAt of event k)` applies: all recorded at or before
 * that instant, which includes later events of the same transaction (they share
 * its time). Answers the last sequence included.
 */
export function lastSequenceAt(
  events: readonly { sequence: number; recordedAt: string }[],
  k: number,
): number {
  const at = events.find((e) => e.sequence === k)?.recordedAt;
  if (at == null) return k;
  const t = microseconds(at);
  let last = k;
  for (const e of events) {
    if (microseconds(e.recordedAt) <= t) last = Math.max(last, e.sequence);
  }
  return last;
}

/**
 * An RFC 3339 time in microseconds since the epoch (a JavaScript Date keeps
 * milliseconds only; the log records microseconds).
 */
export function microseconds(value: string): number {
  const m = /^(.*T\d{2}:\d{2}:\d{2})(?:\.(\d+))?(.*)$/.exec(value);
  if (!m) return Date.parse(value) * 1000;
  const whole = Date.parse(`${m[1]}${m[3]}`);
  const fraction = Number((m[2] ?? "").padEnd(6, "0").slice(0, 6));
  return whole * 1000 + fraction;
}

/** The last sequence recorded at or before `instant` (0: none yet). */
export function lastSequenceBefore(
  events: readonly { sequence: number; recordedAt: string }[],
  instant: string,
): number {
  const t = microseconds(instant);
  let last = 0;
  for (const e of events) {
    if (microseconds(e.recordedAt) <= t) last = Math.max(last, e.sequence);
  }
  return last;
}

/** Where the time travel stands: after the stream's event `k`, or at an instant. */
export type Travel =
  { mode: "event"; k: number } | { mode: "instant"; local: string };

/**
 * The last event the state at `travel` includes: after event k, those of its
 * transaction too; at an instant (local `datetime-local` value), every event
 * recorded by then. Null for no valid instant.
 */
export function appliedThrough(
  events: readonly { sequence: number; recordedAt: string }[],
  travel: Travel,
): number | null {
  if (travel.mode === "event") return lastSequenceAt(events, travel.k);
  const at = localInputToInstant(travel.local);
  return at == null ? null : lastSequenceBefore(events, at);
}
