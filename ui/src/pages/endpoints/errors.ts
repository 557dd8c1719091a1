/** Reads the extras a GraphQL error carries besides its code (`field`, `line`, ...). */
export function errorExtensions(err: unknown): Record<string, unknown> {
  const e = err as
    | { graphQLErrors?: { extensions?: Record<string, unknown> }[] }
    | null
    | undefined;
  return e?.graphQLErrors?.[0]?.extensions ?? {};
}

/** The input field an error names (`extensions.field`), if any. */
export function errorField(err: unknown): string | null {
  const f = errorExtensions(err).field;
  return typeof f === "string" ? f : null;
}
