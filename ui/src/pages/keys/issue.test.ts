import { describe, expect, it } from "vitest";
import { validateIssueForm } from "./issue";

describe("validateIssueForm", () => {
  it("needs a name", () => {
    expect(
      validateIssueForm({
        name: "  ",
        permissions: ["events:read"],
        rateLimit: "",
      }),
    ).toMatchObject({
      ok: false,
      field: "name",
    });
  });
  it("needs a permission", () => {
    expect(
      validateIssueForm({ name: "crm", permissions: [], rateLimit: "" }),
    ).toMatchObject({
      ok: false,
      field: "permissions",
    });
  });
  it("reads the rate limit", () => {
    expect(
      validateIssueForm({
        name: "crm",
        permissions: ["events:read"],
        rateLimit: "0",
      }),
    ).toMatchObject({
      ok: false,
      field: "rateLimit",
    });
    expect(
      validateIssueForm({
        name: "crm",
        permissions: ["events:read"],
        rateLimit: "2.5",
      }),
    ).toMatchObject({
      ok: false,
      field: "rateLimit",
    });
    expect(
      validateIssueForm({
        name: " crm ",
        permissions: ["events:read"],
        rateLimit: "120",
      }),
    ).toEqual({
      ok: true,
      input: {
        name: "crm",
        permissions: ["events:read"],
        rateLimitPerMinute: 120,
      },
    });
  });
  it("sends scopes in a stable order and admin alone", () => {
    expect(
      validateIssueForm({
        name: "a",
        permissions: ["events:write", "endpoints:read"],
        rateLimit: "",
      }),
    ).toEqual({
      ok: true,
      input: {
        name: "a",
        permissions: ["endpoints:read", "events:write"],
        rateLimitPerMinute: null,
      },
    });
    expect(
      validateIssueForm({
        name: "a",
        permissions: ["events:write", "admin"],
        rateLimit: "",
      }),
    ).toEqual({
      ok: true,
      input: { name: "a", permissions: ["admin"], rateLimitPerMinute: null },
    });
  });
});
