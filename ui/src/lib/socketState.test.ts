import { describe, expect, it } from "vitest";
import { createSocketStore } from "./socketState";

describe("createSocketStore", () => {
  it("starts closed and follows graphql-ws's events", () => {
    const s = createSocketStore();
    expect(s.get()).toEqual({ status: "closed", reconnects: 0 });
    s.on.connecting();
    expect(s.get().status).toBe("connecting");
    s.on.connected();
    expect(s.get()).toEqual({ status: "connected", reconnects: 0 });
  });

  it("counts a connection made after one was lost", () => {
    const s = createSocketStore();
    s.on.connecting();
    s.on.connected();
    s.on.closed({ code: 1006 });
    expect(s.get()).toEqual({ status: "closed", reconnects: 0 });
    // graphql-ws retries, fails once more, then gets through
    s.on.connecting();
    s.on.closed({ code: 1006 });
    s.on.connecting();
    s.on.connected();
    expect(s.get()).toEqual({ status: "connected", reconnects: 1 });
    s.on.closed({ code: 1001 });
    s.on.connecting();
    s.on.connected();
    expect(s.get().reconnects).toBe(2);
  });

  it("does not count a normal close (idle, lazy) or a first connection that failed", () => {
    const s = createSocketStore();
    s.on.connecting();
    s.on.closed({ code: 1006 });
    s.on.connecting();
    s.on.connected();
    s.on.closed({ code: 1000 });
    s.on.connecting();
    s.on.connected();
    expect(s.get()).toEqual({ status: "connected", reconnects: 0 });
  });

  it("tells subscribers, with a new object per change", () => {
    const s = createSocketStore();
    const seen: unknown[] = [];
    const off = s.subscribe(() => seen.push(s.get()));
    s.on.connecting();
    s.on.connected();
    off();
    s.on.closed({ code: 1006 });
    expect(seen).toHaveLength(2);
    expect(seen[0]).not.toBe(seen[1]);
  });
});
