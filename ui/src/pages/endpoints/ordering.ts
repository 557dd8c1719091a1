import { graphql } from "../../gql";
import type {
  HeadOfLineRule,
  OrderingInput,
  OrderingMode,
} from "../../gql/graphql";

export const ENDPOINT_ORDERING_QUERY = graphql(`
  query EndpointOrdering($id: ID!) {
    endpointOrdering(id: $id) {
      endpointId
      mode
      keyPath
      onDeadLetter
      blockedKeys {
        key
        since
        deliveryId
        eventId
        waiting
      }
    }
  }
`);

export const SET_ENDPOINT_ORDERING = graphql(`
  mutation SetEndpointOrdering($id: ID!, $ordering: OrderingInput!) {
    setEndpointOrdering(id: $id, ordering: $ordering) {
      endpointId
      mode
      keyPath
      onDeadLetter
      blockedKeys {
        key
        since
        deliveryId
        eventId
        waiting
      }
    }
  }
`);

export const SKIP_BLOCKED_DELIVERY = graphql(`
  mutation SkipBlockedDelivery($deliveryId: ID!, $reason: String) {
    skipBlockedDelivery(deliveryId: $deliveryId, reason: $reason) {
      endpointId
      mode
      keyPath
      onDeadLetter
      blockedKeys {
        key
        since
        deliveryId
        eventId
        waiting
      }
    }
  }
`);

/** What the ordering form holds (strings, as the controls give them). */
export interface OrderingFormState {
  mode: OrderingMode;
  keyPath: string;
  onDeadLetter: HeadOfLineRule;
}

export const ORDERING_MODES: { value: OrderingMode; label: string }[] = [
  { value: "NONE", label: "None (parallel)" },
  { value: "ENDPOINT", label: "Endpoint" },
  { value: "KEY", label: "Per key" },
];

export const DEAD_LETTER_RULES: { value: HeadOfLineRule; label: string }[] = [
  { value: "BLOCKS", label: "Blocks" },
  { value: "SKIPS", label: "Skips" },
];

/** The form's state for an ordering read from the server (or the default). */
export function orderingFormState(
  o:
    | {
        mode: OrderingMode;
        keyPath?: string | null;
        onDeadLetter?: HeadOfLineRule | null;
      }
    | null
    | undefined,
): OrderingFormState {
  return {
    mode: o?.mode ?? "NONE",
    keyPath: o?.keyPath ?? "",
    onDeadLetter: o?.onDeadLetter ?? "BLOCKS",
  };
}

/**
 * The `OrderingInput` for a form state: the key path only for `KEY` (trimmed),
 * the dead-letter rule only for an ordered mode.
 */
export function orderingInput(f: OrderingFormState): OrderingInput {
  if (f.mode === "NONE") return { mode: f.mode };
  if (f.mode === "KEY") {
    return {
      mode: f.mode,
      keyPath: f.keyPath.trim(),
      onDeadLetter: f.onDeadLetter,
    };
  }
  return { mode: f.mode, onDeadLetter: f.onDeadLetter };
}

/** Why the form cannot be sent yet, or null. */
export function orderingFormProblem(f: OrderingFormState): string | null {
  if (f.mode === "KEY" && f.keyPath.trim() === "") {
    return "Key ordering needs a key path, e.g. .payload.customer_id";
  }
  if (f.mode === "KEY" && !f.keyPath.trim().startsWith(".")) {
    return "A key path starts with a dot, e.g. .payload.customer_id";
  }
  return null;
}

/** Whether the form differs from the ordering in force. */
export function orderingChanged(
  f: OrderingFormState,
  current: OrderingFormState,
): boolean {
  const a = orderingInput(f);
  const b = orderingInput(current);
  return (
    a.mode !== b.mode ||
    (a.keyPath ?? null) !== (b.keyPath ?? null) ||
    (a.onDeadLetter ?? null) !== (b.onDeadLetter ?? null)
  );
}

/** A one-line description of an ordering, e.g. "key .payload.id". */
export function describeOrdering(o: {
  mode: OrderingMode;
  keyPath?: string | null;
}): string {
  switch (o.mode) {
    case "ENDPOINT":
      return "endpoint: one at a time, in the order of their events";
    case "KEY":
      return `key ${o.keyPath ?? "?"}: one at a time per key, keys in parallel`;
    default:
      return "none: in parallel";
  }
}
