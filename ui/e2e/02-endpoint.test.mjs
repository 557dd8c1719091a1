// Scenario 2: register an endpoint (to the test receiver) on the Endpoints page and see
// its secret once.
import assert from "node:assert/strict";
import { test } from "node:test";
import {
  CONSOLE_URL,
  eventually,
  gql,
  receiver,
  saveState,
  unique,
  withConsole,
} from "./lib.mjs";

test("register an endpoint and see its secret once", async (t) => {
  const system = `crm-${unique()}`;
  await withConsole(t, async (page) => {
    await page.goto(`${CONSOLE_URL}/endpoints`);
    await page.getByRole("button", { name: /register endpoint/i }).click();
    const form = page
      .locator("form")
      .filter({ has: page.getByTestId("endpoint-system-name") });
    await form.getByLabel(/target system/i).fill(system);
    await form.getByLabel(/^url/i).fill(receiver.hookUrl);
    await form.getByTestId("register-endpoint").click();

    const secret = page.getByTestId("endpoint-secret");
    await secret.waitFor();
    assert.match(await secret.innerText(), /^whsec_\S+$/);

    const endpointId = await eventually(
      "the endpoint in the read models",
      async () => {
        const data = await gql(
          `query($system: String!) { endpoints(filter: {systemName: $system}) { edges { node { id url } } } }`,
          { system },
        );
        return data.endpoints.edges[0]?.node.id;
      },
    );
    saveState({ system, endpointId });

    // Shown once: gone when dismissed, and not on the endpoint's own page.
    await page.getByTestId("secret-done").click();
    await secret.waitFor({ state: "detached" });
    await page.getByText(system).first().waitFor();
    await page.goto(`${CONSOLE_URL}/endpoints/${endpointId}`);
    await page.getByText(receiver.hookUrl).first().waitFor();
    assert.equal(
      await page.getByText(/whsec_/).count(),
      0,
      "no secret on the endpoint's page",
    );
  });
});
