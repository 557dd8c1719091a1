// Builds the console into a scratch folder and fails when it differs from the
// committed bundle in dist/ (which ledgerd embeds): run `npm run build` and commit
// dist/ with the change to src/.
import { execFileSync } from "node:child_process";
import {
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { join, relative } from "node:path";

function files(root, dir = root) {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    return statSync(path).isDirectory()
      ? files(root, path)
      : [relative(root, path)];
  });
}

const scratch = mkdtempSync(join(tmpdir(), "ui-dist-"));
try {
  execFileSync(
    process.execPath,
    [
      "node_modules/vite/bin/vite.js",
      "build",
      "--outDir",
      scratch,
      "--emptyOutDir",
      "--logLevel",
      "warn",
    ],
    { stdio: "inherit" },
  );
  const want = files(scratch).sort();
  const have = files("dist").sort();
  const differ = [...new Set([...want, ...have])].filter((name) => {
    const a = want.includes(name) ? readFileSync(join(scratch, name)) : null;
    const b = have.includes(name) ? readFileSync(join("dist", name)) : null;
    return a === null || b === null || !a.equals(b);
  });
  if (differ.length > 0) {
    console.error(
      `ui/dist is stale (${differ.join(", ")}): run \`npm --prefix ui run build\` and commit ui/dist`,
    );
    process.exit(1);
  }
  console.log(
    `dist: ui/dist matches a build of the source (${have.length} files)`,
  );
} finally {
  rmSync(scratch, { recursive: true, force: true });
}
