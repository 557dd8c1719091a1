// Scenario 8: a read-model rebuild started from the Sync jobs page runs to 100 %.
import assert from "node:assert/strict";
import { test } from "node:test";
import {
  CONSOLE_URL,
  clickAndConfirm,
  eventually,
  gql,
  withConsole,
} from "./lib.mjs";

test("rebuild the read models from the sync jobs page", async (t) => {
  await withConsole(t, async (page) => {
    await page.goto(`${CONSOLE_URL}/jobs`);
    await clickAndConfirm(page, page.getByTestId("rebuild-button"));

    // The page follows the job it started, named by its id.
    const follow = page.getByTestId("job-follow");
    await follow.waitFor();
    const job = await eventually(
      "the followed job's id",
      async () =>
        (await follow.getByRole("heading").first().innerText()).match(
          /\d{6,}/,
        )?.[0],
    );
    const status = follow.getByTestId("job-status");
    await eventually(
      "the rebuild to succeed on screen",
      async () => /succeeded/i.test(await status.innerText()),
      {
        timeout: 120_000,
      },
    );
    const progress = follow.getByTestId("job-progress");
    assert.equal(await progress.getAttribute("aria-valuenow"), "100");
    assert.match(await follow.innerText(), /100\s*%/);
    const { syncJob } = await gql(
      `query($id: ID!) { syncJob(id: $id) { jobType status } }`,
      { id: job },
    );
    assert.deepEqual(syncJob, {
      jobType: "projection_rebuild",
      status: "SUCCEEDED",
    });
  });
});
