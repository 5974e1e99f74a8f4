/**
 * What every flow shares: the server's address, API calls for seeding, users made for one flow,
 * signing in through the UI, screenshots, and the `test` whose pages fail on any browser problem
 * (a page error, a console error, a Content-Security-Policy violation, an unexpected dialog).
 */
import { join } from "node:path";

import AxeBuilder from "@axe-core/playwright";
import { test as base, expect, type Download, type Page } from "@playwright/test";

import { baseUrl, shotsDir, type Account } from "./seed";

export * from "./seed";

/** Today in the browser's (and this machine's) time zone, as the date inputs want it. */
export function today(): string {
  const d = new Date();
  return `${String(d.getFullYear())}-${String(d.getMonth() + 1).padStart(2, "0")}-${String(d.getDate()).padStart(2, "0")}`;
}

/** Signs in through the sign-in page and waits for the dashboard that greets the user. */
export async function signIn(page: Page, account: Account): Promise<void> {
  await page.goto("/login");
  await page.getByLabel("Email").fill(account.email);
  await page.getByLabel("Password").fill(account.password);
  await page.getByRole("button", { name: "Sign in" }).click();
  const firstName = account.full_name.split(" ")[0] ?? account.full_name;
  await page.getByRole("heading", { level: 1, name: new RegExp(firstName) }).waitFor();
}

/** A full-page screenshot in e2e/screenshots/, named as the screen it shows. */
export async function shot(page: Page, name: string): Promise<void> {
  await page.screenshot({ path: join(shotsDir, `${name}.png`), fullPage: true, animations: "disabled" });
}

export async function readDownload(download: Download): Promise<string> {
  const stream = await download.createReadStream();
  const parts: Buffer[] = [];
  for await (const part of stream) parts.push(part as Buffer);
  return Buffer.concat(parts).toString("utf8");
}

/**
 * axe's WCAG 2.x A/AA rules on the page as it is now. Serious and critical violations fail the
 * flow; the others are attached to its report. No rule is disabled.
 */
export async function expectAccessible(page: Page, screen: string): Promise<void> {
  const results = await new AxeBuilder({ page })
    .withTags(["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"])
    .analyze();
  const describe = (v: (typeof results.violations)[number]) =>
    `${v.id} (${v.impact ?? "?"}): ${v.help}\n${v.nodes
      .slice(0, 5)
      .map(
        (n) =>
          `    ${n.target.join(" ")}: ${(n.any[0] ?? n.all[0] ?? n.none[0])?.message ?? n.failureSummary ?? ""}`,
      )
      .join("\n")}`;
  const blocking = results.violations.filter((v) => v.impact === "serious" || v.impact === "critical");
  const minor = results.violations.filter((v) => !blocking.includes(v));
  if (minor.length) {
    await test
      .info()
      .attach(`axe ${screen} (minor)`, { body: minor.map(describe).join("\n"), contentType: "text/plain" });
  }
  expect(blocking.map(describe), `accessibility of ${screen}`).toEqual([]);
}

// Chromium logs the 4xx answers the UI handles on purpose (a 422 on a form, a 409 conflict) as
// failed resources; any other console error is a defect.
const HANDLED_STATUS = /status of (401|404|409|412|422)/;

declare global {
  interface Window {
    __nimbusCspViolation?: (report: string) => void;
  }
}

export const test = base.extend<{ problems: string[] }>({
  baseURL: async ({}, use) => {
    await use(baseUrl());
  },
  /**
   * What the browser reported while the flow ran; the flow fails at the end if anything is left.
   * A flow that provokes a problem on purpose removes it from this list.
   */
  problems: [
    async ({ context }, use) => {
      const problems: string[] = [];
      // Every page runs under the server's Content-Security-Policy: anything it blocks is a
      // defect (an inline script, a style, a request elsewhere), whether or not the console says so.
      await context.exposeBinding("__nimbusCspViolation", (_source, report: string) => {
        problems.push(`Content-Security-Policy violation: ${report}`);
      });
      await context.addInitScript(() => {
        document.addEventListener("securitypolicyviolation", (event) => {
          window.__nimbusCspViolation?.(
            `${event.violatedDirective} blocked ${event.blockedURI || "inline"} on ${location.pathname}`,
          );
        });
      });
      const watch = (page: Page) => {
        if (process.env.E2E_DEBUG) {
          page.on("response", (r) => {
            console.log(`${r.request().method()} ${r.url()} ${String(r.status())}`);
          });
        }
        page.on("pageerror", (error) => problems.push(`page error: ${error.message}`));
        page.on("console", (message) => {
          if (message.type() === "error" && !HANDLED_STATUS.test(message.text())) {
            problems.push(`console error: ${message.text()}`);
          }
        });
        page.on("dialog", (dialog) => {
          problems.push(`unexpected dialog (script injection?): ${dialog.message()}`);
          void dialog.dismiss();
        });
      };
      context.pages().forEach(watch);
      context.on("page", watch);
      await use(problems);
      expect(problems, "the browser reported problems").toEqual([]);
    },
    { auto: true },
  ],
});

export { expect };
