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
