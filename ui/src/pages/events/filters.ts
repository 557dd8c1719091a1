import type { EventStatus } from "../../gql/graphql";
import type { FilterSpec } from "../../lib/urlFilters";

export const EVENT_STATUSES = [
  "RECEIVED",
  "ROUTED",
  "UNROUTABLE",
  "DELIVERED",
  "FAILED",
] as const satisfies readonly EventStatus[];

/** The events list's filters: URL keys are the `EventFilter` fields. */
export const EVENT_FILTERS = {
  eventType: { kind: "text" },
  sourceSystem: { kind: "text" },
  status: { kind: "enum", values: EVENT_STATUSES },
  from: { kind: "datetime" },
  to: { kind: "datetime" },
} satisfies FilterSpec;
