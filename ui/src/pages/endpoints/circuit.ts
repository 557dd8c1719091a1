/** Circuit-breaker and success-rate presentation of an endpoint. */

export interface CircuitFields {
  status: string;
  disabledReason?: string | null;
  failingSince?: string | null;
  failedAttempts?: number | null;
}

export type CircuitState =
  | { kind: "healthy" }
  | { kind: "failing"; since: string; attempts: number }
  | { kind: "open" } // disabled by the circuit breaker
  | { kind: "none" }; // deleted: no circuit to speak of

export function circuitState(e: CircuitFields): CircuitState {
  if (e.status === "DELETED") return { kind: "none" };
  if (e.status === "DISABLED" && e.disabledReason === "circuit_breaker")
    return { kind: "open" };
  if (e.failingSince)
    return {
      kind: "failing",
      since: e.failingSince,
      attempts: e.failedAttempts ?? 0,
    };
  return { kind: "healthy" };
}

/** "97.5 %", "100 %", "—" for null (no deliveries finished in the last 24 h). */
export function formatSuccessRate(rate: number | null | undefined): string {
  if (rate == null || Number.isNaN(rate)) return "—";
  const pct = rate * 100;
  if (pct === 100 || pct === 0) return `${pct.toFixed(0)} %`;
  // Never round 99.96 up to "100 %", nor 0.04 down to "0 %".
  if (pct >= 99.95) return "> 99.9 %";
  if (pct < 0.05) return "< 0.1 %";
  return `${pct.toFixed(1)} %`;
}

export type RateTone = "good" | "warn" | "bad" | "none";
export function successRateTone(rate: number | null | undefined): RateTone {
  if (rate == null) return "none";
  if (rate >= 0.99) return "good";
  if (rate >= 0.9) return "warn";
  return "bad";
}

export const DISABLED_REASON_LABEL: Record<string, string> = {
  manual: "disabled by an operator",
  circuit_breaker: "disabled by the circuit breaker",
  gone: "endpoint answered 410 Gone",
};
