// Scenario 5: with the receiver failing, an event to an endpoint with a short retry
// schedule ([1, 1]) is dead-lettered (seen on screen); with the receiver back, it is
// requeued from the console and seen delivered.
import assert from "node:assert/strict";
import { test } from "node:test";
import {
  CONSOLE_URL,
  EVENT_TYPE,
  clickAndConfirm,
  deliveriesOf,
  eventually,
  openTab,
  postEvent,
  receiver,
  saveState,
  subscribeThroughApi,
  unique,
  withConsole,
} from "./lib.mjs";

const DEAD_LETTER_WAIT = 60_000;

test("a dead-lettered delivery is replayed from the console", async (t) => {
  const system = `flaky-${unique()}`;
  const endpointId = await subscribeThroughApi(system, {
    retrySchedule: [1, 1],
  });
  await receiver.fail(true);
  try {
    const event = await postEvent({
      eventType: EVENT_TYPE,
      eventKey: `dlq-${unique()}`,
      payload: { id: 7, customer: { name: "Bob" }, items: [{ price: 1 }] },
    });
    // The event goes to every endpoint of its type: follow this endpoint's delivery.
    const { id: deliveryId } = await eventually(
      "the delivery to the endpoint",
      async () =>
        (await deliveriesOf(event.id)).find((d) => d.endpointId === endpointId),
    );
    await withConsole(t, async (page) => {
      const row = page.locator(
        `[data-testid="delivery-row"][data-delivery-id="${deliveryId}"]`,
      );
      const status = async () =>
        ((await row.getAttribute("data-status")) ?? "").toLowerCase();
      await page.goto(`${CONSOLE_URL}/events/${event.id}`);
      await eventually(
        "the delivery to be dead-lettered on screen",
        async () => (await status()) === "dead_lettered",
        {
          timeout: DEAD_LETTER_WAIT,
        },
      );
      const delivery = (await deliveriesOf(event.id)).find(
        (d) => d.id === deliveryId,
      );
      assert.equal(delivery.status, "DEAD_LETTERED");
      const failedAttempts = delivery.attemptCount;
      assert.ok(failedAttempts >= 1, `${failedAttempts} failed attempts`);
      saveState({
        deadLetter: {
          eventId: event.id,
          endpointId,
          deliveryId,
          failedAttempts,
        },
      });

      await receiver.fail(false);
      // Requeue from the dead letters tab.
      await page.goto(`${CONSOLE_URL}/deliveries`);
      await openTab(page, /dead/i);
      await clickAndConfirm(page, page.getByTestId(`requeue-${deliveryId}`));

      await page.goto(`${CONSOLE_URL}/events/${event.id}`);
      await eventually(
        "the requeued delivery to succeed on screen",
        async () => (await status()) === "succeeded",
        {
          timeout: DEAD_LETTER_WAIT,
        },
      );
      const arrivals = (await receiver.received()).filter(
        (a) => a.webhook_id === `msg_${deliveryId}`,
      );
      assert.ok(
        arrivals.length > failedAttempts,
        `${arrivals.length} arrivals`,
      );
      assert.equal(arrivals.at(-1).status, 200);
      assert.ok(
        arrivals.slice(0, failedAttempts).every((a) => a.status === 500),
      );
    });
  } finally {
    await receiver.fail(false);
  }
});
