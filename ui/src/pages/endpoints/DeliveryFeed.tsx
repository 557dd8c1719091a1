import { useVirtualizer } from "@tanstack/react-virtual";
import { useEffect, useLayoutEffect, useRef, useState } from "react";
import { Link } from "wouter";
import { Empty } from "../../components/Empty";
import { ErrorNotice } from "../../components/ErrorNotice";
import { Loading } from "../../components/Loading";
import { StatusBadge } from "../../components/StatusBadge";
import { Time } from "../../components/Time";
import { formatNumber, formatRelative } from "../../lib/format";
import { useCan } from "../../lib/session";
import { changeNote, type FeedRow } from "./feed";
import { useDeliveryFeed, type FeedConnection } from "./useDeliveryFeed";

const ROW_ESTIMATE = 64;

/** The live deliveries of one endpoint, newest change on top, in a virtual list. */
export function DeliveryFeed(props: {
  endpointId: string;
  reachable: boolean;
}) {
  const live = useDeliveryFeed(props.endpointId, props.reachable);
  const canEvents = useCan("events:read");
  const { rows } = live.feed;
  const scrollRef = useRef<HTMLDivElement>(null);
  // eslint-disable-next-line react-hooks/incompatible-library
  const virtualizer = useVirtualizer({
    count: rows.length,
    getScrollElement: () => scrollRef.current,
    estimateSize: () => ROW_ESTIMATE,
    getItemKey: (i) => rows[i]?.deliveryId ?? i,
    overscan: 8,
  });

  // Keep the row the reader is looking at in place when changes land above it.
  const anchor = useRef<{ key: string; offset: number } | null>(null);
  const [newAbove, setNewAbove] = useState(0);
  useLayoutEffect(() => {
    const el = scrollRef.current;
    const a = anchor.current;
    if (!el || !a || el.scrollTop <= 0) return;
    const index = rows.findIndex((r) => r.deliveryId === a.key);
    if (index < 0) return;
    const start =
      virtualizer.measurementsCache[index]?.start ?? index * ROW_ESTIMATE;
    el.scrollTop = start + a.offset;
  }, [rows, virtualizer]);
  const onScroll = () => {
    const el = scrollRef.current;
    if (!el) return;
    if (el.scrollTop <= 0) {
      anchor.current = null;
      setNewAbove(0);
      return;
    }
    const first = virtualizer
      .getVirtualItems()
      .find((v) => v.end > el.scrollTop);
    const row = first ? rows[first.index] : undefined;
    anchor.current =
      first && row
        ? { key: row.deliveryId, offset: el.scrollTop - first.start }
        : null;
  };
  const received = live.feed.received;
  const seenReceived = useRef(received);
  useEffect(() => {
    const added = received - seenReceived.current;
    seenReceived.current = received;
    const el = scrollRef.current;
    if (added > 0 && el && el.scrollTop > 0) setNewAbove((n) => n + added);
  }, [received]);

  return (
    <section className="section feed" aria-labelledby="feed-title">
      <div className="feed-head">
        <h2 id="feed-title">Live deliveries</h2>
        <ConnectionIndicator
          connection={live.connection}
          reconnects={live.reconnects}
          received={received}
          onRetry={live.retryNow}
        />
        <div className="feed-actions">
          <button
            type="button"
            className="btn btn-small"
            aria-pressed={live.paused}
            onClick={() => live.setPaused(!live.paused)}
            data-testid="feed-pause"
          >
            {live.paused ? "Resume" : "Pause"}
          </button>
        </div>
      </div>
      <p className="section-note small muted">
        Every status change of a delivery to this endpoint, as it is logged.
        After a pause or a lost connection the feed resumes after the last
        change it showed.
      </p>
      {newAbove > 0 ? (
        <button
          type="button"
          className="btn btn-small feed-new"
          onClick={() => {
            scrollRef.current?.scrollTo({ top: 0 });
            setNewAbove(0);
          }}
        >
          ↑ {formatNumber(newAbove)} new {newAbove === 1 ? "change" : "changes"}
        </button>
      ) : null}
      <ErrorNotice error={live.older.error} title="Recent deliveries" />
      {rows.length === 0 ? (
        live.older.loading ? (
          <Loading label="Loading deliveries…" />
        ) : (
          <div data-testid="delivery-feed" className="feed-empty">
            <Empty>
              No delivery to this endpoint yet. New ones appear here as they
              happen.
            </Empty>
          </div>
        )
      ) : (
        <div
          ref={scrollRef}
          className="feed-scroll"
          onScroll={onScroll}
          data-testid="delivery-feed"
          role="list"
          aria-label="Deliveries, newest change first"
          aria-busy={live.older.loading}
          tabIndex={0}
        >
          <div
            className="feed-inner"
            style={{ height: virtualizer.getTotalSize() }}
          >
            {virtualizer.getVirtualItems().map((v) => {
              const row = rows[v.index];
              if (!row) return null;
              return (
                <div
                  key={v.key}
                  ref={virtualizer.measureElement}
                  data-index={v.index}
                  className="feed-slot"
                  style={{ transform: `translateY(${v.start}px)` }}
                  role="listitem"
                  aria-setsize={rows.length}
                  aria-posinset={v.index + 1}
                >
                  <FeedItem row={row} canEvents={canEvents} />
                </div>
              );
            })}
          </div>
        </div>
      )}
      <div className="feed-foot">
        <span className="small muted">
          {formatNumber(rows.length)}{" "}
          {rows.length === 1 ? "delivery" : "deliveries"} shown
        </span>
        {live.older.hasMore ? (
          <button
            type="button"
            className="btn btn-small"
            onClick={live.loadOlder}
            disabled={live.older.loading}
            data-testid="feed-load-older"
          >
            {live.older.loading ? "Loading…" : "Load older deliveries"}
          </button>
        ) : null}
      </div>
    </section>
  );
}

function FeedItem({ row, canEvents }: { row: FeedRow; canEvents: boolean }) {
  return (
    <article
      className={`feed-item${row.live ? " feed-item-live" : ""}`}
      data-testid="feed-item"
      data-status={row.status}
      data-delivery-id={row.deliveryId}
      data-change={row.change ?? undefined}
    >
      <div className="feed-item-main">
        <StatusBadge status={row.status} />
        <Link href={`/deliveries/${row.deliveryId}`} className="mono">
          delivery {row.deliveryId}
        </Link>
        {changeNote(row.change) ? (
          <span className="small muted">{changeNote(row.change)}</span>
        ) : null}
      </div>
      <div className="feed-item-meta small">
        {canEvents ? (
          <Link href={`/events/${row.eventId}`} className="mono">
            event {row.eventId}
          </Link>
        ) : (
          <span className="mono">event {row.eventId}</span>
        )}
        <span>
          {formatNumber(row.attempts)}{" "}
          {row.attempts === 1 ? "attempt" : "attempts"}
        </span>
        {row.lastResponseCode != null ? (
          <span className="mono">HTTP {row.lastResponseCode}</span>
        ) : null}
        {row.nextAttemptAt &&
        (row.status === "RETRYING" || row.status === "PENDING") ? (
          <span>
            next <Time value={row.nextAttemptAt} relative />
          </span>
        ) : null}
        <span className="feed-item-time">
          <Time value={row.at} />
        </span>
      </div>
    </article>
  );
}

function ConnectionIndicator(props: {
  connection: FeedConnection;
  reconnects: number;
  received: number;
  onRetry: () => void;
}) {
  const c = props.connection;
  let text: string;
  let tone: "on" | "wait" | "off";
  switch (c.kind) {
    case "live":
      text = c.resumed ? "Live (resumed)" : "Live";
      tone = "on";
      break;
    case "connecting":
      text = c.resuming ? "Reconnecting…" : "Connecting…";
      tone = "wait";
      break;
    case "reconnecting":
      text = "Connection lost";
      tone = "wait";
      break;
    case "paused":
      text = "Paused";
      tone = "off";
      break;
    case "stopped":
      text = "Stopped";
      tone = "off";
      break;
  }
  return (
    <div className="feed-conn">
      <p
        className="live-status"
        role="status"
        data-testid="feed-connection"
        data-state={c.kind}
      >
        <span className={`live-dot live-dot-${tone}`} aria-hidden="true" />
        {text}
        {c.kind === "reconnecting" ? (
          c.retryAt != null ? (
            <Countdown key={c.retryAt} at={c.retryAt} />
          ) : (
            "; waiting for the server"
          )
        ) : null}
        {props.reconnects > 0 ? (
          <span className="muted small" data-testid="feed-reconnects">
            {" "}
            · reconnected {formatNumber(props.reconnects)}{" "}
            {props.reconnects === 1 ? "time" : "times"}
          </span>
        ) : null}
        {props.received > 0 ? (
          <span className="muted small">
            {" "}
            · {formatNumber(props.received)}{" "}
            {props.received === 1 ? "update" : "updates"}
          </span>
        ) : null}
      </p>
      {c.kind === "reconnecting" && c.retryAt != null ? (
        <button
          type="button"
          className="btn-link small"
          onClick={props.onRetry}
        >
          Retry now
        </button>
      ) : null}
      {c.kind === "stopped" ? (
        <ErrorNotice error={c.error} title="Live feed stopped" />
      ) : null}
    </div>
  );
}

/** "; retrying in 4 s", counted down each second from when it mounts. */
function Countdown(props: { at: number }) {
  const [now, setNow] = useState(() => Date.now());
  useEffect(() => {
    const id = window.setInterval(() => setNow(Date.now()), 1000);
    return () => window.clearInterval(id);
  }, []);
  return (
    <>
      ; retrying{" "}
      {props.at > now
        ? formatRelative(new Date(props.at), new Date(now))
        : "now"}
    </>
  );
}
