import { CombinedError } from "urql";
import { describe, expect, it } from "vitest";
import { isAuthError, restBodyToGraphQL, toAppError } from "./errors";

describe("toAppError", () => {
  it("reads the code of the first GraphQL error", () => {
    const err = new CombinedError({
      graphQLErrors: [
        {
          message: "this API key lacks the `audit:read` scope",
          extensions: { code: "missing_scope", scope: "audit:read" },
        },
      ],
    });
    expect(toAppError(err)).toEqual({
      code: "missing_scope",
      message: "this API key lacks the `audit:read` scope",
      scope: "audit:read",
    });
  });
  it("reports network errors", () => {
    const err = new CombinedError({
      networkError: new Error("Failed to fetch"),
    });
    expect(toAppError(err)).toEqual({
      code: "network_error",
      message: "Failed to fetch",
    });
  });
  it("reads REST-shaped bodies", () => {
    expect(
      toAppError({ code: "unknown_api_key", detail: "no API key matches" }),
    ).toEqual({
      code: "unknown_api_key",
      message: "no API key matches",
    });
  });
  it("reads GraphQL-shaped bodies", () => {
    expect(
      toAppError({
        errors: [
          { message: "send a key", extensions: { code: "missing_api_key" } },
        ],
      }),
    ).toEqual({ code: "missing_api_key", message: "send a key" });
  });
  it("answers null for no error", () => {
    expect(toAppError(undefined)).toBeNull();
    expect(toAppError(null)).toBeNull();
  });
  it("tells auth errors", () => {
    expect(isAuthError({ code: "revoked_api_key", message: "" })).toBe(true);
    expect(isAuthError({ code: "missing_scope", message: "" })).toBe(false);
    expect(isAuthError(null)).toBe(false);
  });
});

describe("restBodyToGraphQL", () => {
  it("rewrites a 429 with Retry-After", () => {
    expect(
      restBodyToGraphQL(
        { code: "rate_limited", detail: "slow down" },
        429,
        "7",
      ),
    ).toEqual({
      errors: [
        {
          message: "slow down",
          extensions: { code: "rate_limited", status: 429, retryAfterSecs: 7 },
        },
      ],
    });
  });
  it("leaves GraphQL bodies alone", () => {
    expect(restBodyToGraphQL({ errors: [] }, 401, null)).toBeNull();
    expect(restBodyToGraphQL("text", 500, null)).toBeNull();
  });
  it("turns a rewritten body into an AppError", () => {
    const body = restBodyToGraphQL(
      { code: "unknown_api_key", detail: "no" },
      401,
      null,
    );
    const err = new CombinedError({ graphQLErrors: body!.errors });
    expect(toAppError(err)?.code).toBe("unknown_api_key");
  });
});
