/** Bugs: filing, the workflow, comments, an edit conflict, the list; attachments; a reproduction
 * run in the sandbox; what a non-admin may delete; the assignee's notifications. */
import {
  api,
  baseUrl,
  expect,
  makeProject,
  makeUser,
  readDownload,
  shot,
  signIn,
  test,
  tokenFor,
  type User,
} from "./support";

const KEY = "SHOP";
let admin: User;
let developer: User;
let tester: User;

test.beforeAll(async () => {
  admin = await makeUser("admin", {
    email: "bo@example.com",
    password: "silver-orchid-85",
    full_name: "Bo Byrne",
  });
  developer = await makeUser("developer", {
    email: "dana@example.com",
    password: "granite-willow-96",
    full_name: "Dana Developer",
  });
  tester = await makeUser("tester", {
    email: "tom@example.com",
    password: "frozen-pepper-17",
    full_name: "Tom Tester",
  });
  await makeProject({ key: KEY, name: "Shop checkout", description: "Cart, checkout and payments." }, [
    admin,
    developer,
    tester,
  ]);
});

async function fileBug(title: string): Promise<string> {
  const bug = (await api("POST", `/projects/${KEY}/bugs`, {
    token: await tokenFor(admin),
    json: { title, description: "Seen in production.", priority: "medium", severity: "minor", labels: [] },
  })) as { key: string };
  return bug.key;
}

test("a bug is filed, assigned, resolved, commented on, and an edit conflict is caught", async ({ page }) => {
  await signIn(page, admin);
  await page.goto(`/projects/${KEY}`);
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
  await shot(page, "12-new-bug");
  await page.getByRole("button", { name: "File bug" }).click();
  await page.getByRole("heading", { level: 1, name: /Checkout button does nothing/ }).waitFor();
  const bugKey = new URL(page.url()).pathname.split("/").pop() ?? "";
  expect(bugKey).toBe(`${KEY}-1`);

  await page.getByLabel("Assignee").selectOption({ label: developer.full_name });
  await page.locator(".timeline").getByText(`assigned it to ${developer.full_name}`).waitFor();
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
  await shot(page, "13-bug");

  // Someone else edits the bug; this page's copy is stale and the save must say so.
  await api("PATCH", `/bugs/${bugKey}`, { token: await tokenFor(admin), json: { severity: "major" } });
  await page.getByRole("button", { name: "Edit", exact: true }).click();
  await page.getByLabel("Title").fill("Checkout button does nothing on Safari 17");
  await page.getByRole("button", { name: "Save", exact: true }).click();
  await page.getByText("Someone changed this bug while you were editing.").waitFor();
  await shot(page, "13-bug-conflict");
  await page.getByRole("button", { name: "Reload" }).click();
  await page.waitForFunction(
    () => [...document.querySelectorAll("select")].some((el) => el.value === "major"),
    null,
    { timeout: 5000 },
  );
  await page.getByRole("button", { name: "Save", exact: true }).click();
  await page.getByRole("heading", { level: 1, name: /Safari 17/ }).waitFor();

  await page.getByRole("navigation", { name: "Main" }).getByRole("link", { name: "Bugs" }).click();
  await page.getByRole("heading", { level: 1, name: "Bugs" }).waitFor();
  await page.getByLabel("Status", { exact: true }).selectOption("all");
  await page.getByRole("link", { name: /Checkout button does nothing/ }).waitFor();
  await shot(page, "14-bugs");
});

test("attachments are dropped, picked, downloaded and deleted; the reproduction runs", async ({ page }) => {
  const bugKey = await fileBug("Totals are off by one");
  await signIn(page, admin);
  await page.goto(`/bugs/${bugKey}`);
  await page.getByRole("heading", { level: 1, name: /Totals are off by one/ }).waitFor();
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
  const [download] = await Promise.all([
    page.waitForEvent("download"),
    attachments.getByRole("button", { name: "Download console.log" }).click(),
  ]);
  expect(download.suggestedFilename()).toBe("console.log");
  expect(await readDownload(download), "the attachment comes back unchanged").toBe(consoleLog);
  await attachments.getByRole("button", { name: "Delete dropped.txt" }).click();
  await attachments.getByRole("button", { name: "Download dropped.txt" }).waitFor({ state: "detached" });

  const repro = page.getByRole("region", { name: "Reproduction" });
  await repro.getByRole("button", { name: "Add a script" }).click();
  await repro
    .getByLabel(/Reproduction script/)
    .fill('import sys\nprint("total is", 1 + 1 + 1)\nsys.exit(1)\n');
  await repro.getByRole("button", { name: "Save script" }).click();
  await repro.getByRole("button", { name: "Run reproduction" }).click();
  await repro
    .getByRole("log", { name: "Reproduction output" })
    .getByText("total is 3")
    .waitFor({ timeout: 30_000 });
  // the run's badge and the bug's verdict both say so (exit 1 is the bug, not a failure)
  await expect(repro.locator('[data-verdict="reproduces"]')).toHaveText("Reproduces");
  await expect(page.locator(".page-header [data-verdict]")).toHaveText("Reproduces");
  await shot(page, "16-bug-attachments-repro");
});

test("a non-admin member attaches a file and may delete only their own", async ({ page }) => {
  const bugKey = await fileBug("Receipt page shows the wrong logo");
  const form = new FormData();
  form.append("file", new Blob(["uploaded by the admin\n"], { type: "text/plain" }), "console.log");
  const uploaded = await fetch(`${baseUrl()}/api/v1/bugs/${bugKey}/attachments`, {
    method: "POST",
    headers: { Authorization: `Bearer ${await tokenFor(admin)}` },
    body: form,
  });
  expect(uploaded.status, await uploaded.text()).toBe(201);

  await signIn(page, tester);
  await page.goto(`/bugs/${bugKey}`);
  const files = page.getByRole("region", { name: /Attachments/ });
  await files.getByRole("button", { name: "Download console.log" }).waitFor();
  await files
    .getByLabel("Attach files")
    .setInputFiles({ name: "steps.txt", mimeType: "text/plain", buffer: Buffer.from("1. open\n2. pay\n") });
  await files.getByRole("button", { name: "Download steps.txt" }).waitFor();
  // Only the uploader or an admin may delete: the tester sees Delete on theirs, not on the admin's.
  await files.getByRole("button", { name: "Delete steps.txt" }).waitFor();
  await expect(files.getByRole("button", { name: "Delete console.log" })).toHaveCount(0);
});

test("the assignee is notified and marks everything as read", async ({ page }) => {
  const bugKey = await fileBug("Coupon field accepts expired codes");
  await api("PATCH", `/bugs/${bugKey}`, {
    token: await tokenFor(admin),
    json: { assignee_id: developer.id },
  });
  await signIn(page, developer);
  await page.locator(".notification-bell .badge").waitFor();
  await page.getByRole("link", { name: /Notifications/ }).click();
  await page.getByRole("heading", { level: 1, name: "Notifications" }).waitFor();
  await page.locator(".notification.unread").first().waitFor();
  await shot(page, "15-notifications");
  await page.getByRole("button", { name: "Mark all as read" }).click();
  await page.locator(".notification.unread").first().waitFor({ state: "detached" });
});
