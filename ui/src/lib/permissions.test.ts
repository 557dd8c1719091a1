import { describe, expect, it } from "vitest";
import { can } from "./permissions";

describe("can", () => {
  it("allows a scope the key holds", () => {
    expect(can(["events:read"], "events:read")).toBe(true);
  });
  it("refuses a scope the key lacks", () => {
    expect(can(["events:read"], "events:write")).toBe(false);
  });
  it("needs every scope asked for", () => {
    expect(can(["jobs:write"], "jobs:write", "audit:read")).toBe(false);
    expect(can(["jobs:write", "audit:read"], "jobs:write", "audit:read")).toBe(
      true,
    );
  });
  it("lets admin do everything", () => {
    expect(can(["admin"], "keys:admin", "audit:read")).toBe(true);
  });
  it("does not treat a scope's prefix as the scope", () => {
    expect(can(["events"], "events:read")).toBe(false);
  });
  it("allows an empty requirement", () => {
    expect(can([])).toBe(true);
  });
});
