// Scenario 4: an event sent through REST is delivered, and the console shows it
// succeed without a reload: on the endpoint's live feed, then on the event's page.
import assert from "node:assert/strict";
import { test } from "node:test";
import {
  CONSOLE_URL,
  EVENT_TYPE,
  eventually,
  loadState,
  postEvent,
  publishIdentityMapping,
  receiver,
  saveState,
  subscribeThroughApi,
  unique,
  withConsole,
} from "./lib.mjs";

test("send an event and watch its delivery succeed live", async (t) => {
  let { system, endpointId, mappingProgram } = loadState();
  if (!endpointId) {
    system = `crm-${unique()}`;
    endpointId = await subscribeThroughApi(system);
    saveState({ system, endpointId });
  } else if (!mappingProgram) {
    // Scenario 3 did not publish one (run without it).
    await publishIdentityMapping(system);
  }
  await withConsole(t, async (page) => {
    await page.goto(`${CONSOLE_URL}/endpoints/${endpointId}`);
    const feed = page.getByTestId("delivery-feed");
    await feed.waitFor();
    // The feed starts at the log's end: send the event once its subscription is live.
    await page
      .locator('[data-testid="feed-connection"][data-state="live"]')
      .waitFor();
    await page.waitForTimeout(300);
    const items = page.getByTestId("feed-item");
    const before = await items.count();
    // Lost on a reload: proves the page updated itself.
    await page.evaluate(() => {
      window.__e2eNoReload = true;
    });

    const event = await postEvent({
      eventType: EVENT_TYPE,
      eventKey: `live-${unique()}`,
      payload: {
        id: 42,
        customer: { name: "Ada" },
        items: [{ price: 3 }, { price: 4 }],
      },
    });
    saveState({ liveEventId: event.id });

    // The feed shows the delivery as it changes; it ends succeeded.
    const item = items.filter({ hasText: `event ${event.id}` });
    await item.first().waitFor();
    const succeeded = page
      .locator('[data-testid="feed-item"][data-status="succeeded" i]')
      .filter({ hasText: `event ${event.id}` })
      .first();
    await succeeded.waitFor();
    assert.ok((await items.count()) > before, "the feed grew");
    assert.equal(
      await page.evaluate(() => window.__e2eNoReload),
      true,
      "the page was not reloaded",
    );
    const deliveryId = await succeeded.getAttribute("data-delivery-id");

    const arrived = await eventually("the webhook at the receiver", async () =>
      (await receiver.received()).find(
        (a) => a.webhook_id === `msg_${deliveryId}` && a.status === 200,
      ),
    );
    if (mappingProgram)
      assert.deepEqual(arrived.body, { order: 42, total: 7, customer: "Ada" });

    // The event's page shows the delivery as succeeded.
    await page.goto(`${CONSOLE_URL}/events/${event.id}`);
    await page
      .locator('[data-testid="delivery-row"][data-status="succeeded" i]')
      .first()
      .waitFor();
  });
});
