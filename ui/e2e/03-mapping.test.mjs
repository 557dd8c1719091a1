// Scenario 3: write a mapping in the Mappings editor (a program that does not compile
// shows its error), dry-run it on a pasted payload and see the output, then publish it.
import assert from "node:assert/strict";
import { test } from "node:test";
import {
  CONSOLE_URL,
  clickAndConfirm,
  EVENT_TYPE,
  eventually,
  gql,
  loadState,
  saveState,
  subscribeThroughApi,
  unique,
  withConsole,
} from "./lib.mjs";

export const PROGRAM =
  "{order: .id, total: (.items | map(.price) | add), customer: .customer.name}";

test("write a mapping, dry-run it and publish it", async (t) => {
  let { system } = loadState();
  if (!system) {
    system = `crm-${unique()}`;
    saveState({ system, endpointId: await subscribeThroughApi(system) });
  }
  await withConsole(t, async (page) => {
    await page.goto(
      `${CONSOLE_URL}/mappings/${encodeURIComponent(EVENT_TYPE)}/${encodeURIComponent(system)}`,
    );
    const program = page.getByTestId("mapping-program");
    await program.waitFor();

    await program.fill("{order: .id,");
    await page.getByTestId("mapping-compile-error").waitFor();

    await program.fill(PROGRAM);
    await page
      .getByTestId("mapping-compile-error")
      .waitFor({ state: "hidden" });
    await page.getByTestId("dry-run-payload").fill(
      JSON.stringify({
        id: 42,
        customer: { name: "Ada" },
        items: [{ price: 3 }, { price: 4 }],
      }),
    );
    await page.getByTestId("dry-run-button").click();
    const output = page.getByTestId("dry-run-output");
    await eventually("the dry run's output", async () =>
      /"customer":\s*"Ada"/.test(await output.innerText()),
    );
    const text = (await output.innerText()).replace(/\s+/g, "");
    assert.match(text, /"order":42/);
    assert.match(text, /"total":7/);

    await clickAndConfirm(page, page.getByTestId("publish-mapping"));
    const success = page.getByTestId("publish-success");
    await success.waitFor();
    const published = await eventually("the published mapping", async () => {
      const data = await gql(
        `query($t: String!, $s: String!) { mappings(filter: {eventType: $t, targetSystem: $s, liveOnly: true}) { edges { node { version program } } } }`,
        { t: EVENT_TYPE, s: system },
      );
      const live = data.mappings.edges[0]?.node;
      return live?.program === PROGRAM ? live : null;
    });
    assert.match(
      await success.innerText(),
      new RegExp(`v${published.version}\\b`),
    );
    saveState({ mappingProgram: PROGRAM, mappingVersion: published.version });
  });
});
