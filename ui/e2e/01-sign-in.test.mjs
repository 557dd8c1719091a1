// Scenario 1: sign in with the key (a wrong key is refused, showing its error code);
// the tab keeps the session over a reload; signing out asks for the key again.
import assert from "node:assert/strict";
import { test } from "node:test";
import { CONSOLE_URL, LEDGER_KEY, gql, signIn, withConsole } from "./lib.mjs";

test("sign in with the key", async (t) => {
  await withConsole(
    t,
    async (page) => {
      await page.goto(`${CONSOLE_URL}/`);
      await page.getByLabel(/api key/i).fill("ilk_not-a-real-key");
      await page.getByRole("button", { name: /sign in/i }).click();
      await page.getByText("unknown_api_key").first().waitFor();

      await signIn(page, LEDGER_KEY);
      const { viewer } = await gql(`{ viewer { name } }`);
      assert.equal(
        await page.getByTestId("viewer-name").innerText(),
        viewer.name,
      );
      const nav = page.getByRole("navigation", { name: "Main" });
      for (const section of [
        "Events",
        "Deliveries",
        "Endpoints",
        "Mappings",
        "Audit",
        "Sync jobs",
      ]) {
        await nav.getByRole("link", { name: section }).waitFor();
      }

      await page.reload();
      await page.getByTestId("viewer-name").waitFor();

      await page.getByRole("button", { name: /sign out/i }).click();
      await page.getByLabel(/api key/i).waitFor();
      await signIn(page, LEDGER_KEY);
    },
    { signedIn: false },
  );
});
