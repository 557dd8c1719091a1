import { useCallback, useEffect, useReducer, useRef, useState } from "react";
import { useClient } from "urql";
import { toAppError, type AppError } from "../../lib/errors";
import { useSocketState } from "../../lib/socketState";
import { useCan } from "../../lib/session";
import { emptyFeed, feedReducer, type FeedState } from "./feed";
import {
  ENDPOINT_DELIVERY_UPDATES,
  ENDPOINT_RECENT_DELIVERIES,
  LOG_END,
} from "./operations";

/** Errors after which resubscribing cannot help. */
const FATAL_CODES = new Set([
  "endpoint_not_found",
  "invalid_id",
  "missing_scope",
  "invalid_query",
  "unknown_api_key",
  "revoked_api_key",
  "missing_api_key",
  "malformed_authorization",
]);

/** A subscription that has stayed up this long without an error counts as live. */
const SETTLE_MS = 1500;
/**
 * Updates after which the subscription is renewed from the last cursor. The
 * WebSocket client may reconnect on its own, re-sending the subscription as it
 * was first sent: renewing it keeps its `after` recent, so such a reconnect
 * replays only a few updates already seen (and dropped) instead of missing the
 * ones logged meanwhile, or replaying a long history.
 */
const REANCHOR_EVERY = 200;
const MAX_BACKOFF_MS = 30_000;

export type FeedConnection =
  | { kind: "connecting"; resuming: boolean }
  | { kind: "live"; resumed: boolean }
  | { kind: "reconnecting"; retryAt: number | null; error: AppError | null }
  | { kind: "paused" }
  | { kind: "stopped"; error: AppError };

/** Delay before the n-th consecutive retry: 1 s, 2 s, 4 s … 30 s, with jitter. */
export function backoffMs(
  failures: number,
  random: () => number = Math.random,
): number {
  const base = Math.min(MAX_BACKOFF_MS, 1000 * 2 ** Math.max(0, failures - 1));
  return Math.round(base * (0.8 + 0.4 * random()));
}

export interface DeliveryFeed {
  feed: FeedState;
  connection: FeedConnection;
  /** How many times the WebSocket has connected again after losing its connection, since the feed opened. */
  reconnects: number;
  paused: boolean;
  setPaused: (paused: boolean) => void;
  /** Reconnect now (after an error), resuming after the last update. */
  retryNow: () => void;
  /** Older deliveries (read model), page by page. */
  loadOlder: () => void;
  older: { loading: boolean; hasMore: boolean; error: AppError | null };
}

/**
 * The live deliveries of one endpoint: a page of recent ones, then every
 * change from the `deliveryUpdates` subscription (through the urql client's
 * WebSocket). Whenever it (re)subscribes — after an error, while the server was
 * unreachable, after a pause — it passes the last update's cursor as `after`,
 * so the log replays what happened meanwhile and nothing is missed.
 *
 * Before the first update there is no cursor to resume from: a key that may
 * read the log (`audit:read`) starts from the log's current end instead, so
 * even a reconnect before any update misses nothing.
 *
 * `reachable` is false while the server does not answer HTTP (the page's
 * polling tells): the subscription is dropped then and resumed when it answers.
 */
export function useDeliveryFeed(
  endpointId: string,
  reachable: boolean,
): DeliveryFeed {
  const client = useClient();
  const socket = useSocketState();
  // Reconnects counted from when this feed opened.
  const [reconnectsBefore] = useState(socket.reconnects);
  const reconnects = socket.reconnects - reconnectsBefore;
  const [feed, dispatch] = useReducer(feedReducer, emptyFeed);
  const [paused, setPaused] = useState(false);
  const [attempt, setAttempt] = useState(0);
  // Bumped to renew the subscription from the last cursor (see REANCHOR_EVERY).
  const [anchor, setAnchor] = useState(0);
  // The connection state, tagged with the subscription it describes: a state
  // of an earlier subscription reads as "connecting" for the current one.
  const [conn, setConn] = useState<{ session: string; state: FeedConnection }>({
    session: "",
    state: { kind: "connecting", resuming: false },
  });
  const cursorRef = useRef<string | null>(null);
  const failuresRef = useRef(0);
  // Coming back (server reachable again) starts a new subscription, resumed.
  const [wasReachable, setWasReachable] = useState(reachable);
  if (reachable !== wasReachable) {
    setWasReachable(reachable);
    if (reachable) setAttempt((a) => a + 1);
  }
  const session = `${endpointId}|${attempt}`;

  // The starting cursor: the log's end, when the key may read the log.
  const canReadLog = useCan("audit:read");
  const [started, setStarted] = useState(!canReadLog);
  useEffect(() => {
    if (!canReadLog) return;
    let cancelled = false;
    void client
      .query(LOG_END, {}, { requestPolicy: "network-only" })
      .toPromise()
      .then((r) => {
        if (cancelled) return;
        const cursor = r.data?.log.edges[0]?.cursor ?? null;
        if (cursorRef.current == null) cursorRef.current = cursor;
        setStarted(true);
      });
    return () => {
      cancelled = true;
    };
  }, [client, canReadLog]);
  const active = reachable && !paused && started;

  useEffect(() => {
    if (!active) return;
    const after = cursorRef.current;
    const resumed = attempt > 0 && after != null;
    let retryTimer: number | undefined;
    let ended = false;
    let sinceAnchor = 0;
    const set = (state: FeedConnection) => setConn({ session, state });
    const settle = window.setTimeout(() => {
      if (ended) return;
      failuresRef.current = 0;
      setConn((c) =>
        c.session === session && c.state.kind !== "connecting"
          ? c
          : { session, state: { kind: "live", resumed } },
      );
    }, SETTLE_MS);
    const sub = client
      .subscription(ENDPOINT_DELIVERY_UPDATES, { endpointId, after })
      .subscribe((result) => {
        if (ended) return;
        if (result.error) {
          ended = true;
          window.clearTimeout(settle);
          const error = toAppError(result.error) ?? {
            code: "error",
            message: "the subscription failed",
          };
          if (FATAL_CODES.has(error.code)) {
            set({ kind: "stopped", error });
            return;
          }
          failuresRef.current += 1;
          const delay = backoffMs(failuresRef.current);
          set({ kind: "reconnecting", retryAt: Date.now() + delay, error });
          retryTimer = window.setTimeout(() => setAttempt((a) => a + 1), delay);
          return;
        }
        const update = result.data?.deliveryUpdates;
        if (!update) return;
        failuresRef.current = 0;
        cursorRef.current = update.cursor;
        dispatch({ type: "update", update });
        set({ kind: "live", resumed });
        sinceAnchor += 1;
        if (after == null || sinceAnchor >= REANCHOR_EVERY) {
          // Renew from this update's cursor; later results of this subscription
          // are replayed by the next one.
          ended = true;
          window.clearTimeout(settle);
          setAnchor((a) => a + 1);
        }
      });
    return () => {
      ended = true;
      window.clearTimeout(settle);
      window.clearTimeout(retryTimer);
      sub.unsubscribe();
    };
  }, [client, endpointId, session, active, anchor, attempt]);

  // Older deliveries from the read model: the first page at once, more on demand.
  const [older, setOlder] = useState<{
    loading: boolean;
    hasMore: boolean;
    error: AppError | null;
    endCursor: string | null;
  }>({ loading: true, hasMore: false, error: null, endCursor: null });
  const loadPage = useCallback(
    (after: string | null) => {
      setOlder((o) => ({ ...o, loading: true, error: null }));
      void client
        .query(
          ENDPOINT_RECENT_DELIVERIES,
          { endpointId, first: 50, after },
          { requestPolicy: "network-only" },
        )
        .toPromise()
        .then((r) => {
          const page = r.data?.deliveries;
          if (page) dispatch({ type: "seed", deliveries: page.nodes });
          setOlder((o) => ({
            loading: false,
            error: r.error ? toAppError(r.error) : null,
            hasMore: page ? page.pageInfo.hasNextPage : o.hasMore,
            endCursor: page ? (page.pageInfo.endCursor ?? null) : o.endCursor,
          }));
        });
    },
    [client, endpointId],
  );
  useEffect(() => {
    let cancelled = false;
    void client
      .query(
        ENDPOINT_RECENT_DELIVERIES,
        { endpointId, first: 50 },
        { requestPolicy: "network-only" },
      )
      .toPromise()
      .then((r) => {
        if (cancelled) return;
        const page = r.data?.deliveries;
        if (page) dispatch({ type: "seed", deliveries: page.nodes });
        setOlder({
          loading: false,
          error: r.error ? toAppError(r.error) : null,
          hasMore: page?.pageInfo.hasNextPage ?? false,
          endCursor: page?.pageInfo.endCursor ?? null,
        });
      });
    return () => {
      cancelled = true;
    };
  }, [client, endpointId]);

  let connection: FeedConnection;
  if (paused) connection = { kind: "paused" };
  else if (!reachable)
    connection = {
      kind: "reconnecting",
      retryAt: null,
      error: { code: "network_error", message: "the server is unreachable" },
    };
  else if (conn.session !== session)
    connection = { kind: "connecting", resuming: feed.lastCursor != null };
  else connection = conn.state;
  // graphql-ws retries a dropped socket on its own and sends the subscription
  // again: the subscription sees no error meanwhile, the socket's state tells.
  if (connection.kind === "live") {
    connection =
      socket.status === "connected"
        ? { kind: "live", resumed: connection.resumed || reconnects > 0 }
        : { kind: "connecting", resuming: true };
  }

  return {
    feed,
    connection,
    reconnects,
    paused,
    setPaused: useCallback((p: boolean) => {
      setPaused(p);
      if (!p) setAttempt((a) => a + 1);
    }, []),
    retryNow: useCallback(() => setAttempt((a) => a + 1), []),
    loadOlder: useCallback(() => {
      if (older.endCursor) loadPage(older.endCursor);
    }, [older.endCursor, loadPage]),
    older: {
      loading: older.loading,
      hasMore: older.hasMore,
      error: older.error,
    },
  };
}
