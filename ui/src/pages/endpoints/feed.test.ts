import { describe, expect, it } from "vitest";
import {
  FEED_LIMIT,
  applyUpdate,
  changeNote,
  emptyFeed,
  feedReducer,
  seedDeliveries,
  type DeliveryUpdateLike,
} from "./feed";

const upd = (over: Partial<DeliveryUpdateLike>): DeliveryUpdateLike => ({
  deliveryId: "1",
  eventId: "10",
  change: "DeliveryScheduled",
  status: "PENDING",
  attempts: 0,
  lastResponseCode: null,
  nextAttemptAt: null,
  recordedAt: "2025-01-01T00:00:00Z",
  cursor: "c1",
  ...over,
});

describe("delivery feed", () => {
  it("puts the newest change on top, one row per delivery", () => {
    let s = applyUpdate(emptyFeed, upd({}));
    s = applyUpdate(
      s,
      upd({
        deliveryId: "2",
        cursor: "c2",
        recordedAt: "2025-01-01T00:00:01Z",
      }),
    );
    s = applyUpdate(
      s,
      upd({
        change: "DeliverySucceeded",
        status: "SUCCEEDED",
        attempts: 1,
        lastResponseCode: 200,
        cursor: "c3",
        recordedAt: "2025-01-01T00:00:02Z",
      }),
    );
    expect(s.rows.map((r) => [r.deliveryId, r.status])).toEqual([
      ["1", "SUCCEEDED"],
      ["2", "PENDING"],
    ]);
    expect(s.rows[0]?.lastResponseCode).toBe(200);
    expect(s.lastCursor).toBe("c3");
    expect(s.received).toBe(3);
  });

  it("ignores an update seen already (replayed after a resume)", () => {
    const s1 = applyUpdate(emptyFeed, upd({}));
    const s2 = applyUpdate(s1, upd({}));
    expect(s2).toBe(s1);
  });

  it("keeps a newer change over an older one that arrives late", () => {
    let s = applyUpdate(
      emptyFeed,
      upd({
        status: "SUCCEEDED",
        cursor: "c2",
        recordedAt: "2025-01-01T00:00:05Z",
      }),
    );
    s = applyUpdate(
      s,
      upd({
        status: "RETRYING",
        cursor: "c1",
        recordedAt: "2025-01-01T00:00:01Z",
      }),
    );
    expect(s.rows).toHaveLength(1);
    expect(s.rows[0]?.status).toBe("SUCCEEDED");
  });

  it("merges seeded deliveries with live updates whichever comes first", () => {
    const seeded = seedDeliveries(emptyFeed, [
      {
        id: "1",
        eventId: "10",
        status: "RETRYING",
        attemptCount: 1,
        responseCode: 503,
        nextAttemptAt: null,
        updatedAt: "2025-01-01T00:00:01Z",
      },
      {
        id: "0",
        eventId: "9",
        status: "SUCCEEDED",
        attemptCount: 1,
        responseCode: 200,
        nextAttemptAt: null,
        updatedAt: "2024-12-31T00:00:00Z",
      },
    ]);
    expect(seeded.rows.map((r) => r.deliveryId)).toEqual(["1", "0"]);
    const live = applyUpdate(
      seeded,
      upd({
        status: "SUCCEEDED",
        cursor: "c9",
        recordedAt: "2025-01-01T00:00:03Z",
      }),
    );
    expect(live.rows[0]).toMatchObject({
      deliveryId: "1",
      status: "SUCCEEDED",
      live: true,
    });
    // A page read later holding an older state of delivery 1 changes nothing.
    const again = seedDeliveries(live, [
      {
        id: "1",
        eventId: "10",
        status: "RETRYING",
        attemptCount: 1,
        updatedAt: "2025-01-01T00:00:01Z",
      },
    ]);
    expect(again.rows[0]?.status).toBe("SUCCEEDED");
    expect(again.rows).toHaveLength(2);
  });

  it("sorts an older delivery below newer ones", () => {
    let s = applyUpdate(
      emptyFeed,
      upd({ deliveryId: "a", cursor: "1", recordedAt: "2025-01-01T00:00:05Z" }),
    );
    s = applyUpdate(
      s,
      upd({ deliveryId: "b", cursor: "2", recordedAt: "2025-01-01T00:00:01Z" }),
    );
    s = applyUpdate(
      s,
      upd({ deliveryId: "c", cursor: "3", recordedAt: "2025-01-01T00:00:03Z" }),
    );
    expect(s.rows.map((r) => r.deliveryId)).toEqual(["a", "c", "b"]);
  });

  it("keeps at most FEED_LIMIT rows", () => {
    let s = emptyFeed;
    for (let i = 0; i < FEED_LIMIT + 5; i++) {
      s = applyUpdate(
        s,
        upd({
          deliveryId: String(i),
          cursor: `c${i}`,
          recordedAt: new Date(i * 1000).toISOString(),
        }),
      );
    }
    expect(s.rows).toHaveLength(FEED_LIMIT);
    expect(s.rows[0]?.deliveryId).toBe(String(FEED_LIMIT + 4));
  });

  it("resets", () => {
    const s = feedReducer(emptyFeed, { type: "update", update: upd({}) });
    expect(feedReducer(s, { type: "reset" })).toBe(emptyFeed);
  });

  it("notes only the changes the status does not tell", () => {
    expect(changeNote("DeliveryScheduled")).toBe("scheduled");
    expect(changeNote("DeliveryRequeued")).toBe("requeued");
    expect(changeNote("DeliverySucceeded")).toBeNull();
    expect(changeNote("DeliveryRetryScheduled")).toBeNull();
    expect(changeNote(null)).toBeNull();
  });
});
