/** Input checks of the dry-run panel. */

/** Parses the payload box: JSON, or why not. */
export function parsePayload(
  text: string,
): { ok: true; value: unknown } | { ok: false; error: string } {
  if (text.trim() === "") return { ok: false, error: "Paste a JSON payload." };
  try {
    return { ok: true, value: JSON.parse(text) as unknown };
  } catch (e) {
    return { ok: false, error: e instanceof Error ? e.message : "not JSON" };
  }
}

/** An event id as the API takes it: a positive 64-bit integer in decimal. */
export function validEventId(text: string): boolean {
  const t = text.trim();
  if (!/^[0-9]{1,20}$/.test(t)) return false;
  const n = BigInt(t);
  return n > 0n && n <= 9223372036854775807n;
}
