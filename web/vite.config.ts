/// <reference types="vitest/config" />
import react from "@vitejs/plugin-react";
import { defineConfig } from "vite";

// The gateway serves the built files at / and the APIs at /api/<service>/; in development
// Vite proxies /api to a running gateway (make up) so the same relative URLs work.
const gateway = process.env.CUEPOINT_GATEWAY ?? "http://127.0.0.1:8080";

export default defineConfig({
  plugins: [react()],
  server: { proxy: { "/api": { target: gateway, changeOrigin: false } } },
  build: { outDir: "dist", sourcemap: true, manifest: true, chunkSizeWarningLimit: 250 },
  test: {
    environment: "jsdom",
    include: ["tests/unit/**/*.test.{ts,tsx}"],
    setupFiles: ["tests/unit/setup.ts"],
  },
});
