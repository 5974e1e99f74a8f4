/** Signing in and out: deep links, wrong passwords, sessions across reloads and tabs, token
 * renewal, registration errors, the skip link. */
import { ACCESS_TTL_S, ADMIN, expect, makeProject, shot, signIn, test } from "./support";

test.beforeAll(async () => {
  await makeProject({ key: "SIGN", name: "Sign-in desk", description: "Where the deep link lands." });
});

test("a deep link signed out asks to sign in, then lands there", async ({ page, context }) => {
  await page.goto("/projects/SIGN");
  await page.getByRole("heading", { name: "Sign in" }).waitFor();
  expect(page.url()).toContain("next=%2Fprojects%2FSIGN");
  await shot(page, "01-sign-in");

  await page.getByLabel("Email").fill(ADMIN.email);
  await page.getByLabel("Password").fill("wrong password");
  await page.getByRole("button", { name: "Sign in" }).click();
  await page.getByRole("alert").filter({ hasText: "don't match" }).waitFor();
  await shot(page, "02-sign-in-error");

  await page.getByLabel("Password").fill(ADMIN.password);
  await page.getByRole("button", { name: "Sign in" }).click();
  await page.getByRole("heading", { level: 1, name: /Sign-in desk/ }).waitFor();
  expect(new URL(page.url()).pathname).toBe("/projects/SIGN");

  // A reload keeps the session (refresh token in sessionStorage, access token in memory).
  await page.reload();
  await page.getByRole("heading", { level: 1, name: /Sign-in desk/ }).waitFor();

  // "Duplicate tab" copies sessionStorage, refresh token included. The copy must leave that
  // token to this tab (asked over BroadcastChannel) instead of spending it, which made the
  // API see it reused here and revoke the session of both tabs.
  const storage = await page.evaluate(() => Object.fromEntries(Object.entries(sessionStorage)));
  const copy = await context.newPage();
  await copy.addInitScript((entries: Record<string, string>) => {
    for (const [key, value] of Object.entries(entries)) sessionStorage.setItem(key, value);
  }, storage);
  await copy.goto("/projects/SIGN");
  await copy.getByRole("heading", { name: "Sign in" }).waitFor();
  await copy.close();
  await page.reload(); // presents its refresh token again: still valid
  await page.getByRole("heading", { level: 1, name: /Sign-in desk/ }).waitFor();
});

test("an expired access token is renewed without the user noticing", async ({ page }) => {
  await signIn(page, ADMIN);
  await page.waitForTimeout((ACCESS_TTL_S + 1) * 1000);
  const refreshed = page.waitForResponse((r) => r.url().endsWith("/api/v1/auth/refresh") && r.ok());
  // The users list was never loaded in this page: its request meets the expired token.
  const usersLoaded = page.waitForResponse((r) => r.url().includes("/api/v1/users?") && r.ok());
  await page.getByRole("navigation", { name: "Main" }).getByRole("link", { name: "Users" }).click();
  await refreshed;
  await usersLoaded;
  await page.getByRole("heading", { level: 1, name: "Users" }).waitFor();
});

test("the skip link is the first stop and lands on the content", async ({ page }) => {
  await signIn(page, ADMIN);
  await page.goto("/projects");
  await page.getByRole("heading", { level: 1, name: "Projects" }).waitFor();
  // Let the page finish exchanging its refresh token before the reload: a reload in the middle
  // of that exchange presents a spent token, and reuse detection ends the session.
  await page.reload();
  await page.getByRole("heading", { level: 1, name: "Projects" }).waitFor();
  await page.keyboard.press("Tab");
  await expect(page.getByRole("link", { name: "Skip to content" })).toBeFocused();
  await page.keyboard.press("Enter");
  await expect(page.locator("#main")).toBeFocused();
});

test("signing out, then registering shows the API's field errors", async ({ page }) => {
  await signIn(page, ADMIN);
  await page.getByRole("button", { name: "Sign out" }).click();
  await page.getByRole("heading", { name: "Sign in" }).waitFor();
  await page.getByRole("link", { name: "Create an account" }).click();
  await page.getByLabel("Full name").fill("Mallory");
  await page.getByLabel("Email").fill("not-an-email");
  await page.getByLabel("Password").fill("short");
  await page.getByRole("button", { name: "Create account" }).click();
  await page.locator(".invalid-feedback", { hasText: /email/i }).waitFor();
  await page.locator(".invalid-feedback", { hasText: /at least 8/i }).waitFor();
  await shot(page, "10-register-errors");
});
