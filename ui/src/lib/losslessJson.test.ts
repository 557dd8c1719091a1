import { describe, expect, it } from "vitest";
import { parseLossless, quoteUnsafeIntegers } from "./losslessJson";

describe("quoteUnsafeIntegers", () => {
  it("quotes integers a double cannot hold", () => {
    expect(
      parseLossless('{"a":388357683196993537,"b":[-388357683196993537]}'),
    ).toEqual({
      a: "388357683196993537",
      b: ["-388357683196993537"],
    });
  });
  it("leaves safe numbers, floats and exponents alone", () => {
    const text =
      '{"a":1,"b":-2.5,"c":1e300,"d":9007199254740991,"e":12345678901234567.5}';
    expect(quoteUnsafeIntegers(text)).toBe(text);
  });
  it("quotes the first unsafe integer", () => {
    expect(quoteUnsafeIntegers("[9007199254740992]")).toBe(
      '["9007199254740992"]',
    );
  });
  it("does not touch digits inside strings, escaped quotes included", () => {
    const text =
      '{"s":"id 388357683196993537 \\" 388357683196993537","k\\\\":388357683196993537}';
    expect(parseLossless(text)).toEqual({
      s: 'id 388357683196993537 " 388357683196993537',
      "k\\": "388357683196993537",
    });
  });
  it("quotes ids in a log payload and keeps the small numbers", () => {
    const text =
      '{"delivery_id":388357663865446401,"n":42,"x":-9007199254740993,"f":1.5e3}';
    expect(parseLossless(text)).toEqual({
      delivery_id: "388357663865446401",
      n: 42,
      x: "-9007199254740993",
      f: 1500,
    });
  });
  it("answers the same text when nothing needs quoting", () => {
    const text = '{"a":9007199254740991,"b":[1,2,{"c":"d"}]}';
    expect(quoteUnsafeIntegers(text)).toBe(text);
  });
  it("keeps big decimals and exponents as numbers", () => {
    expect(parseLossless("[12345678901234567890.5, 1e400]")).toEqual([
      Number("12345678901234567890.5"),
      Infinity,
    ]);
  });
  it("keeps true, false, null and nesting", () => {
    expect(
      parseLossless('{"a":[true,false,null,{"x":100000000000000000000}]}'),
    ).toEqual({
      a: [true, false, null, { x: "100000000000000000000" }],
    });
  });
});

describe("losslessFetch", () => {
  it("rewrites JSON answers and leaves others alone", async () => {
    const { losslessFetch } = await import("./losslessJson");
    const inner = (async (input: RequestInfo | URL) =>
      String(input) === "/json"
        ? new Response('{"data":{"x":388357683196993537}}', {
            status: 200,
            headers: { "content-type": "application/json" },
          })
        : new Response("388357683196993537", {
            headers: { "content-type": "text/plain" },
          })) as typeof fetch;
    const f = losslessFetch(inner);
    expect(await (await f("/json")).json()).toEqual({
      data: { x: "388357683196993537" },
    });
    expect(await (await f("/text")).text()).toBe("388357683196993537");
  });
  it("drops the length and encoding of the rewritten body", async () => {
    const { losslessFetch } = await import("./losslessJson");
    const body = '{"data":{"x":388357683196993537}}';
    const inner = (async () =>
      new Response(body, {
        headers: {
          "content-type": "application/json",
          "content-length": String(body.length),
          "content-encoding": "gzip",
        },
      })) as typeof fetch;
    const res = await losslessFetch(inner)("/json");
    expect(res.headers.get("content-length")).toBeNull();
    expect(res.headers.get("content-encoding")).toBeNull();
    expect(res.headers.get("content-type")).toBe("application/json");
  });
});

describe("hasQuotedIntegers", () => {
  it("finds long digit strings anywhere", async () => {
    const { hasQuotedIntegers, parseLossless } = await import("./losslessJson");
    expect(
      hasQuotedIntegers(parseLossless('{"a":[{"b":388357683196993537}]}')),
    ).toBe(true);
    expect(hasQuotedIntegers({ a: [1, "x", { b: 2 }], c: "123" })).toBe(false);
    expect(hasQuotedIntegers(null)).toBe(false);
  });
});
