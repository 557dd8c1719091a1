import { describe, expect, it } from "vitest";
import { parsePrecise, quoteUnsafeIntegers } from "./preciseJson";

describe("quoteUnsafeIntegers", () => {
  it("quotes integers a double cannot hold and keeps the rest", () => {
    const text =
      '{"delivery_id":388357663865446401,"n":42,"x":-9007199254740993,"f":1.5e3}';
    expect(parsePrecise(text)).toEqual({
      delivery_id: "388357663865446401",
      n: 42,
      x: "-9007199254740993",
      f: 1500,
    });
  });

  it("leaves numbers inside strings, escaped quotes included, alone", () => {
    const text =
      '{"s":"id 388357663865446401 \\" 388357663865446402","a":[388357663865446403]}';
    expect(parsePrecise(text)).toEqual({
      s: 'id 388357663865446401 " 388357663865446402',
      a: ["388357663865446403"],
    });
  });

  it("answers the same text when nothing needs quoting", () => {
    const text = '{"a":9007199254740991,"b":[1,2,{"c":"d"}]}';
    expect(quoteUnsafeIntegers(text)).toBe(text);
  });

  it("keeps big decimals and exponents as numbers", () => {
    expect(parsePrecise("[12345678901234567890.5, 1e400]")).toEqual([
      Number("12345678901234567890.5"),
      Infinity,
    ]);
  });
});
