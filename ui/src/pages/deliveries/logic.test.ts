import { describe, expect, it } from "vitest";
import { readFilters, toGraphQLFilter } from "../../lib/urlFilters";
import {
  compareIds,
  DEAD_LETTER_FILTERS,
  DELIVERY_FILTERS,
  describeAttempt,
  gapMs,
  isInFlight,
  isJobFinished,
  isRequeueable,
  replayInputFor,
  sortDeliveries,
  statusAttr,
} from "./logic";

describe("delivery statuses", () => {
  it("knows which can be requeued and which are in flight", () => {
    expect(isRequeueable("DEAD_LETTERED")).toBe(true);
    expect(isRequeueable("CANCELLED")).toBe(true);
    expect(isRequeueable("SUCCEEDED")).toBe(false);
    expect(isRequeueable("RETRYING")).toBe(false);
    expect(isInFlight("PENDING")).toBe(true);
    expect(isInFlight("RETRYING")).toBe(true);
    expect(isInFlight("DEAD_LETTERED")).toBe(false);
    expect(statusAttr("DEAD_LETTERED")).toBe("dead_lettered");
  });
});

describe("describeAttempt", () => {
  it("names responses by their status", () => {
    expect(describeAttempt({ outcome: "RESPONSE", statusCode: 204 })).toEqual({
      label: "HTTP 204",
      tone: "success",
    });
    expect(describeAttempt({ outcome: "RESPONSE", statusCode: 500 }).tone).toBe(
      "warning",
    );
    expect(describeAttempt({ outcome: "RESPONSE", statusCode: 410 }).tone).toBe(
      "danger",
    );
    expect(
      describeAttempt({
        outcome: "RESPONSE",
        statusCode: 503,
        retryAfterSecs: 30,
      }).label,
    ).toBe("HTTP 503, retry after 30 s");
  });
  it("names the failures without a response", () => {
    expect(describeAttempt({ outcome: "TIMEOUT" }).label).toBe("Timed out");
    expect(describeAttempt({ outcome: "CONNECTION_ERROR" }).label).toBe(
      "Connection error",
    );
    expect(describeAttempt({ outcome: "MAPPING_ERROR" }).tone).toBe("danger");
  });
});

describe("gapMs", () => {
  it("measures between instants", () => {
    expect(gapMs("2025-01-01T00:00:00Z", "2025-01-01T00:00:02.5Z")).toBe(2500);
    expect(gapMs(null, "2025-01-01T00:00:00Z")).toBeNull();
    expect(gapMs("x", "2025-01-01T00:00:00Z")).toBeNull();
  });
});

describe("delivery filters", () => {
  it("turn the URL into the GraphQL filter", () => {
    const values = readFilters(
      DELIVERY_FILTERS,
      "status=dead_lettered&responseCode=503&system=crm&from=2025-01-01T00:00:00Z&tab=deliveries",
    );
    expect(toGraphQLFilter(DELIVERY_FILTERS, values)).toEqual({
      status: "DEAD_LETTERED",
      responseCode: 503,
      system: "crm",
      from: "2025-01-01T00:00:00Z",
    });
  });
});

describe("replayInputFor", () => {
  it("takes the endpoint, type and time range of the dead-letter filter", () => {
    const values = readFilters(
      DEAD_LETTER_FILTERS,
      "endpointId=7&eventType=order.created&requeued=false&from=2025-01-01T00:00:00Z&to=2025-02-01T00:00:00Z",
    );
    expect(replayInputFor(values)).toEqual({
      input: {
        endpointId: "7",
        eventType: "order.created",
        from: "2025-01-01T00:00:00Z",
        to: "2025-02-01T00:00:00Z",
      },
      unsupported: [],
    });
  });
  it("reports the criteria a replay cannot take", () => {
    expect(replayInputFor({ eventId: "9" })).toEqual({
      input: {},
      unsupported: ["eventId"],
    });
  });
});

describe("isJobFinished", () => {
  it("is true for terminal statuses only", () => {
    expect(isJobFinished("RUNNING")).toBe(false);
    expect(isJobFinished("PENDING")).toBe(false);
    expect(isJobFinished("SUCCEEDED")).toBe(true);
    expect(isJobFinished("FAILED")).toBe(true);
  });
});

describe("sortDeliveries", () => {
  it("orders by creation, then by id as a number", () => {
    const t = "2025-01-01T00:00:00Z";
    const list = [
      { id: "388363478492000258", createdAt: t },
      { id: "99", createdAt: t },
      { id: "388363478492000256", createdAt: t },
      { id: "1", createdAt: "2025-01-01T00:00:01Z" },
    ];
    expect(sortDeliveries(list).map((d) => d.id)).toEqual([
      "99",
      "388363478492000256",
      "388363478492000258",
      "1",
    ]);
    expect(compareIds("10", "9")).toBeGreaterThan(0);
    expect(compareIds("388363478492000256", "388363478492000256")).toBe(0);
  });
});
