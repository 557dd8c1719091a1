import type { Tone } from "../../components/StatusBadge";
import type {
  AttemptOutcomeKind,
  DeliveryStatus,
  ReplayDeadLettersInput,
} from "../../gql/graphql";
import type { FilterSpec, FilterValues } from "../../lib/urlFilters";

export const DELIVERY_STATUSES = [
  "PENDING",
  "RETRYING",
  "SUCCEEDED",
  "DEAD_LETTERED",
  "CANCELLED",
] as const satisfies readonly DeliveryStatus[];

/** A dead-lettered or cancelled delivery can be put back in the queue. */
export function isRequeueable(status: DeliveryStatus): boolean {
  return status === "DEAD_LETTERED" || status === "CANCELLED";
}

/** Still being worked on: another attempt will come. */
export function isInFlight(status: DeliveryStatus): boolean {
  return status === "PENDING" || status === "RETRYING";
}

/** The `data-status` attribute of a delivery row: `dead_lettered`. */
export function statusAttr(status: string): string {
  return status.toLowerCase();
}

export interface AttemptLike {
  outcome: AttemptOutcomeKind;
  statusCode?: number | null;
  retryAfterSecs?: number | null;
  message?: string | null;
}

/** What an attempt came to, in a few words, and the tone to show it in. */
export function describeAttempt(a: AttemptLike): { label: string; tone: Tone } {
  switch (a.outcome) {
    case "RESPONSE": {
      const code = a.statusCode;
      if (code == null) return { label: "Response", tone: "neutral" };
      const ok = code >= 200 && code < 300;
      const retry =
        a.retryAfterSecs != null ? `, retry after ${a.retryAfterSecs} s` : "";
      return {
        label: `HTTP ${code}${retry}`,
        tone: ok
          ? "success"
          : code === 429 || code >= 500
            ? "warning"
            : "danger",
      };
    }
    case "TIMEOUT":
      return { label: "Timed out", tone: "warning" };
    case "CONNECTION_ERROR":
      return { label: "Connection error", tone: "warning" };
    case "MAPPING_ERROR":
      return { label: "Mapping error (nothing sent)", tone: "danger" };
    default:
      return { label: String(a.outcome), tone: "neutral" };
  }
}

/** Milliseconds between two instants (null when either is missing or invalid). */
export function gapMs(
  from: string | null | undefined,
  to: string | null | undefined,
): number | null {
  if (!from || !to) return null;
  const a = Date.parse(from);
  const b = Date.parse(to);
  return Number.isNaN(a) || Number.isNaN(b) ? null : b - a;
}

// ------------------------------------------------------------------ filters

export const DELIVERY_FILTERS = {
  status: { kind: "enum", values: DELIVERY_STATUSES },
  endpointId: { kind: "id" },
  eventId: { kind: "id" },
  eventType: { kind: "text" },
  system: { kind: "text" },
  responseCode: { kind: "int", min: 100, max: 599 },
  from: { kind: "datetime" },
  to: { kind: "datetime" },
} satisfies FilterSpec;

export const RETRY_FILTERS = {
  endpointId: { kind: "id" },
  dueBefore: { kind: "datetime" },
} satisfies FilterSpec;

export const DEAD_LETTER_FILTERS = {
  endpointId: { kind: "id" },
  eventId: { kind: "id" },
  eventType: { kind: "text" },
  requeued: { kind: "bool" },
  from: { kind: "datetime" },
  to: { kind: "datetime" },
} satisfies FilterSpec;

export type DeadLetterValues = FilterValues<typeof DEAD_LETTER_FILTERS>;

/**
 * The bulk replay of the dead-letter list's filter: `replayDeadLetters` takes
 * the endpoint, the event type and the time range (and only open dead letters).
 * `unsupported` names the criteria it cannot take (the event id): the list and
 * the replay would not match, so the console does not offer it then.
 */
export function replayInputFor(values: DeadLetterValues): {
  input: ReplayDeadLettersInput;
  unsupported: string[];
} {
  const input: ReplayDeadLettersInput = {};
  if (values.endpointId) input.endpointId = values.endpointId;
  if (values.eventType) input.eventType = values.eventType;
  if (values.from) input.from = values.from;
  if (values.to) input.to = values.to;
  const unsupported = values.eventId ? ["eventId"] : [];
  return { input, unsupported };
}

/** Terminal statuses of a sync job. */
export function isJobFinished(status: string): boolean {
  return (
    status === "SUCCEEDED" || status === "FAILED" || status === "CANCELLED"
  );
}

/** Decimal ids (64-bit snowflakes) compared as numbers, without precision loss. */
export function compareIds(a: string, b: string): number {
  return a.length - b.length || (a < b ? -1 : a > b ? 1 : 0);
}

/** Deliveries oldest first, ties by id: a stable order while the page polls. */
export function sortDeliveries<T extends { createdAt: string; id: string }>(
  list: readonly T[],
): T[] {
  return [...list].sort(
    (x, y) =>
      Date.parse(x.createdAt) - Date.parse(y.createdAt) ||
      compareIds(x.id, y.id),
  );
}
