import { SCOPES, type Scope } from "../../lib/permissions";

export interface IssueForm {
  name: string;
  permissions: Scope[];
  /** As typed; empty: the service's default. */
  rateLimit: string;
}

export type IssueInput = {
  name: string;
  permissions: string[];
  rateLimitPerMinute: number | null;
};

/** Checks the form; answers the mutation's input, or what is wrong with it. */
export function validateIssueForm(
  form: IssueForm,
):
  | { ok: true; input: IssueInput }
  | { ok: false; field: string; message: string } {
  const name = form.name.trim();
  if (name.length === 0)
    return { ok: false, field: "name", message: "Give the key a name." };
  if (name.length > 100) {
    return {
      ok: false,
      field: "name",
      message: "A name has at most 100 characters.",
    };
  }
  if (form.permissions.length === 0) {
    return {
      ok: false,
      field: "permissions",
      message: "Choose at least one permission.",
    };
  }
  let rateLimitPerMinute: number | null = null;
  const rate = form.rateLimit.trim();
  if (rate !== "") {
    const n = Number(rate);
    if (!Number.isInteger(n) || n < 1) {
      return {
        ok: false,
        field: "rateLimit",
        message:
          "The rate limit is a whole number of requests per minute, at least 1.",
      };
    }
    rateLimitPerMinute = n;
  }
  // `admin` holds every scope: send it alone.
  const permissions = form.permissions.includes("admin")
    ? ["admin"]
    : SCOPES.filter((s) => form.permissions.includes(s));
  return { ok: true, input: { name, permissions, rateLimitPerMinute } };
}

/** What each scope lets a key do, for the checkboxes. */
export const SCOPE_HINTS: Record<Scope, string> = {
  "keys:admin": "issue, list and revoke API keys",
  "endpoints:read": "read endpoints",
  "endpoints:write": "register, change, disable and delete endpoints",
  "events:read": "read events",
  "events:write": "post events",
  "deliveries:read": "read deliveries, the retry queue and dead letters",
  "deliveries:write": "requeue deliveries, replay dead letters",
  "mappings:read": "read mappings",
  "mappings:write": "publish and retire mappings",
  "jobs:write": "run and follow sync jobs, manage subscriptions",
  "audit:read": "read the log, history and chain verification",
  admin: "every scope, including granting admin",
};
