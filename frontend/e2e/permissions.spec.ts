/** Screens that know what you may do: the same bug as an admin, as a developer who neither reported
 * it nor works on it, and as a tester. Every control offered is one the API accepts. */
import { api, expect, makeProject, makeUser, shot, signIn, test, tokenFor, type User } from "./support";

const KEY = "PERM";
let admin: User;
let developer: User;
let tester: User;
let bugKey = "";

test.beforeAll(async () => {
  admin = await makeUser("admin", {
    email: "pia@example.com",
    password: "amber-falcon-31",
    full_name: "Pia Admin",
  });
  developer = await makeUser("developer", {
    email: "dev.ortiz@example.com",
    password: "cobalt-harbor-58",
    full_name: "Devi Ortiz",
  });
  tester = await makeUser("tester", {
    email: "tara@example.com",
    password: "velvet-canyon-44",
    full_name: "Tara Tester",
  });
  await makeProject({ key: KEY, name: "Permissions", description: "" }, [admin, developer, tester]);
  const bug = (await api("POST", `/projects/${KEY}/bugs`, {
    token: await tokenFor(admin),
    json: {
      title: "Invoice totals round the wrong way",
      description: "0.005 becomes 0.00.",
      priority: "high",
      severity: "major",
      labels: ["billing"],
      assignee_id: developer.id,
      repro_script: "raise SystemExit(1)",
    },
  })) as { key: string };
  bugKey = bug.key;
});

test("a tester sees the bug's fields as values and only the steps a tester may take", async ({ page }) => {
  await signIn(page, tester);
  await page.goto(`/bugs/${bugKey}`);
  const details = page.getByRole("complementary", { name: "Details" });
  await details.getByText(developer.full_name).waitFor();
  await expect(details.getByRole("combobox")).toHaveCount(0);
  await expect(details.getByRole("textbox")).toHaveCount(0);
  await expect(details.getByText("billing")).toBeVisible();
  await expect(page.getByRole("button", { name: "Edit", exact: true })).toHaveCount(0);
  await expect(page.getByRole("button", { name: "Edit script" })).toHaveCount(0);
  await expect(page.getByRole("button", { name: "Close without fixing" })).toBeVisible();
  await expect(page.getByRole("button", { name: "Start progress" })).toHaveCount(0);
  await expect(page.getByRole("link", { name: "Users" })).toHaveCount(0);
  await shot(page, "17-bug-as-tester");
});

test("a developer of the project may assign a bug they do not work on, not edit it", async ({ page }) => {
  const other = (await api("POST", `/projects/${KEY}/bugs`, {
    token: await tokenFor(admin),
    json: { title: "Export ignores the date filter", description: "" },
  })) as { key: string };
  await signIn(page, developer);
  await page.goto(`/bugs/${other.key}`);
  const assignee = page.getByLabel("Assignee");
  await assignee.waitFor();
  // Only members who can be assignees are offered: the developer, not the admin or the tester.
  await expect(assignee.getByRole("option")).toHaveText(["Nobody", developer.full_name]);
  await expect(page.getByLabel("Priority")).toHaveCount(0);
  await expect(page.getByRole("button", { name: "Edit", exact: true })).toHaveCount(0);
  await assignee.selectOption({ label: developer.full_name });
  await page.locator(".timeline").getByText(`assigned it to ${developer.full_name}`).waitFor();
  // Now theirs: the page offers editing, and the edit goes through.
  await page.getByRole("button", { name: "Edit", exact: true }).click();
  await page.getByLabel("Title").fill("Export ignores the date filter (CSV only)");
  await page.getByRole("button", { name: "Save", exact: true }).click();
  await page.getByRole("heading", { level: 1, name: /CSV only/ }).waitFor();
});

test("an admin gets every control on the same bug", async ({ page }) => {
  await signIn(page, admin);
  await page.goto(`/bugs/${bugKey}`);
  await page.getByLabel("Assignee").waitFor();
  await expect(page.getByLabel("Priority")).toBeVisible();
  await expect(page.getByRole("button", { name: "Edit", exact: true })).toBeVisible();
  await expect(page.getByRole("button", { name: "Edit script" })).toBeVisible();
  await expect(page.getByRole("button", { name: "Start progress" })).toBeVisible();
  await expect(page.getByRole("button", { name: "Close without fixing" })).toBeVisible();
  await shot(page, "17-bug-as-admin");
});
