/** Projects: the project page (sanitised Markdown, members), the dashboard, the projects list and
 * its form, and the 404 a non-member gets. */
import { expect, makeProject, makeUser, shot, signIn, test, type User } from "./support";

const PROJECT = {
  key: "WEB",
  name: "Web storefront",
  description:
    "The customer-facing **storefront**.\n\n- Checkout and payments\n- Product pages\n\n" +
    'Runbook: [deploys](https://example.com/deploys) <a href="javascript:alert(1)">not a link</a><script>alert(2)</script>',
};

let admin: User;
let tester: User;
let member: User;

test.beforeAll(async () => {
  admin = await makeUser("admin", {
    email: "pam@example.com",
    password: "amber-falcon-41",
    full_name: "Pam Okafor",
  });
  tester = await makeUser("tester", {
    email: "tess@example.com",
    password: "quiet-lantern-52",
    full_name: "Tess Tester",
  });
  member = await makeUser("developer", {
    email: "nico@example.com",
    password: "pebble-aurora-15",
    full_name: "Nico Member",
  });
  await makeProject(PROJECT, [admin, member]);
  await makeProject({ key: "OPS", name: "Operations", description: "Runbooks, on-call and infrastructure." });
});

test("the project page renders its Markdown safely and adds a member", async ({ page }) => {
  await signIn(page, admin);
  await page.goto(`/projects/${PROJECT.key}`);
  await page.getByRole("heading", { level: 1, name: /Web storefront/ }).waitFor();
  const about = page.locator(".markdown");
  await about.locator("strong", { hasText: "storefront" }).waitFor();
  await expect(about.locator("script, a[href^='javascript']"), "Markdown is sanitised").toHaveCount(0);
  await about.locator("a[href='https://example.com/deploys'][rel~='noopener']").waitFor();
  await page.locator(".member-list").getByText(admin.full_name).waitFor();

  await page
    .getByLabel("Add a member")
    .selectOption({ label: `${tester.full_name} — ${tester.email} (tester)` });
  await page.getByRole("button", { name: "Add", exact: true }).click();
  await page.locator(".member-list").getByText(tester.full_name).waitFor();
  await shot(page, "03-project");
});

test("the dashboard lists a member's projects", async ({ page }) => {
  // A member, not the admin: an admin's dashboard shows the newest of every flow's projects.
  await signIn(page, member);
  await page
    .getByRole("region", { name: "My projects" })
    .getByRole("link", { name: "Web storefront" })
    .waitFor();
  await shot(page, "04-dashboard");
});

test("the projects list creates a project, and says when a key is taken", async ({ page }) => {
  await signIn(page, admin);
  const nav = page.getByRole("navigation", { name: "Main" });
  await nav.getByRole("link", { name: "Projects" }).click();
  await page.getByRole("heading", { level: 1, name: "Projects" }).waitFor();
  await page.getByRole("link", { name: "Operations" }).waitFor();
  await page.getByRole("button", { name: "New project" }).click();
  await page.getByLabel("Key").fill("WEB");
  await page.getByLabel("Name", { exact: true }).fill("Duplicate");
  await page.getByRole("button", { name: "Create project" }).click();
  await page.getByText("Another project already uses this key.").waitFor();
  await shot(page, "05-projects-new-error");
  await page.getByLabel("Key").fill("API");
  await page.getByLabel("Name", { exact: true }).fill("Public API");
  await page.getByRole("button", { name: "Create project" }).click();
  await page.getByRole("heading", { level: 1, name: /Public API/ }).waitFor();
  await nav.getByRole("link", { name: "Projects" }).click();
  await page.getByRole("link", { name: "Public API" }).waitFor();
  await shot(page, "05-projects");
});

test("a non-member is told the project does not exist, and sees no admin menu", async ({ page }) => {
  await signIn(page, tester);
  await expect(page.getByRole("link", { name: "Users" }), "a non-admin sees the Users entry").toHaveCount(0);
  await page.goto("/projects/OPS");
  await page.getByText("No project “OPS”").waitFor();
  await shot(page, "11-project-not-member");
});
