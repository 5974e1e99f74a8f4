import { screen, within } from "@testing-library/react";
import userEvent from "@testing-library/user-event";
import { describe, expect, it } from "vitest";

import type { User } from "../../api/client";
import { aUser, json } from "../../test/fakeServer";
import { aJob } from "../../test/jobs";
import { renderScreen } from "../../test/render";
import { RunnerPage } from "./RunnerPage";

const limits = { wall_time_s: 10, memory_mb: 128, output_bytes: 1048576 };
const common = {
  backend: "docker",
  detail: "in-process worker on docker",
  notice: null,
  default_limits: limits,
  max_limits: limits,
  max_input_bytes: 1048576,
  max_input_files: 20,
};
const python = {
  ...common,
  name: "python",
  description: "Python 3 with the standard library; no network",
  available: true,
  reason: null,
  packages: { "python3.11": "3.11.2-6" },
};
const sci = {
  ...common,
  name: "python-sci",
  description: "Python 3 with numpy, pandas, matplotlib",
  available: true,
  reason: null,
  packages: { "python3-numpy": "1:1.24.2-1", "python3-pandas": "1.5.3+dfsg-2" },
};

function renderRunner(runtimes: Record<string, unknown>[]) {
  const sent: Record<string, unknown>[] = [];
  renderScreen(<RunnerPage />, {
    user: aUser() as User,
    routes: {
      "GET /api/v1/runtimes": () => json(200, { items: runtimes, next_cursor: null }),
      "GET /api/v1/jobs": () => json(200, { items: [], next_cursor: null }),
      "POST /api/v1/jobs": (_req, body) => {
        sent.push(JSON.parse(body) as Record<string, unknown>);
        return json(202, aJob({ status: "queued" }));
      },
    },
  });
  return sent;
}

describe("the runner's runtime", () => {
  it("lets the user pick python-sci, shows its packages and runs in it", async () => {
    const sent = renderRunner([python, sci]);
    const select = await screen.findByLabelText("Runtime");
    expect(screen.getByRole("list", { name: "Packages in python" })).toHaveTextContent("python3.11");
    await userEvent.selectOptions(select, "python-sci");
    const packages = screen.getByRole("list", { name: "Packages in python-sci" });
    expect(within(packages).getByText("python3-numpy")).toBeInTheDocument();
    expect(packages).toHaveTextContent("1:1.24.2-1");
    await userEvent.click(screen.getByRole("button", { name: "Run" }));
    await screen.findByText(/queued/i);
    expect(sent[0]).toMatchObject({ runtime: "python-sci" });
  });

  it("says why a runtime is not available and how to get it", async () => {
    renderRunner([
      python,
      {
        ...sci,
        available: false,
        packages: {},
        reason:
          "its image nimbus-sandbox:py3-sci-r2 is not built: run `nimbus sandbox build --runtime python-sci`",
      },
    ]);
    await userEvent.selectOptions(await screen.findByLabelText("Runtime"), "python-sci");
    const alert = screen.getByRole("alert");
    expect(alert).toHaveTextContent("The python-sci runtime is not available.");
    expect(within(alert).getByText("nimbus sandbox build --runtime python-sci").tagName).toBe("CODE");
    expect(screen.getByRole("option", { name: "python-sci (not available)" })).toBeInTheDocument();
  });
});
