// Runs the console's browser tests one file after another (they share the ledger and
// hand state on through ARTIFACTS_DIR/e2e-state.json) with node's test runner.
// Environment: LEDGER_URL, LEDGER_KEY, RECEIVER_URL, ARTIFACTS_DIR; optional
// CONSOLE_URL (where the console is served, default LEDGER_URL), CHROMIUM
// (default /usr/bin/chromium), E2E_TIMEOUT_MS, and file name filters as arguments
// (`node e2e/run.mjs audit rebuild` runs the files whose names contain either).
import { spawnSync } from "node:child_process";
import { existsSync, mkdirSync, readdirSync, rmSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const here = dirname(fileURLToPath(import.meta.url));
const missing = ["LEDGER_URL", "LEDGER_KEY", "RECEIVER_URL"].filter(
  (name) => !process.env[name],
);
if (missing.length) {
  console.error(`e2e: set ${missing.join(", ")} (see ui/e2e/README.md)`);
  process.exit(2);
}
const chromium = process.env.CHROMIUM ?? "/usr/bin/chromium";
if (!existsSync(chromium)) {
  console.error(
    `e2e: ${chromium} is missing: install it with \`apt-get install -y chromium\``,
  );
  process.exit(2);
}
const artifacts =
  process.env.ARTIFACTS_DIR ?? join(here, "..", "e2e-artifacts");
mkdirSync(artifacts, { recursive: true });
rmSync(join(artifacts, "e2e-state.json"), { force: true });

const filters = process.argv.slice(2);
const files = readdirSync(here)
  .filter((name) => name.endsWith(".test.mjs"))
  .filter((name) => !filters.length || filters.some((f) => name.includes(f)))
  .sort()
  .map((name) => join(here, name));
if (!files.length) {
  console.error(`e2e: no test file matches ${filters.join(" ")}`);
  process.exit(2);
}

const result = spawnSync(
  process.execPath,
  ["--test", "--test-concurrency=1", "--test-reporter=spec", ...files],
  { stdio: "inherit", env: { ...process.env, ARTIFACTS_DIR: artifacts } },
);
process.exit(result.status ?? 1);
