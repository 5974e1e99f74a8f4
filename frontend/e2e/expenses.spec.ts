/** Expenses: form errors, totals and charts that follow new expenses (one series per currency),
 * CSV export, an edit with a receipt, CSV import with a dry run, the dashboard; budgets. */
import {
  api,
  expect,
  makeProject,
  makeUser,
  readDownload,
  shot,
  signIn,
  test,
  today,
  tokenFor,
  type User,
} from "./support";

let spender: User;
let admin: User;

test.beforeAll(async () => {
  // Not an admin: an admin's lists show everyone's expenses, and other flows record some too.
  spender = await makeUser("developer", {
    email: "eve@example.com",
    password: "lemon-glacier-50",
    full_name: "Eve Spender",
  });
  admin = await makeUser("admin", {
    email: "abe@example.com",
    password: "hazel-rocket-61",
    full_name: "Abe Ledger",
  });
  await makeProject({ key: "SALES", name: "Field sales", description: "Visits and demos." }, [spender]);
});

test("expenses are recorded, totalled per currency, exported, edited and imported", async ({ page }) => {
  await signIn(page, spender);
  const nav = page.getByRole("navigation", { name: "Main" });
  await nav.getByRole("link", { name: "Expenses" }).click();
  await page.getByRole("heading", { level: 1, name: "Expenses" }).waitFor();
  await page.getByText("No expenses yet").waitFor();
  await shot(page, "17-expenses-empty");
  const day = today();
  const record = async (expense: {
    amount: string;
    currency: string;
    category: string;
    description: string;
  }) => {
    await page.getByRole("link", { name: "New expense" }).first().click();
    await page.getByRole("heading", { level: 1, name: "New expense" }).waitFor();
    await page.getByLabel("Amount").fill(expense.amount);
    await page.getByLabel("Currency").fill(expense.currency);
    await page.getByLabel("Category").selectOption({ label: expense.category });
    await page.getByLabel("Date").fill(day);
    await page.getByLabel("Description").fill(expense.description);
    await page.getByRole("button", { name: "Save expense" }).click();
  };

  await record({ amount: "12,50", currency: "XYZ", category: "Meals", description: "Team lunch" });
  await page.locator(".invalid-feedback", { hasText: "not an ISO 4217 currency" }).waitFor();
  await shot(page, "18-expense-error");
  await page.getByLabel("Currency").fill("EUR");
  await page.getByLabel("Project (optional)").selectOption({ label: "SALES — Field sales" });
  await page.getByRole("button", { name: "Save expense" }).click();
  await page.getByRole("heading", { level: 1, name: "Expenses" }).waitFor();
  const byCategory = page.getByRole("table", { name: "Spend by category (table)" });
  const categoryRow = (category: string) => byCategory.getByRole("row", { name: new RegExp(`^${category}`) });
  await categoryRow("Meals").getByText("€12.50").waitFor();

  await record({ amount: "40", currency: "USD", category: "Travel", description: "Taxi to the client" });
  await page.getByRole("heading", { level: 1, name: "Expenses" }).waitFor();
  await categoryRow("Travel").getByText("$40.00").waitFor();
  // The new USD expense is its own series: the EUR total for Meals is unchanged, not added to.
  await categoryRow("Meals").getByText("€12.50").waitFor();
  await record({ amount: "7.5", currency: "EUR", category: "Meals", description: "Coffee" });
  await page.getByRole("heading", { level: 1, name: "Expenses" }).waitFor();
  await categoryRow("Meals").getByText("€20.00").waitFor();
  const totals = page.getByRole("list", { name: "Total per currency" });
  await totals.getByText("€20.00").waitFor();
  await totals.getByText("$40.00").waitFor();
  await page.getByRole("table", { name: "Spend by month (table)" }).getByText("€20.00").waitFor();
  await expect(page.locator(".spend-chart canvas"), "a chart per grouping").toHaveCount(2);
  await shot(page, "19-expenses");

  const [csvDownload] = await Promise.all([
    page.waitForEvent("download"),
    page.getByRole("button", { name: "Export CSV" }).click(),
  ]);
  const csv = await readDownload(csvDownload);
  expect(csv).toContain("Team lunch");
  expect(csv).toContain("12.50");

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
  await shot(page, "20-expense-edit");

  await nav.getByRole("link", { name: "Expenses" }).click();
  await page.getByRole("link", { name: "Import CSV" }).click();
  await page.getByRole("heading", { level: 1, name: "Import expenses" }).waitFor();
  const badCsv =
    "spent_on,amount,currency,category,description\n" +
    `${day},9.90,EUR,Meals,Sandwich\n` +
    `${day},abc,EUR,Meals,Mystery\n` +
    "2026-13-01,5.00,EUR,Nope,Nowhere\n";
  await page
    .getByLabel("CSV file")
    .setInputFiles({ name: "bad.csv", mimeType: "text/csv", buffer: Buffer.from(badCsv) });
  const rowsWithProblems = page.getByRole("table", { name: "Rows with problems" });
  await rowsWithProblems.getByRole("row", { name: /^3 amount/ }).waitFor();
  await rowsWithProblems.getByRole("row", { name: /^4 spent_on/ }).waitFor();
  await rowsWithProblems.getByRole("row", { name: /^4 category .*Nope/ }).waitFor();
  await expect(
    page.getByRole("button", { name: /^Import \d/ }),
    "a file with bad rows cannot be imported",
  ).toHaveCount(0);
  await shot(page, "21-import-errors");
  const goodCsv =
    "spent_on,amount,currency,category,description,project\n" +
    `${day},9.90,EUR,Meals,Sandwich,SALES\n` +
    `${day},3.10,EUR,Office,Pens,\n`;
  await page
    .getByLabel("CSV file")
    .setInputFiles({ name: "good.csv", mimeType: "text/csv", buffer: Buffer.from(goodCsv) });
  await page.getByRole("heading", { name: "Ready to import" }).waitFor();
  await shot(page, "21-import-preview");
  await page.getByRole("button", { name: "Import 2 expenses" }).click();
  await page.getByText("Imported 2 expenses.").waitFor();
  await page.getByRole("link", { name: "See your expenses" }).click();
  await page.getByRole("link", { name: "Pens", exact: true }).waitFor();
  // 13.50 (edited lunch) + 7.50 (coffee) + 9.90 (imported sandwich) = 30.90 EUR for Meals.
  await categoryRow("Meals").getByText("€30.90").waitFor();

  // 13.50 + 7.50 + 9.90 + 3.10 this month, in euros; the dollars apart.
  await nav.getByRole("link", { name: "Dashboard" }).click();
  await page.getByRole("list", { name: "This month per currency" }).getByText("€34.00").waitFor();
  await shot(page, "04-dashboard-full");
});

test("a budget shows what its project spent and what is left", async ({ page }) => {
  await makeProject({ key: "ROAD", name: "Road shows" }, [spender]);
  const token = await tokenFor(spender);
  const categories = (await api("GET", "/expense-categories", { token })) as {
    items: { id: number; name: string }[];
  };
  const meals = categories.items.find((c) => c.name === "Meals");
  const project = (await api("GET", "/projects/ROAD", { token })) as { id: number };
  for (const amount of ["13.50", "9.90"]) {
    await api("POST", "/expenses", {
      token,
      json: {
        amount,
        currency: "EUR",
        category_id: meals?.id,
        description: "Stand",
        spent_on: today(),
        project_id: project.id,
      },
    });
  }
  await signIn(page, admin);
  await page.goto("/expenses/budgets");
  await page.getByRole("heading", { level: 1, name: "Budgets" }).waitFor();
  await page.getByRole("button", { name: "Set a budget for Road shows" }).click();
  const budgetForm = page.getByRole("form", { name: "Budget of Road shows" });
  await budgetForm.getByLabel("Amount").fill("100");
  await budgetForm.getByRole("button", { name: "Save" }).click();
  await page.getByText("€23.40").waitFor();
  await page.getByText("€76.60 left").waitFor();
  await shot(page, "22-budgets");
});
