/** The profile: a personal access token shown once, copied and used; the name changed. */
import { api, expect, makeUser, shot, signIn, test, type User } from "./support";

let owner: User;

test.beforeAll(async () => {
  owner = await makeUser("developer", {
    email: "pat@example.com",
    password: "velvet-harbor-63",
    full_name: "Pat Lindqvist",
  });
});

test("a personal access token is shown once, copied and authenticates its owner", async ({ page }) => {
  await signIn(page, owner);
  await page.getByRole("link", { name: /your profile/ }).click();
  await page.getByRole("heading", { level: 1, name: "Your profile" }).waitFor();
  await page.getByText("No tokens yet").waitFor();
  await page.getByLabel("Token name").fill("CI pipeline");
  await page.getByRole("button", { name: "Create token" }).click();
  const tokenField = page.getByLabel("New token");
  await tokenField.waitFor();
  const pat = await tokenField.inputValue();
  expect(pat.startsWith("nmb_"), `token should start with nmb_, got ${pat.slice(0, 8)}`).toBe(true);
  await page.getByRole("button", { name: "Copy" }).click();
  await page.getByRole("button", { name: "Copied", exact: true }).waitFor();
  await shot(page, "06-profile-new-token");
  const me = (await api("GET", "/users/me", { token: pat })) as { email: string };
  expect(me.email, "the new token authenticates as its owner").toBe(owner.email);

  await page.reload();
  await page.getByRole("cell", { name: "CI pipeline", exact: true }).waitFor();
  await shot(page, "06-profile");
  await page.getByLabel("Full name").fill("Pat Q. Lindqvist");
  await page.getByRole("button", { name: "Save changes" }).click();
  await page.getByText("Saved.").waitFor();
  await page.getByRole("link", { name: /Pat Q\. Lindqvist/ }).waitFor();
});
