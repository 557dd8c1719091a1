/**
 * The live delivery feed's model: one row per delivery, newest change on top.
 *
 * Rows come from two sources that may arrive in any order: a page of recent
 * deliveries (the read model, `updatedAt`) and `deliveryUpdates` (the log, with a
 * `recordedAt` and a cursor). For each delivery the most recent change wins; an
 * update already seen (same cursor, e.g. replayed after a resume) is ignored.
 */

export type FeedStatus =
  "PENDING" | "RETRYING" | "SUCCEEDED" | "DEAD_LETTERED" | "CANCELLED";

export interface FeedRow {
  deliveryId: string;
  eventId: string;
  status: FeedStatus;
  /** The domain event of the last change, e.g. `DeliveryRetryScheduled`; null when seeded from the read model. */
  change: string | null;
  attempts: number;
  lastResponseCode: number | null;
  nextAttemptAt: string | null;
  /** When the last change was recorded (RFC 3339). */
  at: string;
  /** Whether the row arrived or changed live (for a short highlight). */
  live: boolean;
}

export interface FeedState {
  rows: FeedRow[];
  /** The cursor of the last update received: `after` when resuming. */
  lastCursor: string | null;
  seen: ReadonlySet<string>;
  /** Updates received over the subscription (not counting duplicates). */
  received: number;
}

export const emptyFeed: FeedState = {
  rows: [],
  lastCursor: null,
  seen: new Set(),
  received: 0,
};

/** Rows kept at most; older ones drop off the bottom. */
export const FEED_LIMIT = 2000;
/** Cursors remembered to drop replayed updates. */
export const SEEN_LIMIT = 5000;

export interface DeliveryUpdateLike {
  deliveryId: string;
  eventId: string;
  change: string;
  status: FeedStatus;
  attempts: number;
  lastResponseCode?: number | null;
  nextAttemptAt?: string | null;
  recordedAt: string;
  cursor: string;
}

export interface DeliveryLike {
  id: string;
  eventId: string;
  status: FeedStatus;
  attemptCount: number;
  responseCode?: number | null;
  nextAttemptAt?: string | null;
  updatedAt: string;
}

function ms(t: string): number {
  const v = Date.parse(t);
  return Number.isNaN(v) ? 0 : v;
}

function byNewest(a: FeedRow, b: FeedRow): number {
  return ms(b.at) - ms(a.at);
}

/** Inserts or replaces `row` (by delivery) unless a newer change of it is held already. */
function upsert(rows: FeedRow[], row: FeedRow): FeedRow[] {
  const i = rows.findIndex((r) => r.deliveryId === row.deliveryId);
  if (i >= 0) {
    const old = rows[i];
    if (old && ms(old.at) > ms(row.at)) return rows;
    if (
      old &&
      ms(old.at) === ms(row.at) &&
      old.change !== null &&
      row.change === null
    )
      return rows;
  }
  const rest = i >= 0 ? rows.filter((_, j) => j !== i) : rows;
  // Usually the row is the newest: put it on top without sorting everything.
  const top = rest[0];
  const next =
    !top || ms(row.at) >= ms(top.at)
      ? [row, ...rest]
      : [...rest, row].sort(byNewest);
  return next.length > FEED_LIMIT ? next.slice(0, FEED_LIMIT) : next;
}

export function applyUpdate(
  state: FeedState,
  u: DeliveryUpdateLike,
): FeedState {
  if (state.seen.has(u.cursor)) return state;
  let seen = new Set(state.seen);
  seen.add(u.cursor);
  // Replays after a resume reach back a few hundred updates at most.
  if (seen.size > SEEN_LIMIT) seen = new Set([...seen].slice(-SEEN_LIMIT / 2));
  const row: FeedRow = {
    deliveryId: u.deliveryId,
    eventId: u.eventId,
    status: u.status,
    change: u.change,
    attempts: u.attempts,
    lastResponseCode: u.lastResponseCode ?? null,
    nextAttemptAt: u.nextAttemptAt ?? null,
    at: u.recordedAt,
    live: true,
  };
  return {
    rows: upsert(state.rows, row),
    lastCursor: u.cursor,
    seen,
    received: state.received + 1,
  };
}

/** Adds deliveries read from the read model (a page of recent ones). */
export function seedDeliveries(
  state: FeedState,
  deliveries: readonly DeliveryLike[],
): FeedState {
  let rows = state.rows;
  for (const d of deliveries) {
    rows = upsert(rows, {
      deliveryId: d.id,
      eventId: d.eventId,
      status: d.status,
      change: null,
      attempts: d.attemptCount,
      lastResponseCode: d.responseCode ?? null,
      nextAttemptAt: d.nextAttemptAt ?? null,
      at: d.updatedAt,
      live: false,
    });
  }
  return rows === state.rows ? state : { ...state, rows };
}

export type FeedAction =
  | { type: "update"; update: DeliveryUpdateLike }
  | { type: "seed"; deliveries: readonly DeliveryLike[] }
  | { type: "reset" };

export function feedReducer(state: FeedState, action: FeedAction): FeedState {
  switch (action.type) {
    case "update":
      return applyUpdate(state, action.update);
    case "seed":
      return seedDeliveries(state, action.deliveries);
    case "reset":
      return emptyFeed;
  }
}

/**
 * A note on the change when the status badge does not tell it already:
 * "scheduled" (a new delivery) and "requeued" are both PENDING.
 */
export function changeNote(change: string | null): string | null {
  switch (change) {
    case "DeliveryScheduled":
      return "scheduled";
    case "DeliveryRequeued":
      return "requeued";
    default:
      return null;
  }
}
