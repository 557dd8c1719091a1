// Scenario 7: the stream's chain is intact (badge), and the whole log's verification,
// started from the Audit page, runs to 100 % and succeeds.
import assert from "node:assert/strict";
import { test } from "node:test";
import {
  CONSOLE_URL,
  clickAndConfirm,
  eventually,
  gql,
  loadState,
  withConsole,
} from "./lib.mjs";

/** The delivery stream of scenarios 5 and 6, else the first API key's stream. */
async function stream() {
  const { auditStream } = loadState();
  if (auditStream) return { type: "Delivery", id: auditStream };
  const data = await gql(
    `{ log(first: 1, aggregateType: API_KEY) { edges { node { aggregateId } } } }`,
  );
  return { type: "ApiKey", id: data.log.edges[0].node.aggregateId };
}

test("verify the chain and the whole log", async (t) => {
  const { type, id } = await stream();
  await withConsole(t, async (page) => {
    await page.goto(
      `${CONSOLE_URL}/audit?type=${type}&id=${encodeURIComponent(id)}`,
    );
    const badge = page.getByTestId("chain-badge");
    await eventually("the chain badge to say intact", async () =>
      /intact/i.test(await badge.innerText()),
    );

    await clickAndConfirm(
      page,
      page.getByRole("button", { name: /verify whole log/i }),
    );
    const status = page.getByTestId("verify-status");
    await eventually(
      "the whole-log verification to succeed",
      async () => /succeeded/i.test(await status.innerText()),
      {
        timeout: 60_000,
      },
    );
    const progress = page.getByTestId("verify-progress");
    assert.equal(await progress.getAttribute("aria-valuenow"), "100");

    const job = new URL(page.url()).searchParams.get("verify");
    assert.ok(job, `the job in the address: ${page.url()}`);
    const { syncJob } = await gql(
      `query($id: ID!) { syncJob(id: $id) { jobType status } }`,
      { id: job },
    );
    assert.deepEqual(syncJob, {
      jobType: "chain_verification",
      status: "SUCCEEDED",
    });
  });
});
