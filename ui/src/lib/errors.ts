import type { CombinedError } from "urql";

/** An error as the console shows it: the API's stable code and a sentence. */
export interface AppError {
  code: string;
  message: string;
  /** For `missing_scope`: the scope that was missing. */
  scope?: string;
  /** For `rate_limited`: seconds to wait, from `Retry-After`. */
  retryAfterSecs?: number;
}

/** Codes that mean the key no longer works: the console goes back to sign-in. */
export const AUTH_CODES = new Set([
  "missing_api_key",
  "malformed_authorization",
  "unknown_api_key",
  "revoked_api_key",
  "invalid_api_key",
]);

interface GraphQLErrorLike {
  message: string;
  extensions?: Record<string, unknown>;
}

function fromGraphQLError(e: GraphQLErrorLike): AppError {
  const ext = e.extensions ?? {};
  const code = typeof ext.code === "string" ? ext.code : "error";
  const out: AppError = { code, message: e.message || code };
  if (typeof ext.scope === "string") out.scope = ext.scope;
  if (typeof ext.retryAfterSecs === "number")
    out.retryAfterSecs = ext.retryAfterSecs;
  return out;
}

/**
 * Turns whatever a request failed with (urql's CombinedError, a REST-shaped
 * `{code, detail}` body, a thrown Error) into `{code, message}`.
 */
export function toAppError(err: unknown): AppError | null {
  if (err == null) return null;
  if (typeof err !== "object") return { code: "error", message: String(err) };
  const e = err as Partial<CombinedError> & {
    code?: unknown;
    detail?: unknown;
    message?: unknown;
  };
  if (Array.isArray(e.graphQLErrors) && e.graphQLErrors.length > 0) {
    return fromGraphQLError(e.graphQLErrors[0] as GraphQLErrorLike);
  }
  if (e.networkError) {
    const msg = e.networkError.message || "the server could not be reached";
    return { code: "network_error", message: msg };
  }
  if (typeof e.code === "string") {
    return {
      code: e.code,
      message: typeof e.detail === "string" ? e.detail : e.code,
    };
  }
  if (Array.isArray((e as { errors?: unknown }).errors)) {
    const first = (e as { errors: GraphQLErrorLike[] }).errors[0];
    if (first) return fromGraphQLError(first);
  }
  if (typeof e.message === "string")
    return { code: "error", message: e.message };
  return { code: "error", message: "something went wrong" };
}

/** True when the error means the key itself was refused. */
export function isAuthError(err: AppError | null): boolean {
  return err != null && AUTH_CODES.has(err.code);
}

/**
 * Rewrites a REST-shaped error body (`{"code","detail"}`, the shape the key
 * layer answers 401/429 in) as a GraphQL error body, so urql reports it with
 * `extensions.code` like every other error. Returns null for bodies that are
 * GraphQL already.
 */
export function restBodyToGraphQL(
  body: unknown,
  status: number,
  retryAfter: string | null,
): { errors: GraphQLErrorLike[] } | null {
  if (body == null || typeof body !== "object") return null;
  const b = body as Record<string, unknown>;
  if ("errors" in b || "data" in b) return null;
  if (typeof b.code !== "string") return null;
  const extensions: Record<string, unknown> = { code: b.code, status };
  const secs = retryAfter == null ? NaN : Number(retryAfter);
  if (Number.isFinite(secs)) extensions.retryAfterSecs = secs;
  return {
    errors: [
      { message: typeof b.detail === "string" ? b.detail : b.code, extensions },
    ],
  };
}
