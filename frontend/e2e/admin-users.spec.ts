/** Administering users: the new-user form, role changes, deactivation, a stale-version
 * conflict, and the published permission matrix. */
import { api, expect, makeUser, shot, signIn, test, tokenFor, type User } from "./support";

let admin: User;
let grace: User;

test.beforeAll(async () => {
  admin = await makeUser("admin", {
    email: "uma@example.com",
    password: "copper-meadow-74",
    full_name: "Uma Reyes",
  });
  grace = await makeUser("tester", {
    email: "grace@example.com",
    password: "battery-staple-2",
    full_name: "Grace Hopper",
  });
});

test("an admin creates a user, changes a role, deactivates and survives a conflict", async ({ page }) => {
  await signIn(page, admin);
  await page.getByRole("navigation", { name: "Main" }).getByRole("link", { name: "Users" }).click();
  await page.getByRole("heading", { level: 1, name: "Users" }).waitFor();

  await page.getByRole("button", { name: "New user" }).click();
  const newUser = page.getByRole("form", { name: "New user" });
  await newUser.getByLabel("Full name").fill("Linus Developer");
  await newUser.getByLabel("Email").fill("linus@example.com");
  await newUser.getByLabel("Initial password").fill("short");
  await newUser.getByRole("button", { name: "Create user" }).click();
  await newUser.locator(".invalid-feedback", { hasText: /at least 8/i }).waitFor();
  await shot(page, "07-admin-new-user-error");
  await newUser.getByLabel("Initial password").fill("long-enough-pw");
  await newUser.getByLabel("Role").selectOption("developer");
  await newUser.getByRole("button", { name: "Create user" }).click();
  await page.getByText("linus@example.com").waitFor();

  const roleSaved = page.waitForResponse(
    (r) => r.url().includes(`/users/${String(grace.id)}`) && r.request().method() === "PATCH",
  );
  await page.getByLabel(`Role of ${grace.full_name}`).selectOption("developer");
  expect((await roleSaved).ok(), "changing Grace's role").toBe(true);

  // Someone else edits Grace behind this page's back, so its copy is now stale.
  await api("PATCH", `/users/${String(grace.id)}`, {
    token: await tokenFor(admin),
    json: { full_name: "Grace B. Hopper" },
  });
  await page.getByRole("button", { name: `Deactivate ${grace.full_name}` }).click();
  await page.getByText(/Someone changed Grace Hopper/).waitFor();
  await shot(page, "07-admin-users-conflict");
  await page.getByRole("button", { name: "Reload" }).click();
  await page.getByRole("button", { name: "Deactivate Grace B. Hopper" }).click();
  await page.getByRole("button", { name: "Reactivate Grace B. Hopper" }).waitFor();
  await shot(page, "07-admin-users");

  await page.getByText("What can each role do?").click();
  await page
    .getByRole("table", { name: "Permissions by role" })
    .getByRole("columnheader", { name: "tester" })
    .waitFor();
  await shot(page, "07-admin-roles");
  await page.getByRole("button", { name: "Reactivate Grace B. Hopper" }).click();
  await page.getByRole("button", { name: "Deactivate Grace B. Hopper" }).waitFor();
});
