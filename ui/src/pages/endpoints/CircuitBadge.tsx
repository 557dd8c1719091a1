import { Time } from "../../components/Time";
import { formatNumber } from "../../lib/format";
import {
  DISABLED_REASON_LABEL,
  circuitState,
  formatSuccessRate,
  successRateTone,
  type CircuitFields,
} from "./circuit";

/** The circuit breaker's view of an endpoint: "healthy", or "failing since …". */
export function CircuitBadge(props: {
  endpoint: CircuitFields;
  testId?: string;
}) {
  const c = circuitState(props.endpoint);
  const testId = props.testId ?? "endpoint-circuit";
  switch (c.kind) {
    case "healthy":
      return (
        <span
          className="badge badge-success"
          data-testid={testId}
          data-circuit="healthy"
        >
          <span aria-hidden="true">✓ </span>healthy
        </span>
      );
    case "failing":
      return (
        <span
          className="badge badge-warning circuit-failing"
          data-testid={testId}
          data-circuit="failing"
        >
          <span>
            <span aria-hidden="true">⚠ </span>failing since
          </span>{" "}
          <Time value={c.since} />
          {c.attempts > 0 ? (
            <span className="circuit-attempts">
              {" "}
              {formatNumber(c.attempts)} failed{" "}
              {c.attempts === 1 ? "attempt" : "attempts"}
            </span>
          ) : null}
        </span>
      );
    case "open":
      return (
        <span
          className="badge badge-danger"
          data-testid={testId}
          data-circuit="open"
        >
          <span aria-hidden="true">✕ </span>circuit open
        </span>
      );
    case "none":
      return (
        <span className="muted" data-testid={testId} data-circuit="none">
          —
        </span>
      );
  }
}

/** Success rate of the endpoint's latest deliveries, with a small bar. */
export function SuccessRate(props: {
  rate: number | null | undefined;
  testId?: string;
}) {
  const tone = successRateTone(props.rate);
  const text = formatSuccessRate(props.rate);
  return (
    <span
      className={`rate rate-${tone}`}
      data-testid={props.testId ?? "endpoint-success-rate"}
      title={props.rate == null ? "No delivery attempted yet" : undefined}
    >
      {props.rate != null ? (
        <span className="rate-bar" aria-hidden="true">
          <span style={{ width: `${Math.round(props.rate * 100)}%` }} />
        </span>
      ) : null}
      <span className="rate-text">{text}</span>
    </span>
  );
}

/** "disabled by the circuit breaker" etc. */
export function disabledReasonText(
  reason: string | null | undefined,
): string | null {
  if (!reason) return null;
  return DISABLED_REASON_LABEL[reason] ?? reason;
}
