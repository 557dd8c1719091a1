import { humanize } from "../lib/format";

export type Tone = "success" | "danger" | "warning" | "info" | "neutral";

const TONES: Record<string, Tone> = {
  SUCCEEDED: "success",
  DELIVERED: "success",
  ACTIVE: "success",
  ROUTED: "info",
  RUNNING: "info",
  RECEIVED: "neutral",
  PENDING: "warning",
  RETRYING: "warning",
  FAILING: "warning",
  FAILED: "danger",
  DEAD_LETTERED: "danger",
  UNROUTABLE: "danger",
  REVOKED: "neutral",
  DISABLED: "warning",
  DELETED: "neutral",
  CANCELLED: "neutral",
  STOPPED: "danger",
  REBUILDING: "info",
  NOT_STARTED: "neutral",
};

/** The tone a status is shown in. */
export function toneOf(status: string): Tone {
  return TONES[status.toUpperCase().replace(/[\s-]+/g, "_")] ?? "neutral";
}

/** A status as a coloured badge with its name as text. */
export function StatusBadge(props: {
  status: string;
  tone?: Tone;
  testId?: string;
}) {
  return (
    <span
      className={`badge badge-${props.tone ?? toneOf(props.status)}`}
      data-testid={props.testId}
    >
      {humanize(props.status)}
    </span>
  );
}
