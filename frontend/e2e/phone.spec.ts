/** At phone width the menu collapses behind a toggle and no screen is wider than the phone. */
import {
  api,
  expect,
  makeProject,
  makeUser,
  shot,
  signIn,
  test,
  today,
  tokenFor,
  type User,
} from "./support";

let phil: User;
let bugKey: string;

test.beforeAll(async () => {
  phil = await makeUser("developer", {
    email: "phil@example.com",
    password: "tidal-saffron-83",
    full_name: "Phil Mobile",
  });
  const project = await makeProject({ key: "MOB", name: "Mobile app" }, [phil]);
  const token = await tokenFor(phil);
  if (!project.created) {
    // This setup ran before, in the worker that a failed test ended: the data is there.
    const bugs = (await api("GET", "/projects/MOB/bugs", { token })) as { items: { key: string }[] };
    bugKey = bugs.items[0]?.key ?? "";
    return;
  }
  const bug = (await api("POST", "/projects/MOB/bugs", {
    token,
    json: {
      title: "Checkout overflows on Safari 17 at 390 px",
      description: "A long line: `" + "x".repeat(120) + "`",
      priority: "high",
      severity: "major",
      labels: ["mobile", "checkout"],
    },
  })) as { key: string };
  bugKey = bug.key;
  const categories = (await api("GET", "/expense-categories", { token })) as {
    items: { id: number; name: string }[];
  };
  await api("POST", "/expenses", {
    token,
    json: {
      amount: "18.40",
      currency: "EUR",
      category_id: categories.items[0]?.id,
      description: "Train",
      spent_on: today(),
    },
  });
});

test.use({ viewport: { width: 390, height: 844 } });

test("the menu collapses behind a toggle", async ({ page }) => {
  await signIn(page, phil);
  await page.getByRole("link", { name: "Nimbus" }).click();
  await page.getByRole("heading", { level: 1, name: /Phil/ }).waitFor();
  await shot(page, "08-phone-dashboard");
  await page.getByRole("button", { name: "Open menu" }).click();
  const projects = page.getByRole("navigation", { name: "Main" }).getByRole("link", { name: "Projects" });
  await projects.waitFor();
  await shot(page, "09-phone-menu");
  await projects.click();
  await page.getByRole("heading", { level: 1, name: "Projects" }).waitFor();
});

test("no screen is wider than a 390 px phone", async ({ page }) => {
  await signIn(page, phil);
  for (const [path, heading, name] of [
    ["/expenses", "Expenses", "25-phone-expenses"],
    ["/expenses/new", "New expense", "25-phone-expense-form"],
    ["/run", "Code runner", "25-phone-runner"],
    [`/bugs/${bugKey}`, /Safari 17/, "25-phone-bug"],
  ] as const) {
    await page.goto(path);
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
    expect.soft(overflow, `${path} sticks out of the phone: ${culprits.join(", ")}`).toBeLessThanOrEqual(0);
    await shot(page, name);
  }
});
