/** Ordering of the states of one endpoint read at different times. */

/**
 * Whether `a` is an older state of the endpoint than `b` (by `updatedAt`): a
 * read model still behind a mutation's answer, which the page does not show.
 */
export function isOlder(
  a: { updatedAt: string },
  b: { updatedAt: string },
): boolean {
  return Date.parse(a.updatedAt) < Date.parse(b.updatedAt);
}
