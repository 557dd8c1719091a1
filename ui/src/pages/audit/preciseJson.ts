/**
 * JSON whose integers may exceed what a JavaScript number holds exactly: the log's
 * payloads carry 64-bit snowflake ids as JSON numbers (`"delivery_id":
 * 388357663865446401`), which `JSON.parse` would round. An audit view must show
 * them as recorded, so such integers are turned into strings before parsing.
 */

/** `text` with every integer literal beyond ±2^53 quoted (strings left untouched). */
export function quoteUnsafeIntegers(text: string): string {
  let out = "";
  let i = 0;
  let copied = 0;
  const n = text.length;
  while (i < n) {
    const c = text.charCodeAt(i);
    if (c === 34 /* " */) {
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
      while (i < n && /[0-9eE.+-]/.test(text[i])) i++;
      const token = text.slice(start, i);
      if (/^-?\d{16,}$/.test(token) && !Number.isSafeInteger(Number(token))) {
        out += text.slice(copied, start) + `"${token}"`;
        copied = i;
      }
      continue;
    }
    i++;
  }
  return copied === 0 ? text : out + text.slice(copied);
}

/** `JSON.parse`, keeping integers beyond ±2^53 exact as strings. */
export function parsePrecise(text: string): unknown {
  return JSON.parse(quoteUnsafeIntegers(text));
}

/**
 * A fetch for urql's per-operation context (`context: {fetch}`) whose JSON
 * answers keep big integers exact (as strings); everything else passes through
 * `inner`.
 */
export function preciseFetch(inner: typeof fetch): typeof fetch {
  return async (input, init) => {
    const res = await inner(input, init);
    if (!(res.headers.get("content-type") ?? "").includes("json")) return res;
    const text = await res.text();
    const fixed = quoteUnsafeIntegers(text);
    return new Response(fixed, {
      status: res.status,
      statusText: res.statusText,
      headers: res.headers,
    });
  };
}
