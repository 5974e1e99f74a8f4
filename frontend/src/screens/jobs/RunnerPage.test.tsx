import { screen } from "@testing-library/react";
import { describe, expect, it } from "vitest";

import type { User } from "../../api/client";
import { aUser, json } from "../../test/fakeServer";
import { renderScreen } from "../../test/render";
import { RunnerPage } from "./RunnerPage";

const limits = { wall_time_s: 10, memory_mb: 128, output_bytes: 1048576 };

function python(overrides: Record<string, unknown>) {
  return {
    name: "python",
    description: "Python 3 with the standard library; no network",
    available: true,
    backend: "docker",
    detail: "in-process worker on docker",
    notice: null,
    default_limits: limits,
    max_limits: limits,
    max_input_bytes: 1048576,
    max_input_files: 20,
    ...overrides,
  };
}

function renderRunner(runtime: Record<string, unknown>) {
  return renderScreen(<RunnerPage />, {
    user: aUser() as User,
    routes: {
      "GET /api/v1/runtimes": () => json(200, { items: [runtime], next_cursor: null }),
      "GET /api/v1/jobs": () => json(200, { items: [], next_cursor: null }),
    },
  });
}

describe("which sandbox runs the jobs", () => {
  it("says plainly that the weaker sandbox is in use and how to get Docker", async () => {
    renderRunner(
      python({
        backend: "bwrap",
        notice: "Jobs run in bubblewrap, a weaker sandbox. Run `nimbus sandbox build` and restart",
      }),
    );
    const notice = await screen.findByText("Weaker sandbox in use.");
    expect(notice.closest("[role=status]")).toHaveTextContent("a weaker sandbox");
    expect(screen.getByText("nimbus sandbox build").tagName).toBe("CODE");
    expect(screen.getByRole("button", { name: "Run" })).toBeEnabled();
  });

  it("says nothing of the sandbox when Docker runs the jobs", async () => {
    renderRunner(python({}));
    expect(await screen.findByRole("button", { name: "Run" })).toBeEnabled();
    expect(screen.queryByText("Weaker sandbox in use.")).not.toBeInTheDocument();
  });

  it("shows the commands that fix a missing sandbox and keeps Run disabled", async () => {
    renderRunner(
      python({
        available: false,
        backend: null,
        detail: "no sandbox is available. Run `make run`, or `apt-get install bubblewrap`",
      }),
    );
    expect(await screen.findByRole("alert")).toHaveTextContent("The sandbox is not available.");
    expect(screen.getByText("apt-get install bubblewrap").tagName).toBe("CODE");
    expect(screen.getByRole("button", { name: "Run" })).toBeDisabled();
  });
});
