/** axe (WCAG 2.1 A and AA) on each main screen, with content on it: serious and critical
 * violations fail the screen's test. */
import {
  api,
  expectAccessible,
  makeProject,
  makeUser,
  signIn,
  test,
  today,
  tokenFor,
  type User,
} from "./support";

let ali: User;
let bugKey: string;

test.beforeAll(async () => {
  ali = await makeUser("developer", {
    email: "ali@example.com",
    password: "orbit-juniper-94",
    full_name: "Ali Access",
  });
  const project = await makeProject({ key: "AXE", name: "Accessible shop" }, [ali]);
  const token = await tokenFor(ali);
  if (!project.created) {
    // This setup ran before, in the worker that a failed screen ended: the data is there.
    const bugs = (await api("GET", "/projects/AXE/bugs", { token })) as { items: { key: string }[] };
    bugKey = bugs.items[0]?.key ?? "";
    return;
  }
  const bug = (await api("POST", "/projects/AXE/bugs", {
    token,
    json: {
      title: "Focus is lost after closing the cart",
      description: "Steps:\n\n1. Open the cart\n2. Press **Escape**\n\nFocus goes to the top of the page.",
      priority: "high",
      severity: "major",
      labels: ["a11y"],
      repro_script: "print('focus lost')\n",
    },
  })) as { key: string };
  bugKey = bug.key;
  await api("POST", `/bugs/${bugKey}/comments`, { token, json: { body: "Seen with NVDA too." } });
  const categories = (await api("GET", "/expense-categories", { token })) as {
    items: { id: number; name: string }[];
  };
  await api("POST", "/expenses", {
    token,
    json: {
      amount: "42.00",
      currency: "EUR",
      category_id: categories.items[0]?.id,
      description: "Screen reader licence",
      spent_on: today(),
    },
  });
});

test("sign-in", async ({ page }) => {
  await page.goto("/login");
  await page.getByRole("heading", { name: "Sign in" }).waitFor();
  await expectAccessible(page, "sign-in");
});

test("dashboard", async ({ page }) => {
  await signIn(page, ali);
  await expectAccessible(page, "dashboard");
});

test("bug list", async ({ page }) => {
  await signIn(page, ali);
  await page.goto("/bugs");
  await page
    .getByRole("link", { name: /Focus is lost/ })
    .first()
    .waitFor();
  await expectAccessible(page, "bug list");
});

test("bug page", async ({ page }) => {
  await signIn(page, ali);
  await page.goto(`/bugs/${bugKey}`);
  await page.getByRole("heading", { level: 1, name: /Focus is lost/ }).waitFor();
  await page.locator(".comment").getByText("Seen with NVDA too.").waitFor();
  await expectAccessible(page, "bug page");
});

test("expenses", async ({ page }) => {
  await signIn(page, ali);
  await page.goto("/expenses");
  await page.getByRole("link", { name: "Screen reader licence" }).first().waitFor();
  await page.locator(".spend-chart canvas").first().waitFor();
  await expectAccessible(page, "expenses");
});

test("code runner", async ({ page }) => {
  await signIn(page, ali);
  await page.goto("/run");
  await page.getByRole("heading", { level: 1, name: "Code runner" }).waitFor();
  await page.locator(".cm-content").waitFor();
  await expectAccessible(page, "code runner");
});
