import "@testing-library/jest-dom/vitest";

import { configure } from "@testing-library/react";

// The default 1 s for findBy* is flaky on a busy CI machine; a real failure still fails.
configure({ asyncUtilTimeout: 5000 });

// jsdom does no layout: CodeMirror (the runner's editor) measures text ranges, which it lacks.
if (!("getClientRects" in Range.prototype)) {
  Object.defineProperties(Range.prototype, {
    getClientRects: { value: () => Object.assign([], { item: () => null }) },
    getBoundingClientRect: { value: () => new DOMRect() },
  });
}
