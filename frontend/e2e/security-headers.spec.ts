/** The security headers: the SPA's strict Content-Security-Policy, no source maps, and the API
 * docs working under their own policy. */
import { ADMIN, expect, shot, signIn, test } from "./support";

test("the SPA is served under a strict policy and without source maps", async ({ page }) => {
  const index = await page.request.get("/");
  const csp = index.headers()["content-security-policy"] ?? "";
  const directive = (name: string) =>
    csp
      .split(";")
      .map((d) => d.trim())
      .find((d) => d.startsWith(`${name} `));
  expect(directive("script-src"), csp).toBe("script-src 'self'");
  expect(directive("style-src-attr"), csp).toBe("style-src-attr 'none'");
  await signIn(page, ADMIN);
  const script = await page.locator("script[src]").first().getAttribute("src");
  expect(
    (await page.request.get(`${script ?? "/missing"}.map`)).status(),
    `a source map for ${script ?? "?"}`,
  ).toBe(404);
});

test("the API docs load and offer to try an operation", async ({ page }) => {
  await page.goto("/docs");
  // Swagger UI renders the whole document before the first operation shows: slow on a busy machine.
  await page.locator(".opblock").first().click({ timeout: 30_000 });
  await page.getByRole("button", { name: "Try it out" }).first().waitFor();
  await shot(page, "12-api-docs");
});
