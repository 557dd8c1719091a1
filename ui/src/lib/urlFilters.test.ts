import { describe, expect, it } from "vitest";
import {
  countFilters,
  localInputToUtc,
  normalize,
  pageArgs,
  readCursor,
  readFilters,
  toGraphQLFilter,
  utcToLocalInput,
  withCursor,
  writeFilters,
  type FilterSpec,
} from "./urlFilters";

const spec = {
  status: { kind: "enum", values: ["PENDING", "RETRYING", "SUCCEEDED"] },
  endpointId: { kind: "id" },
  eventType: { kind: "text" },
  responseCode: { kind: "int", min: 100, max: 599 },
  requeued: { kind: "bool" },
  from: { kind: "datetime" },
  to: { kind: "datetime" },
} satisfies FilterSpec;

describe("datetime-local ⇄ UTC", () => {
  it("reads the input as local time", () => {
    const expected = new Date(2025, 2, 1, 14, 30)
      .toISOString()
      .replace(".000Z", "Z");
    expect(localInputToUtc("2025-03-01T14:30")).toBe(expected);
  });
  it("keeps seconds", () => {
    const expected = new Date(2025, 2, 1, 14, 30, 15)
      .toISOString()
      .replace(".000Z", "Z");
    expect(localInputToUtc("2025-03-01T14:30:15")).toBe(expected);
  });
  it("rejects blanks, garbage and impossible dates", () => {
    expect(localInputToUtc("")).toBeUndefined();
    expect(localInputToUtc("yesterday")).toBeUndefined();
    expect(localInputToUtc("2025-02-31T10:00")).toBeUndefined();
    expect(localInputToUtc("2025-03-01")).toBeUndefined();
  });
  it("round-trips through the URL form", () => {
    for (const local of [
      "2025-03-01T14:30",
      "2024-12-31T23:59:59",
      "2025-07-15T00:00",
    ]) {
      expect(utcToLocalInput(localInputToUtc(local)!)).toBe(local);
    }
  });
  it("shows an instant in local wall time", () => {
    const d = new Date(Date.UTC(2025, 0, 2, 3, 4));
    const pad = (n: number) => String(n).padStart(2, "0");
    expect(utcToLocalInput("2025-01-02T03:04:00Z")).toBe(
      `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())}T${pad(d.getHours())}:${pad(d.getMinutes())}`,
    );
    expect(utcToLocalInput("nope")).toBe("");
  });
});

describe("normalize", () => {
  it("validates each kind", () => {
    expect(normalize({ kind: "id" }, " 388357683196993537 ")).toBe(
      "388357683196993537",
    );
    expect(normalize({ kind: "id" }, "12a")).toBeUndefined();
    expect(normalize({ kind: "int", min: 100, max: 599 }, "503")).toBe("503");
    expect(
      normalize({ kind: "int", min: 100, max: 599 }, "99"),
    ).toBeUndefined();
    expect(normalize({ kind: "int" }, "5.5")).toBeUndefined();
    expect(normalize({ kind: "enum", values: ["FAILED"] }, "failed")).toBe(
      "FAILED",
    );
    expect(
      normalize({ kind: "enum", values: ["FAILED"] }, "lost"),
    ).toBeUndefined();
    expect(normalize({ kind: "bool" }, "yes")).toBeUndefined();
    expect(normalize({ kind: "text" }, "   ")).toBeUndefined();
  });
  it("accepts RFC 3339 instants only, in UTC", () => {
    expect(normalize({ kind: "datetime" }, "2025-03-01T14:30:00+02:00")).toBe(
      "2025-03-01T12:30:00Z",
    );
    expect(normalize({ kind: "datetime" }, "2025-03-01T14:30:00.250Z")).toBe(
      "2025-03-01T14:30:00.250Z",
    );
    expect(normalize({ kind: "datetime" }, "2025-03-01")).toBeUndefined();
    expect(normalize({ kind: "datetime" }, "2025-03-01T14:30")).toBeUndefined();
  });
});

describe("URL ⇄ GraphQL filter", () => {
  it("reads the valid filters from the query string", () => {
    const values = readFilters(
      spec,
      "?status=retrying&endpointId=42&eventType=order.created&responseCode=503&requeued=false&from=2025-01-01T00:00:00Z&to=bad&tab=dead&after=abc",
    );
    expect(values).toEqual({
      status: "RETRYING",
      endpointId: "42",
      eventType: "order.created",
      responseCode: "503",
      requeued: "false",
      from: "2025-01-01T00:00:00Z",
    });
    expect(countFilters(values)).toBe(6);
  });
  it("types the GraphQL filter", () => {
    expect(
      toGraphQLFilter(spec, {
        status: "RETRYING",
        responseCode: "503",
        requeued: "true",
        eventType: " x ",
      }),
    ).toEqual({
      status: "RETRYING",
      responseCode: 503,
      requeued: true,
      eventType: "x",
    });
    expect(toGraphQLFilter(spec, {})).toEqual({});
  });
  it("writes filters, keeps other parameters and goes back to the first page", () => {
    const qs = writeFilters(
      spec,
      { status: "PENDING", eventType: "a b", endpointId: "x" },
      "tab=dead&after=c1&status=SUCCEEDED",
    );
    const params = new URLSearchParams(qs);
    expect(params.get("tab")).toBe("dead");
    expect(params.get("after")).toBeNull();
    expect(params.get("status")).toBe("PENDING");
    expect(params.get("eventType")).toBe("a b");
    expect(params.has("endpointId")).toBe(false);
    expect(readFilters(spec, qs)).toEqual({
      status: "PENDING",
      eventType: "a b",
    });
  });
});

describe("cursor paging in the URL", () => {
  it("reads one cursor, after winning", () => {
    expect(readCursor("after=a&before=b")).toEqual({ after: "a" });
    expect(readCursor("before=b")).toEqual({ before: "b" });
    expect(readCursor("")).toEqual({});
  });
  it("turns a cursor into connection arguments", () => {
    expect(pageArgs({}, 25)).toEqual({ first: 25 });
    expect(pageArgs({ after: "a" }, 25)).toEqual({ first: 25, after: "a" });
    expect(pageArgs({ before: "b" }, 25)).toEqual({ last: 25, before: "b" });
  });
  it("moves the cursor and keeps the filters", () => {
    expect(withCursor("status=PENDING&after=a", { before: "b" })).toBe(
      "status=PENDING&before=b",
    );
    expect(withCursor("status=PENDING&before=b", null)).toBe("status=PENDING");
  });
});
