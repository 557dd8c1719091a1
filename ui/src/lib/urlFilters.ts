/**
 * Filters kept in the URL's query string, and their GraphQL filter.
 *
 * A URL key is the GraphQL filter field it feeds (`?eventType=order.created`),
 * times are RFC 3339 UTC in the URL (a link means the same instant in every
 * time zone) and local wall time in the `datetime-local` inputs.
 */

export type FieldKind =
  | { kind: "text" }
  | { kind: "id" }
  | { kind: "int"; min?: number; max?: number }
  | { kind: "datetime" }
  | { kind: "bool" }
  | { kind: "enum"; values: readonly string[] };

export type FilterSpec = Record<string, FieldKind>;

/** The filter's values as they stand in the URL (only the valid, non-blank ones). */
export type FilterValues<S extends FilterSpec> = Partial<
  Record<keyof S & string, string>
>;

/** Cursor keys of a server-paged list in the URL. */
export const PAGE_KEYS = ["after", "before"] as const;

const pad = (n: number) => String(n).padStart(2, "0");

/**
 * A `datetime-local` value ("2025-03-01T14:30", seconds optional) read as local
 * time, in RFC 3339 UTC ("2025-03-01T13:30:00Z"); undefined when blank or invalid.
 */
export function localInputToUtc(value: string): string | undefined {
  const m =
    /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2})(?::(\d{2})(?:\.\d+)?)?$/.exec(
      value.trim(),
    );
  if (!m) return undefined;
  const [y, mo, d, h, mi, s] = m
    .slice(1)
    .map((x) => (x === undefined ? 0 : Number(x))) as number[];
  const date = new Date(y!, mo! - 1, d!, h!, mi!, s!);
  // reject rolled-over dates such as 2025-02-31
  if (
    Number.isNaN(date.getTime()) ||
    date.getMonth() !== mo! - 1 ||
    date.getDate() !== d!
  )
    return undefined;
  return toUtcString(date);
}

/** An RFC 3339 instant as a `datetime-local` value in local time ("" when invalid). */
export function utcToLocalInput(iso: string): string {
  const date = new Date(iso);
  if (Number.isNaN(date.getTime())) return "";
  const base = `${date.getFullYear()}-${pad(date.getMonth() + 1)}-${pad(date.getDate())}T${pad(date.getHours())}:${pad(date.getMinutes())}`;
  return date.getSeconds() ? `${base}:${pad(date.getSeconds())}` : base;
}

/** RFC 3339 UTC without milliseconds when there are none. */
export function toUtcString(date: Date): string {
  return date.toISOString().replace(".000Z", "Z");
}

/** Normalises one raw value by its kind; undefined when blank or invalid. */
export function normalize(
  kind: FieldKind,
  raw: string | null | undefined,
): string | undefined {
  const value = (raw ?? "").trim();
  if (value === "") return undefined;
  switch (kind.kind) {
    case "text":
      return value;
    case "id":
      return /^\d{1,20}$/.test(value) ? value : undefined;
    case "int": {
      if (!/^-?\d{1,9}$/.test(value)) return undefined;
      const n = Number(value);
      if (kind.min !== undefined && n < kind.min) return undefined;
      if (kind.max !== undefined && n > kind.max) return undefined;
      return String(n);
    }
    case "datetime": {
      const t = Date.parse(value);
      // RFC 3339 only (a date and a time with a zone); bare dates are not instants
      if (
        Number.isNaN(t) ||
        !/^\d{4}-\d{2}-\d{2}T.*(Z|[+-]\d{2}:\d{2})$/i.test(value)
      )
        return undefined;
      return toUtcString(new Date(t));
    }
    case "bool":
      return value === "true" || value === "false" ? value : undefined;
    case "enum": {
      const upper = value.toUpperCase();
      return kind.values.includes(upper) ? upper : undefined;
    }
  }
}

/** The spec's filter values in a query string (invalid ones dropped). */
export function readFilters<S extends FilterSpec>(
  spec: S,
  search: string | URLSearchParams,
): FilterValues<S> {
  const params =
    typeof search === "string" ? new URLSearchParams(search) : search;
  const values: FilterValues<S> = {};
  for (const key of Object.keys(spec) as (keyof S & string)[]) {
    const v = normalize(spec[key]!, params.get(key));
    if (v !== undefined) values[key] = v;
  }
  return values;
}

/**
 * The query string for these filter values, keeping the other parameters of
 * `keep` (e.g. `tab`) and dropping the page cursors: a new filter starts at the
 * first page.
 */
export function writeFilters<S extends FilterSpec>(
  spec: S,
  values: FilterValues<S>,
  keep: string | URLSearchParams = "",
): string {
  const params = new URLSearchParams(keep);
  for (const key of PAGE_KEYS) params.delete(key);
  for (const key of Object.keys(spec)) params.delete(key);
  for (const key of Object.keys(spec) as (keyof S & string)[]) {
    const v = normalize(spec[key]!, values[key]);
    if (v !== undefined) params.set(key, v);
  }
  return params.toString();
}

/** The GraphQL filter input for these values: ints as numbers, bools as booleans, the rest as strings. */
export function toGraphQLFilter<S extends FilterSpec>(
  spec: S,
  values: FilterValues<S>,
): Record<string, string | number | boolean> {
  const filter: Record<string, string | number | boolean> = {};
  for (const key of Object.keys(spec) as (keyof S & string)[]) {
    const v = normalize(spec[key]!, values[key]);
    if (v === undefined) continue;
    const kind = spec[key]!.kind;
    filter[key] =
      kind === "int" ? Number(v) : kind === "bool" ? v === "true" : v;
  }
  return filter;
}

/** The page cursor in the URL: forward (`after`) or backward (`before`), never both. */
export type PageCursor =
  { after: string } | { before: string } | Record<string, never>;

export function readCursor(search: string | URLSearchParams): PageCursor {
  const params =
    typeof search === "string" ? new URLSearchParams(search) : search;
  const after = params.get("after");
  if (after) return { after };
  const before = params.get("before");
  if (before) return { before };
  return {};
}

/** Connection arguments for a page of `size` at the URL's cursor. */
export function pageArgs(
  cursor: PageCursor,
  size: number,
): { first?: number; after?: string; last?: number; before?: string } {
  if ("before" in cursor) return { last: size, before: cursor.before };
  if ("after" in cursor) return { first: size, after: cursor.after };
  return { first: size };
}

/** The query string moved to another page cursor (null: the first page). */
export function withCursor(
  search: string | URLSearchParams,
  cursor: PageCursor | null,
): string {
  const params = new URLSearchParams(search);
  for (const key of PAGE_KEYS) params.delete(key);
  if (cursor && "after" in cursor) params.set("after", cursor.after);
  if (cursor && "before" in cursor) params.set("before", cursor.before);
  return params.toString();
}

/** How many filters are set (for a "3 filters" hint and the Clear button). */
export function countFilters<S extends FilterSpec>(
  values: FilterValues<S>,
): number {
  return Object.values(values).filter((v) => v !== undefined && v !== "")
    .length;
}
