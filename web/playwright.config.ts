import { defineConfig } from "@playwright/test";

// Browser tests drive Debian's Chromium (apt-get install chromium, done by deploy/local/web.sh
// browser): Playwright never downloads a browser of its own here. They run against a real
// platform — the one tests/web/test_browser.py starts — whose gateway is CUEPOINT_WEB_URL.
export default defineConfig({
  testDir: "e2e",
  outputDir: process.env.CUEPOINT_WEB_OUTPUT ?? "test-results",
  timeout: 180_000,
  expect: { timeout: 15_000 },
  workers: 1,
  retries: 0,
  reporter: [["list"]],
  use: {
    baseURL: process.env.CUEPOINT_WEB_URL ?? "http://127.0.0.1:8080",
    trace: "retain-on-failure",
    screenshot: "only-on-failure",
    launchOptions: {
      executablePath: process.env.CUEPOINT_CHROMIUM ?? "/usr/bin/chromium",
      // This machine's network is closed: Chromium's background connections only fail slowly.
      args: [
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--autoplay-policy=no-user-gesture-required",
      ],
    },
  },
});
