/** Every run keeps what it ran: an input file goes in, an image and a CSV come out and preview
 * inline; the job page shows the code, "Run again" runs it again, "Open in editor" loads it. */
import { expect, makeUser, shot, signIn, test, type User } from "./support";

let coder: User;

test.beforeAll(async () => {
  coder = await makeUser("developer", {
    email: "keeper@example.com",
    password: "lantern-copper-58",
    full_name: "Kim Keeper",
  });
});

// A 96×48 gradient PNG from the standard library alone (the `python` runtime has no numpy).
const SCRIPT = `import struct, zlib

def chunk(kind, data):
    body = kind + data
    return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))

W, H = 96, 48
rows = b"".join(b"\\x00" + b"".join(bytes((x * 255 // W, y * 255 // H, 160)) for x in range(W)) for y in range(H))
png = b"\\x89PNG\\r\\n\\x1a\\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", W, H, 8, 2, 0, 0, 0))
png += chunk(b"IDAT", zlib.compress(rows)) + chunk(b"IEND", b"")
open("plot.png", "wb").write(png)
names = open("names.txt").read().split()
open("table.csv", "w").write("name,length\\n" + "".join(f"{n},{len(n)}\\n" for n in names))
print("hello", input(), len(names))
`;

test("a past run shows its code, runs again, and its image previews inline", async ({ page }) => {
  await signIn(page, coder);
  await page.goto("/run");
  await page.getByRole("heading", { level: 1, name: "Code runner" }).waitFor();
  await page.locator(".cm-content").click();
  await page.keyboard.press("ControlOrMeta+A");
  await page.keyboard.press("Delete");
  await page.keyboard.insertText(SCRIPT);
  await page.getByLabel("Standard input").fill("kim");
  await page.getByLabel("Input files").setInputFiles({
    name: "names.txt",
    mimeType: "text/plain",
    buffer: Buffer.from("ada grace\nlinus\n"),
  });
  await expect(page.getByRole("list", { name: "Input files" })).toContainText("names.txt");
  await page.getByRole("button", { name: "Run", exact: true }).click();
  const output = page.locator(".job-output");
  await output.locator(".job-status", { hasText: "Succeeded" }).waitFor({ timeout: 30_000 });
  await expect(page.getByRole("log", { name: "Output" })).toContainText("hello kim 3");

  // The image is drawn from a blob: URL of the type the app chose, and really decodes.
  const image = output.getByRole("img", { name: "Image plot.png written by the script" });
  await expect(image).toHaveAttribute("src", /^blob:/);
  await expect
    .poll(() => image.evaluate((img: HTMLImageElement) => img.complete && img.naturalWidth))
    .toBe(96);
  await expect(output.getByRole("cell", { name: "linus" })).toBeVisible();

  // The job page keeps the code, the input file, stdin.
  await page.getByRole("link", { name: "Open this run" }).click();
  const firstUrl = page.url();
  const code = page.getByRole("region", { name: "Code" });
  await expect(code.getByLabel("Contents of main.py")).toContainText('open("plot.png", "wb")');
  await expect(code.getByLabel("Contents of names.txt")).toContainText("ada grace");
  await expect(page.getByLabel("Standard input")).toHaveText("kim");
  await page.getByRole("img", { name: "Image plot.png written by the script" }).waitFor();
  await shot(page, "25-job-code");

  // Run again: a new run of the same code, with its own page.
  await page.getByRole("button", { name: "Run again" }).click();
  await expect(page).not.toHaveURL(firstUrl);
  await expect(page).toHaveURL(/\/jobs\/[0-9a-f-]{36}$/);
  await page.locator(".job-output .job-status", { hasText: "Succeeded" }).waitFor({ timeout: 30_000 });
  await expect(page.getByRole("log", { name: "Output" })).toContainText("hello kim 3");
  await expect(page.getByRole("region", { name: "Code" }).getByLabel("Contents of main.py")).toContainText(
    "import struct, zlib",
  );

  // Open in editor: the runner has the script, stdin and the file back.
  await page.getByRole("button", { name: "Open in editor" }).click();
  await page.getByRole("heading", { level: 1, name: "Code runner" }).waitFor();
  await expect(page.locator(".cm-content")).toContainText("import struct, zlib");
  await expect(page.getByLabel("Standard input")).toHaveValue("kim");
  await expect(page.getByRole("list", { name: "Input files" })).toContainText("names.txt");
});
