/** Formatting of times, durations and numbers, shared by every page. */

function toDate(value: string | Date): Date | null {
  const d = value instanceof Date ? value : new Date(value);
  return Number.isNaN(d.getTime()) ? null : d;
}

const pad = (n: number, w = 2) => String(n).padStart(w, "0");

/** Local time, `2025-03-01 13:04:05`. */
export function formatLocal(value: string | Date): string {
  const d = toDate(value);
  if (!d) return String(value);
  return (
    `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())} ` +
    `${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}`
  );
}

/** UTC with milliseconds, `2025-03-01T12:04:05.123Z`, for title attributes. */
export function formatUtc(value: string | Date): string {
  const d = toDate(value);
  return d ? d.toISOString() : String(value);
}

/** Local hour and minute, `13:04`, for chart axes. */
export function formatClock(value: string | Date): string {
  const d = toDate(value);
  return d ? `${pad(d.getHours())}:${pad(d.getMinutes())}` : String(value);
}

/** A duration in milliseconds as `850 ms`, `4.2 s`, `3 min 20 s`, `2 h 5 min`, `3 d 4 h`. */
export function formatDuration(ms: number): string {
  if (!Number.isFinite(ms)) return "—";
  const sign = ms < 0 ? "-" : "";
  const a = Math.abs(ms);
  if (a < 1000) return `${sign}${Math.round(a)} ms`;
  if (a < 10_000 && a % 1000 !== 0)
    return `${sign}${(Math.floor(a / 100) / 10).toFixed(1)} s`;
  const s = Math.floor(a / 1000);
  if (s < 60) return `${sign}${s} s`;
  const m = Math.floor(s / 60);
  if (m < 60) return `${sign}${m} min${s % 60 ? ` ${s % 60} s` : ""}`;
  const h = Math.floor(m / 60);
  if (h < 24) return `${sign}${h} h${m % 60 ? ` ${m % 60} min` : ""}`;
  const d = Math.floor(h / 24);
  return `${sign}${d} d${h % 24 ? ` ${h % 24} h` : ""}`;
}

/** How long ago (or from now) `value` is relative to `now`: `3 min ago`, `in 20 s`. */
export function formatRelative(
  value: string | Date,
  now: Date = new Date(),
): string {
  const d = toDate(value);
  if (!d) return String(value);
  const diff = d.getTime() - now.getTime();
  if (Math.abs(diff) < 1000) return "now";
  // Whole seconds are enough for "how long ago".
  const a = Math.abs(diff);
  const text = formatDuration(a < 60_000 ? Math.round(a / 1000) * 1000 : a);
  return diff < 0 ? `${text} ago` : `in ${text}`;
}

const numberFormat = new Intl.NumberFormat("en-US");

/** A count with thousands separators, `12,345`. */
export function formatNumber(n: number | null | undefined): string {
  return n == null || !Number.isFinite(n) ? "—" : numberFormat.format(n);
}

/** A share 0..1 as `97.5 %`. */
export function formatPercent(
  share: number | null | undefined,
  digits = 1,
): string {
  if (share == null || !Number.isFinite(share)) return "—";
  return `${(share * 100).toFixed(digits)} %`;
}

/** Progress as a 0..100 integer, or null while the total is unknown. */
export function progressPercent(
  done: number,
  total: number | null | undefined,
): number | null {
  if (total == null) return null;
  if (total <= 0) return 100;
  return Math.max(0, Math.min(100, Math.floor((done / total) * 100)));
}

/** `snake_case` / `SCREAMING_CASE` to `Snake case` for labels. */
export function humanize(value: string): string {
  const s = value.replace(/[_-]+/g, " ").toLowerCase().trim();
  return s.charAt(0).toUpperCase() + s.slice(1);
}
