/** The code runner: output streamed line by line while the job runs, stdin, an output file
 * downloaded, the recent runs, the job page, and the dashboard's recent runs. */
import { expect, makeUser, readDownload, shot, signIn, test, type User } from "./support";

let coder: User;

test.beforeAll(async () => {
  coder = await makeUser("developer", {
    email: "cody@example.com",
    password: "marble-kettle-72",
    full_name: "Cody Runner",
  });
});

test("a run streams its output line by line and hands back its files", async ({ page }) => {
  await signIn(page, coder);
  const nav = page.getByRole("navigation", { name: "Main" });
  await nav.getByRole("link", { name: "Code runner" }).click();
  await page.getByRole("heading", { level: 1, name: "Code runner" }).waitFor();
  await page.locator(".cm-content").click();
  await page.keyboard.press("ControlOrMeta+A");
  await page.keyboard.press("Delete");
  await page.keyboard.insertText(
    'import time\nprint("first line", flush=True)\ntime.sleep(0.5)\nprint("second line")\n' +
      'open("result.txt", "w").write(input())\n',
  );
  await page.getByLabel("Standard input").fill("forty-two");
  await page.getByRole("button", { name: "Run", exact: true }).click();
  // The first line must be on screen while the job still runs: a stream buffered until the end
  // would show both lines at once and never satisfy this.
  const seenWhile = await page
    .waitForFunction(
      () => {
        const output = document.querySelector(".job-output");
        const text = output?.querySelector("[role=log]")?.textContent ?? "";
        if (!text.includes("first line") || text.includes("second line")) return null;
        return output?.getAttribute("data-status");
      },
      null,
      { polling: "raf", timeout: 20_000 },
    )
    .then((handle) => handle.jsonValue());
  expect(seenWhile, "status while only the first line was shown").toBe("running");
  await page.getByRole("log", { name: "Output" }).getByText("second line").waitFor();
  await page.locator(".job-output .job-status", { hasText: "Succeeded" }).waitFor();
  const [download] = await Promise.all([
    page.waitForEvent("download"),
    page.getByRole("button", { name: "Download result.txt" }).click(),
  ]);
  expect(await readDownload(download), "the job's output file").toBe("forty-two");
  await page.getByRole("table", { name: "Your recent runs" }).getByText("Succeeded").first().waitFor();
  await shot(page, "23-runner");
  await page.getByRole("link", { name: "Open this run" }).click();
  await page.getByRole("log", { name: "Output" }).getByText("second line").waitFor();
  await shot(page, "24-job");

  await nav.getByRole("link", { name: "Dashboard" }).click();
  await page.getByRole("region", { name: "Recent runs" }).locator(".job-status").first().waitFor();
});
