/**
 * The browser end-to-end specs (`npm run e2e`, `make e2e`): one spec file per flow, each on its own
 * users and projects, against one real `nimbus serve` that e2e/global-setup.ts starts and stops.
 * Debian's Chromium, never a downloaded browser. A failing flow is named and the others still run.
 */
import { defineConfig } from "@playwright/test";

import { CHROMIUM_PATH } from "./e2e/seed";

export default defineConfig({
  testDir: "e2e",
  testMatch: "*.spec.ts",
  globalSetup: "./e2e/global-setup.ts",
  outputDir: "test-results",
  // The machine is shared and the server is one process: one flow at a time unless asked.
  workers: Number(process.env.E2E_WORKERS ?? 1),
  fullyParallel: false,
  forbidOnly: true,
  retries: 0,
  timeout: 90_000,
  expect: { timeout: 10_000 },
  reporter: [["list"]],
  use: {
    headless: process.env.E2E_HEADED !== "1",
    viewport: { width: 1280, height: 860 },
    actionTimeout: 10_000,
    navigationTimeout: 20_000,
    permissions: ["clipboard-read", "clipboard-write"],
    // What the page looked like when a flow failed says more than the stack trace.
    screenshot: "only-on-failure",
    trace: "retain-on-failure",
    launchOptions: {
      executablePath: CHROMIUM_PATH,
      args: [
        "--no-sandbox",
        "--disable-gpu",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--no-first-run",
      ],
    },
  },
});
