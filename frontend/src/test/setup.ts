import "@testing-library/jest-dom/vitest";

import { configure } from "@testing-library/react";

// The default 1 s for findBy* is flaky on a busy CI machine; a real failure still fails.
configure({ asyncUtilTimeout: 5000 });
