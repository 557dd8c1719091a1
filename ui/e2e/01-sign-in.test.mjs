// Scenario 1: sign in with the key (a wrong key is refused, showing its error code).
import assert from "node:assert/strict";
import { test } from "node:test";
import {
  CONSOLE_URL,
  LEDGER_KEY,
  UI_TIMEOUT,
  gql,
  signIn,
  withConsole,
} from "./lib.mjs";

test("sign in with the key", async (t) => {
  await withConsole(
    t,
    async (page) => {
      await page.goto(`${CONSOLE_URL}/`);
      const field = page.getByLabel(/api key/i).first();
      await field.fill("ilk_not-a-real-key");
      await page.getByRole("button", { name: /sign in/i }).click();
      await page
        .getByText(/unknown_api_key/)
        .first()
        .waitFor({ timeout: UI_TIMEOUT });

      await signIn(page, LEDGER_KEY);
      const { viewer } = await gql(`{ viewer { name } }`);
      await page.getByText(viewer.name).first().waitFor();
      assert.ok(await page.getByRole("navigation").first().isVisible());
    },
    { signedIn: false },
  );
});
