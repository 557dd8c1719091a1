/**
 * JSON with 64-bit integers kept exact.
 *
 * The log stores ids inside event payloads as JSON numbers (snowflakes, up to
 * 2^63, e.g. `"delivery_id": 388357663865446401`), which `JSON.parse` rounds to
 * the nearest double. The events and audit pages must show them as recorded.
 */

/**
 * `text` with every integer literal outside a string that a double cannot hold
 * exactly (beyond ±2^53) rewritten into a string literal of the same digits, so
 * that the parsed value keeps them (as a string). Decimals and exponents stay
 * numbers; `text` itself comes back when nothing needs quoting.
 */
export function quoteUnsafeIntegers(text: string): string {
  let out = "";
  let last = 0;
  let i = 0;
  const n = text.length;
  while (i < n) {
    const c = text.charCodeAt(i);
    if (c === 34 /* " */) {
      // skip the string literal
      i++;
      while (i < n) {
        const d = text.charCodeAt(i);
        if (d === 92 /* \ */) i += 2;
        else if (d === 34) {
          i++;
          break;
        } else i++;
      }
      continue;
    }
    if (c === 45 /* - */ || (c >= 48 && c <= 57)) {
      const start = i;
      i++;
      while (i < n && /[0-9.eE+-]/.test(text[i] as string)) i++;
      const token = text.slice(start, i);
      if (/^-?\d+$/.test(token) && !Number.isSafeInteger(Number(token))) {
        out += text.slice(last, start) + '"' + token + '"';
        last = i;
      }
      continue;
    }
    i++;
  }
  return last === 0 ? text : out + text.slice(last);
}

/** `JSON.parse` keeping integers beyond 2^53 exact, as strings. */
export function parseLossless(text: string): unknown {
  return JSON.parse(quoteUnsafeIntegers(text));
}

/**
 * `inner` (e.g. the client's fetch, which handles refused keys) whose JSON
 * answers keep big integers exact (see `quoteUnsafeIntegers`). Use it for one
 * urql operation: `context: { fetch: losslessFetch(inner) }`.
 */
export function losslessFetch(inner: typeof fetch = fetch): typeof fetch {
  return async (input, init) => {
    const response = await inner(input, init);
    const type = response.headers.get("content-type") ?? "";
    if (!type.includes("json")) return response;
    const text = await response.text();
    const headers = new Headers(response.headers);
    headers.delete("content-length");
    headers.delete("content-encoding");
    return new Response(quoteUnsafeIntegers(text), {
      status: response.status,
      statusText: response.statusText,
      headers,
    });
  };
}

/**
 * Whether a value parsed by `parseLossless` (or `losslessFetch`) holds a string
 * that may be an integer quoted to keep its digits (16 or more digits).
 */
export function hasQuotedIntegers(value: unknown): boolean {
  if (typeof value === "string") return /^-?\d{16,}$/.test(value);
  if (Array.isArray(value)) return value.some(hasQuotedIntegers);
  if (value !== null && typeof value === "object")
    return Object.values(value).some(hasQuotedIntegers);
  return false;
}
