/** Parsing and formatting of an endpoint's retry schedule (delays in seconds). */

/** The server's limits (RegisterEndpointInput.retrySchedule): 1 to 32 delays, each at most 7 days. */
export const MAX_RETRY_DELAYS = 32;
export const MAX_RETRY_DELAY_SECS = 7 * 24 * 3600;

export type RetryScheduleParse =
  { ok: true; schedule: number[] | null } | { ok: false; error: string };

/**
 * Parses "0, 5, 300" (commas and/or spaces) into delays in seconds.
 * Blank input means "the default schedule" (null).
 */
export function parseRetrySchedule(input: string): RetryScheduleParse {
  const trimmed = input.trim();
  if (trimmed === "") return { ok: true, schedule: null };
  const parts = trimmed.split(/[\s,]+/).filter((p) => p !== "");
  if (
    trimmed.startsWith(",") ||
    trimmed.endsWith(",") ||
    /,\s*,/.test(trimmed)
  ) {
    return { ok: false, error: "Leave no empty entries between commas." };
  }
  const schedule: number[] = [];
  for (const part of parts) {
    if (!/^\d+$/.test(part)) {
      return {
        ok: false,
        error: `“${part}” is not a whole number of seconds.`,
      };
    }
    const n = Number(part);
    if (n > MAX_RETRY_DELAY_SECS) {
      return {
        ok: false,
        error: `${part} s is more than 7 days (${MAX_RETRY_DELAY_SECS} s).`,
      };
    }
    schedule.push(n);
  }
  if (schedule.length > MAX_RETRY_DELAYS) {
    return {
      ok: false,
      error: `At most ${MAX_RETRY_DELAYS} delays (got ${schedule.length}).`,
    };
  }
  return { ok: true, schedule };
}

/** Short human form of a delay: 0s, 45s, 5m, 1h 30m, 2d. */
export function formatDelay(secs: number): string {
  if (secs < 60) return `${secs}s`;
  const d = Math.floor(secs / 86400);
  const h = Math.floor((secs % 86400) / 3600);
  const m = Math.floor((secs % 3600) / 60);
  const s = secs % 60;
  const parts: string[] = [];
  if (d) parts.push(`${d}d`);
  if (h) parts.push(`${h}h`);
  if (m) parts.push(`${m}m`);
  if (s) parts.push(`${s}s`);
  return parts.slice(0, 2).join(" ");
}

/** "0s → 5s → 5m", or "default" for null. */
export function describeRetrySchedule(
  schedule: readonly number[] | null | undefined,
): string {
  if (!schedule || schedule.length === 0) return "default";
  return schedule.map(formatDelay).join(" → ");
}
