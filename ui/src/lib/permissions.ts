/** Every scope an API key can hold; `admin` holds them all. */
export const SCOPES = [
  "keys:admin",
  "endpoints:read",
  "endpoints:write",
  "events:read",
  "events:write",
  "deliveries:read",
  "deliveries:write",
  "mappings:read",
  "mappings:write",
  "jobs:write",
  "audit:read",
  "admin",
] as const;

export type Scope = (typeof SCOPES)[number];

/**
 * Whether a key with `permissions` holds every scope in `scopes`.
 * `null` permissions mean "not known" (a server without `viewer`): everything is
 * allowed and the server has the last word, field by field.
 */
export function can(
  permissions: readonly string[] | null,
  ...scopes: Scope[]
): boolean {
  if (permissions == null) return true;
  if (permissions.includes("admin")) return true;
  return scopes.every((s) => permissions.includes(s));
}
