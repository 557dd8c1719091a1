// Shared helpers of the console's browser tests: configuration from the environment,
// GraphQL and REST calls from node, the test receiver's controls, a signed-in page in
// headless Chromium, screenshots, and state handed from one test file to the next.
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { chromium } from "playwright-core";

function required(name) {
  const value = process.env[name];
  if (!value) throw new Error(`${name} is not set (see ui/e2e/README.md)`);
  return value.replace(/\/+$/, "");
}

export const LEDGER_URL = required("LEDGER_URL");
export const LEDGER_KEY = required("LEDGER_KEY");
export const RECEIVER_URL = required("RECEIVER_URL");
/** Where the console is served: ledgerd itself, or a Vite dev server proxying to it. */
export const CONSOLE_URL = (process.env.CONSOLE_URL ?? LEDGER_URL).replace(
  /\/+$/,
  "",
);
export const ARTIFACTS_DIR =
  process.env.ARTIFACTS_DIR ?? join(process.cwd(), "e2e-artifacts");
export const CHROMIUM = process.env.CHROMIUM ?? "/usr/bin/chromium";
/** How long a test waits for something to appear on screen. */
export const UI_TIMEOUT = Number(process.env.E2E_TIMEOUT_MS ?? 30_000);

mkdirSync(ARTIFACTS_DIR, { recursive: true });

// ---------------------------------------------------------------- state between files

const STATE_FILE = join(ARTIFACTS_DIR, "e2e-state.json");

/** What earlier test files left for later ones (`{}` when run alone). */
export function loadState() {
  try {
    return JSON.parse(readFileSync(STATE_FILE, "utf8"));
  } catch {
    return {};
  }
}

export function saveState(patch) {
  const next = { ...loadState(), ...patch };
  writeFileSync(STATE_FILE, JSON.stringify(next, null, 2));
  return next;
}

/** A suffix unique to this run, for names that must not collide with earlier runs. */
export function unique() {
  const state = loadState();
  if (state.run) return state.run;
  const run = `${Date.now().toString(36)}${Math.floor(Math.random() * 1296).toString(36)}`;
  saveState({ run });
  return run;
}

// ---------------------------------------------------------------- server calls from node

/** Runs a GraphQL operation with the admin key; throws on any error. */
export async function gql(query, variables = {}) {
  const response = await fetch(`${LEDGER_URL}/graphql`, {
    method: "POST",
    headers: {
      authorization: `Bearer ${LEDGER_KEY}`,
      "content-type": "application/json",
    },
    body: JSON.stringify({ query, variables }),
  });
  const text = await response.text();
  let body;
  try {
    body = JSON.parse(text);
  } catch {
    throw new Error(`GraphQL answered ${response.status}: ${text}`);
  }
  if (!response.ok || body.errors?.length) {
    throw new Error(
      `GraphQL answered ${response.status}: ${JSON.stringify(body.errors ?? body)}`,
    );
  }
  return body.data;
}

/** POST /v1/events; answers the recorded event (`id` is its id). */
export async function postEvent({
  eventType,
  sourceSystem = "shop",
  eventKey,
  payload,
}) {
  const response = await fetch(`${LEDGER_URL}/v1/events`, {
    method: "POST",
    headers: {
      authorization: `Bearer ${LEDGER_KEY}`,
      "content-type": "application/json",
    },
    body: JSON.stringify({
      event_type: eventType,
      source_system: sourceSystem,
      event_id: eventKey,
      payload,
    }),
  });
  const body = await response.json();
  if (response.status !== 202 && response.status !== 200) {
    throw new Error(
      `POST /v1/events answered ${response.status}: ${JSON.stringify(body)}`,
    );
  }
  return body;
}

/** The test receiver (tests/tests/console.rs). */
export const receiver = {
  hookUrl: `${RECEIVER_URL}/hook`,
  /** `true`: /hook answers 500 from now on; `false`: 200. */
  async fail(fail) {
    const response = await fetch(`${RECEIVER_URL}/control`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ fail }),
    });
    if (!response.ok)
      throw new Error(`receiver /control answered ${response.status}`);
  },
  /** Every webhook that arrived, oldest first: `{webhook_id, headers, body, status}`. */
  async received() {
    const response = await fetch(`${RECEIVER_URL}/received`);
    return response.json();
  },
};

/** Calls `check` until it answers something truthy; fails after `timeout` ms. */
export async function eventually(
  what,
  check,
  { timeout = UI_TIMEOUT, interval = 250 } = {},
) {
  const start = Date.now();
  let last;
  for (;;) {
    try {
      const value = await check();
      if (value) return value;
    } catch (error) {
      last = error;
    }
    if (Date.now() - start > timeout) {
      throw new Error(
        `timed out after ${timeout} ms waiting for ${what}${last ? `: ${last.message}` : ""}`,
      );
    }
    await sleep(interval);
  }
}

// ---------------------------------------------------------------- set-up through the API

export const EVENT_TYPE = "order.created";

/**
 * An endpoint of `system` at the receiver with its identity mapping for EVENT_TYPE,
 * registered through GraphQL (for tests that need one and do not test registering).
 */
export async function subscribeThroughApi(system, { retrySchedule } = {}) {
  const data = await gql(
    `mutation($input: RegisterEndpointInput!) {
      registerEndpoint(input: $input) { secret endpoint { id } }
    }`,
    {
      input: {
        systemName: system,
        url: receiver.hookUrl,
        ...(retrySchedule ? { retrySchedule } : {}),
      },
    },
  );
  await publishIdentityMapping(system);
  return data.registerEndpoint.endpoint.id;
}

/** Publishes the identity mapping `.` of EVENT_TYPE for `system`. */
export async function publishIdentityMapping(system) {
  await gql(
    `mutation($input: PublishMappingInput!) {
      publishMapping(input: $input) { version }
    }`,
    { input: { eventType: EVENT_TYPE, targetSystem: system, program: "." } },
  );
}

/** The deliveries of event `eventId`: `[{id, endpointId, status, attemptCount}]`. */
export async function deliveriesOf(eventId) {
  const data = await gql(
    `query($id: ID!) { event(id: $id) { deliveries { id endpointId status attemptCount } } }`,
    { id: eventId },
  );
  return data.event.deliveries;
}

// ---------------------------------------------------------------- the browser

export function slug(name) {
  return name
    .toLowerCase()
    .replace(/[^a-z0-9]+/g, "-")
    .replace(/^-|-$/g, "")
    .slice(0, 80);
}

export async function launch() {
  return chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    args: [
      "--no-sandbox",
      "--disable-background-networking",
      "--disable-component-update",
      "--disable-sync",
      "--no-first-run",
    ],
  });
}

/** Signs in on the sign-in gate with `key` (LEDGER_KEY by default). */
export async function signIn(page, key = LEDGER_KEY) {
  await page.goto(`${CONSOLE_URL}/`);
  const field = page.getByLabel(/api key/i).first();
  await field.waitFor({ timeout: UI_TIMEOUT });
  await field.fill(key);
  await page.getByRole("button", { name: /sign in/i }).click();
  // Signed in: the shell shows the key's name (the nav may be folded on narrow screens).
  await page
    .getByTestId("viewer-name")
    .waitFor({ state: "attached", timeout: UI_TIMEOUT });
}

/**
 * Runs `body(page)` in a fresh browser (1280x800), signed in unless `signedIn` is
 * false, and leaves a screenshot named after the test in ARTIFACTS_DIR, whether the
 * test passes or fails. Errors the page logs are printed when the test fails.
 */
export async function withConsole(
  t,
  body,
  { signedIn = true, viewport, timezoneId } = {},
) {
  const browser = await launch();
  const context = await browser.newContext({
    viewport: viewport ?? { width: 1280, height: 800 },
    ...(timezoneId ? { timezoneId } : {}),
  });
  const page = await context.newPage();
  page.setDefaultTimeout(UI_TIMEOUT);
  const problems = [];
  page.on("pageerror", (error) =>
    problems.push(`page error: ${error.message}`),
  );
  page.on("console", (message) => {
    if (message.type() === "error")
      problems.push(`console error: ${message.text()}`);
  });
  let failed = true;
  try {
    if (signedIn) await signIn(page);
    await body(page);
    failed = false;
  } finally {
    const file = join(ARTIFACTS_DIR, `${slug(t.name)}.png`);
    await page.screenshot({ path: file, fullPage: true }).catch(() => {});
    if (failed) {
      t.diagnostic(`screenshot: ${file}; url: ${page.url()}`);
      for (const problem of problems.slice(-20)) t.diagnostic(problem);
    }
    await browser.close();
  }
}

/**
 * Clicks `target`, then, if a confirmation dialog opens, its confirming button (the
 * console's ConfirmDialog): the tests do not depend on whether an action confirms.
 */
export async function clickAndConfirm(page, target) {
  await target.click();
  const dialog = page.locator("dialog[open], [role=dialog]").first();
  try {
    await dialog.waitFor({ state: "visible", timeout: 1500 });
  } catch {
    return;
  }
  const confirm = dialog.getByTestId("confirm-button");
  if (await confirm.count()) await confirm.click();
  else
    await dialog
      .getByRole("button", {
        name: /confirm|yes|ok|start|requeue|rebuild|replay|verify|publish/i,
      })
      .first()
      .click();
  await dialog.waitFor({ state: "hidden" }).catch(() => {});
}

/** Opens the tab named `name` (a tab, a link or a button, as the page has it). */
export async function openTab(page, name) {
  const tab = page
    .getByRole("tab", { name })
    .or(page.getByRole("link", { name }))
    .or(page.getByRole("button", { name }))
    .first();
  await tab.click();
}
