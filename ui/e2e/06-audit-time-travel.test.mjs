// Scenario 6: the dead-lettered-then-replayed delivery's stream (aggregate `Delivery`,
// id `<eventId>:<endpointId>`) in the Audit page: its history, and time travel to its
// state between two attempts (after the first retry was scheduled: attempts = 1),
// then to an instant after everything (succeeded).
import assert from "node:assert/strict";
import { test } from "node:test";
import {
  CONSOLE_URL,
  deliveriesOf,
  EVENT_TYPE,
  eventually,
  gql,
  loadState,
  postEvent,
  receiver,
  saveState,
  subscribeThroughApi,
  unique,
  withConsole,
} from "./lib.mjs";

/** A delivery that failed once and then succeeded, when scenario 5 left none. */
async function deliveryWithARetry() {
  const endpointId = await subscribeThroughApi(`retry-${unique()}`, {
    retrySchedule: [1, 1],
  });
  const mine = async (eventId) =>
    (await deliveriesOf(eventId)).find((d) => d.endpointId === endpointId);
  await receiver.fail(true);
  let event;
  try {
    event = await postEvent({
      eventType: EVENT_TYPE,
      eventKey: `tt-${unique()}`,
      payload: { id: 8 },
    });
    await eventually(
      "a failed attempt",
      async () => (await mine(event.id))?.attemptCount >= 1,
    );
  } finally {
    await receiver.fail(false);
  }
  await eventually(
    "the retry to succeed",
    async () => (await mine(event.id))?.status === "SUCCEEDED",
  );
  return { eventId: event.id, endpointId };
}

test("travel through a delivery's history in the audit page", async (t) => {
  const { deadLetter } = loadState();
  const { eventId, endpointId } = deadLetter ?? (await deliveryWithARetry());
  const id = `${eventId}:${endpointId}`;
  saveState({ auditStream: id });
  const { history } = await gql(
    `query($id: String!) { history(aggregateType: DELIVERY, aggregateId: $id) { sequence eventType } }`,
    { id },
  );
  const retry = history.find((e) => e.eventType === "DeliveryRetryScheduled");
  assert.ok(retry, `a retry in ${JSON.stringify(history)}`);

  await withConsole(
    t,
    async (page) => {
      await page.goto(
        `${CONSOLE_URL}/audit?type=Delivery&id=${encodeURIComponent(id)}`,
      );
      // The timeline: every event of the stream, in order (scenario 5's delivery
      // was dead-lettered, requeued and delivered).
      const timeline = page.getByTestId("audit-event");
      await timeline.nth(history.length - 1).waitFor();
      assert.equal(await timeline.count(), history.length);
      for (const [i, event] of history.entries()) {
        assert.match(
          await timeline.nth(i).innerText(),
          new RegExp(`#${event.sequence}\\s+${event.eventType}`),
        );
      }
      if (deadLetter) {
        assert.ok(history.some((e) => e.eventType === "DeliveryDeadLettered"));
        assert.ok(history.some((e) => e.eventType === "DeliveryRequeued"));
      }

      // The slider: state after event k, k = the first retry's sequence.
      const slider = page.getByTestId("time-travel-slider");
      await slider.focus();
      await page.keyboard.press("Home");
      for (let k = 1; k < retry.sequence; k++)
        await page.keyboard.press("ArrowRight");
      assert.equal(await slider.inputValue(), String(retry.sequence));
      const state = page.getByTestId("state-json");
      await eventually("the state between two attempts", async () => {
        const text = (await state.innerText()).replace(/\s+/g, "");
        return (
          /"attempts":1[,}]/.test(text) && /"status":"retrying"/.test(text)
        );
      });

      // The instant picker: a minute from now, in the browser's local time.
      const later = await page.evaluate(() => {
        const d = new Date(Date.now() + 60_000);
        const p = (n) => String(n).padStart(2, "0");
        return `${d.getFullYear()}-${p(d.getMonth() + 1)}-${p(d.getDate())}T${p(d.getHours())}:${p(d.getMinutes())}`;
      });
      await page.locator('input[type="datetime-local"]').first().fill(later);
      await eventually("the state now", async () =>
        /"status":"succeeded"/.test(
          (await state.innerText()).replace(/\s+/g, ""),
        ),
      );
    },
    // Not UTC, so that a time shown or sent in the wrong zone shows.
    { timezoneId: "America/Sao_Paulo" },
  );
});
