import { describe, expect, it } from "vitest";
import {
  lastSequenceAt,
  lastSequenceBefore,
  localInputToInstant,
  metadataOf,
  microseconds,
  relatedLinks,
  streamHref,
  streamKind,
} from "./streams";

describe("streamKind", () => {
  it("reads the log's names, the enum values and loose spellings", () => {
    expect(streamKind("Delivery")?.value).toBe("DELIVERY");
    expect(streamKind("DELIVERY")?.value).toBe("DELIVERY");
    expect(streamKind("sync_job")?.value).toBe("SYNC_JOB");
    expect(streamKind("IntegrationEvent")?.value).toBe("INTEGRATION_EVENT");
    expect(streamKind("nope")).toBeNull();
    expect(streamKind(undefined)).toBeNull();
  });

  it("builds the address other pages link to", () => {
    expect(streamHref("DELIVERY", "1:2")).toBe("/audit?type=Delivery&id=1%3A2");
  });
});

describe("relatedLinks", () => {
  it("links a delivery to its event and endpoint", () => {
    expect(relatedLinks(streamKind("Delivery")!, "11:22")).toEqual([
      { href: "/events/11", label: "Event" },
      { href: "/endpoints/22", label: "Endpoint" },
    ]);
  });
  it("links a mapping by its last colon", () => {
    expect(
      relatedLinks(streamKind("EventMapping")!, "order.created:crm"),
    ).toEqual([{ href: "/mappings/order.created/crm", label: "Mapping" }]);
    expect(relatedLinks(streamKind("EventMapping")!, "broken")).toEqual([]);
  });
});

describe("metadataOf", () => {
  it("reads actor and request id, tolerating anything", () => {
    expect(
      metadataOf({ actor: "system", request_id: "router:5" }),
    ).toMatchObject({
      actor: "system",
      requestId: "router:5",
      causationId: null,
    });
    expect(metadataOf(null).actor).toBeNull();
  });
});

describe("times", () => {
  it("turns a datetime-local value into UTC", () => {
    const local = "2025-03-01T12:30:15";
    expect(localInputToInstant(local)).toBe(
      new Date(2025, 2, 1, 12, 30, 15).toISOString(),
    );
    expect(localInputToInstant("")).toBeNull();
    expect(localInputToInstant("yesterday")).toBeNull();
  });

  it("keeps microseconds", () => {
    expect(
      microseconds("2026-12-07T15:54:42.422492+00:00") -
        microseconds("2026-12-07T15:54:42.422+00:00"),
    ).toBe(492);
    expect(microseconds("2026-12-07T15:54:42+00:00") % 1000).toBe(0);
  });

  it("counts the events of the same transaction in the state after event k", () => {
    const events = [
      { sequence: 1, recordedAt: "2026-12-07T15:54:42.405891+00:00" },
      { sequence: 2, recordedAt: "2026-12-07T15:54:42.422492+00:00" },
      { sequence: 3, recordedAt: "2026-12-07T15:54:42.422492+00:00" },
      { sequence: 4, recordedAt: "2026-12-07T15:54:42.4229+00:00" },
    ];
    expect(lastSequenceAt(events, 1)).toBe(1);
    expect(lastSequenceAt(events, 2)).toBe(3);
    expect(lastSequenceAt(events, 4)).toBe(4);
  });
});

describe("lastSequenceBefore", () => {
  const events = [
    { sequence: 1, recordedAt: "2026-12-07T15:54:42.405891+00:00" },
    { sequence: 2, recordedAt: "2026-12-07T15:54:47.422492+00:00" },
  ];
  it("counts the events recorded by an instant", () => {
    expect(lastSequenceBefore(events, "2026-12-07T15:54:40.000Z")).toBe(0);
    expect(lastSequenceBefore(events, "2026-12-07T15:54:42.406Z")).toBe(1);
    expect(lastSequenceBefore(events, "2026-12-07T16:00:00Z")).toBe(2);
  });
});
