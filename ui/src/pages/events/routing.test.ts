import { describe, expect, it } from "vitest";
import { parseLossless } from "../../lib/losslessJson";
import { routingDecision, type StreamEvent } from "./routing";

const received: StreamEvent = {
  sequence: 1,
  eventType: "EventReceived",
  payload: { EventReceived: { event_id: 1 } },
  metadata: { actor: "42" },
  recordedAt: "2025-01-01T00:00:00Z",
};

describe("routingDecision", () => {
  it("is pending before the router wrote anything", () => {
    expect(routingDecision([received])).toEqual({ kind: "pending" });
    expect(routingDecision([])).toEqual({ kind: "pending" });
  });

  it("reads EventRouted with exact ids", () => {
    // As the server answers: ids as JSON numbers beyond 2^53.
    const text =
      '{"sequence":2,"eventType":"EventRouted","recordedAt":"2025-01-01T00:00:01Z","metadata":{"actor":"system"},"payload":{"EventRouted":{"deliveries":[{"delivery_id":388357683196993536,"endpoint_id":388357675471085569,"mapping_id":388357675907293185,"mapping_version":3},{"delivery_id":388357683196993537,"endpoint_id":388357675634663425,"mapping_id":388357676041510913,"mapping_version":1}],"event_id":388357683138273281,"routed_at":"2025-01-01T00:00:00.9Z"}}}';
    const routed = parseLossless(text) as StreamEvent;
    expect(routingDecision([routed, received])).toEqual({
      kind: "routed",
      routedAt: "2025-01-01T00:00:00.9Z",
      recordedAt: "2025-01-01T00:00:01Z",
      actor: "system",
      deliveries: [
        {
          deliveryId: "388357683196993536",
          endpointId: "388357675471085569",
          mappingId: "388357675907293185",
          mappingVersion: 3,
        },
        {
          deliveryId: "388357683196993537",
          endpointId: "388357675634663425",
          mappingId: "388357676041510913",
          mappingVersion: 1,
        },
      ],
    });
  });

  it("reads EventUnroutable", () => {
    expect(
      routingDecision([
        received,
        {
          sequence: 2,
          eventType: "EventUnroutable",
          payload: {
            EventUnroutable: { event_id: 1, routed_at: "2025-01-01T00:00:02Z" },
          },
          metadata: {},
          recordedAt: "2025-01-01T00:00:03Z",
        },
      ]),
    ).toEqual({
      kind: "unroutable",
      routedAt: "2025-01-01T00:00:02Z",
      recordedAt: "2025-01-01T00:00:03Z",
      actor: null,
    });
  });

  it("tolerates a payload of an unexpected shape", () => {
    expect(
      routingDecision([
        {
          sequence: 2,
          eventType: "EventRouted",
          payload: null,
          metadata: null,
          recordedAt: "t",
        },
      ]),
    ).toEqual({
      kind: "routed",
      routedAt: null,
      recordedAt: "t",
      actor: null,
      deliveries: [],
    });
  });
});
