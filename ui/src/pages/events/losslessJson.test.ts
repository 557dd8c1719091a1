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
