// Regenerates src/gql into a scratch folder and fails when it differs from the
// committed copy (works without git).
import { execFileSync } from "node:child_process";
import { mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

const scratch = mkdtempSync(join(tmpdir(), "ui-codegen-"));
try {
  execFileSync(
    process.execPath,
    [
      "node_modules/@graphql-codegen/cli/esm/bin.js",
      "--config",
      "codegen.ts",
      "--silent",
    ],
    { stdio: "inherit", env: { ...process.env, CODEGEN_OUT: scratch + "/" } },
  );
  const want = readdirSync(scratch).sort();
  const have = readdirSync("src/gql").sort();
  const differ = [];
  for (const name of new Set([...want, ...have])) {
    const a = want.includes(name)
      ? readFileSync(join(scratch, name), "utf8")
      : null;
    const b = have.includes(name)
      ? readFileSync(join("src/gql", name), "utf8")
      : null;
    if (a !== b) differ.push(name);
  }
  if (differ.length > 0) {
    console.error(
      `src/gql is stale (${differ.join(", ")}): run \`npm run codegen\``,
    );
    process.exit(1);
  }
  console.log("codegen: src/gql is up to date");
} finally {
  rmSync(scratch, { recursive: true, force: true });
}
