import { readdirSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { gzipSync } from "node:zlib";
import react from "@vitejs/plugin-react";
import type { Plugin } from "vite";
import { defineConfig } from "vitest/config";

// Writes a gzip twin (`.gz`) of each text file of the bundle; ledgerd sends it to
// clients that accept gzip. zlib's output carries no time stamp, so the twins are
// as deterministic as the files.
function gzipTwins(): Plugin {
  let outDir = "dist";
  const walk = (dir: string): string[] =>
    readdirSync(dir).flatMap((name) => {
      const path = join(dir, name);
      return statSync(path).isDirectory() ? walk(path) : [path];
    });
  return {
    name: "gzip-twins",
    apply: "build",
    configResolved(config) {
      outDir = resolve(config.root, config.build.outDir);
    },
    closeBundle() {
      for (const path of walk(outDir)) {
        if (/\.(js|css|html|svg|json)$/.test(path)) {
          writeFileSync(
            `${path}.gz`,
            gzipSync(readFileSync(path), { level: 9 }),
          );
        }
      }
    },
  };
}

const target = process.env.LEDGER_URL ?? "http://127.0.0.1:8080";

export default defineConfig({
  plugins: [react(), gzipTwins()],
  server: {
    proxy: {
      "/graphql": { target, ws: true, changeOrigin: true },
      "/v1": { target, changeOrigin: true },
      "/health": { target, changeOrigin: true },
      "/ready": { target, changeOrigin: true },
    },
  },
  build: {
    outDir: "dist",
    assetsDir: "assets",
    emptyOutDir: true,
    sourcemap: false,
    // Same input, same bytes: content-hashed names and no build-time values.
    reportCompressedSize: false,
  },
  test: {
    include: ["src/**/*.test.{ts,tsx}"],
    environment: "node",
  },
});
