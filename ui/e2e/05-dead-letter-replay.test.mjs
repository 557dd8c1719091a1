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
  rowStatuses,
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
      payload: { id: 7 },
    });
    await withConsole(t, async (page) => {
      await page.goto(`${CONSOLE_URL}/events/${event.id}`);
      await eventually(
        "the delivery to be dead-lettered on screen",
        async () => (await rowStatuses(page)).some((s) => /dead/.test(s)),
        { timeout: DEAD_LETTER_WAIT },
      );
      const [delivery] = (await deliveriesOf(event.id)).filter(
        (d) => d.endpointId === endpointId,
      );
      assert.ok(delivery, "the event has a delivery to the endpoint");
      assert.equal(delivery.status, "DEAD_LETTERED");
      const failedAttempts = delivery.attemptCount;
      saveState({
        deadLetter: {
          eventId: event.id,
          endpointId,
          deliveryId: delivery.id,
          failedAttempts,
        },
      });

      await receiver.fail(false);
      // Requeue from the dead letters tab.
      await page.goto(`${CONSOLE_URL}/deliveries`);
      await openTab(page, /dead/i);
      const requeue = page.getByTestId(`requeue-${delivery.id}`);
      await clickAndConfirm(page, requeue);

      await page.goto(`${CONSOLE_URL}/events/${event.id}`);
      await eventually(
        "the requeued delivery to succeed on screen",
        async () => (await rowStatuses(page)).some((s) => s === "succeeded"),
        { timeout: DEAD_LETTER_WAIT },
      );
      const arrivals = (await receiver.received()).filter(
        (a) => a.webhook_id === `msg_${delivery.id}`,
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
