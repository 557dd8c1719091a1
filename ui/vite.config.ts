import react from "@vitejs/plugin-react";
import { defineConfig } from "vitest/config";

const target = process.env.LEDGER_URL ?? "http://127.0.0.1:8080";

export default defineConfig({
  plugins: [react()],
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
