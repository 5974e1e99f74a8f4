import { screen } from "@testing-library/react";
import userEvent from "@testing-library/user-event";
import { describe, expect, it } from "vitest";

import type { User } from "../../api/client";
import { aUser, json } from "../../test/fakeServer";
import { aJob } from "../../test/jobs";
import { renderScreen } from "../../test/render";
import { RunnerPage } from "./RunnerPage";

const limits = { wall_time_s: 10, memory_mb: 128, output_bytes: 1048576 };
const python = {
  name: "python",
  description: "Python 3 with the standard library; no network",
  available: true,
  backend: "docker",
  detail: "in-process worker on docker",
  notice: null,
  default_limits: limits,
  max_limits: limits,
  max_input_bytes: 1000,
  max_input_files: 3,
};

function renderRunner(path: string | { pathname: string; state: unknown } = "/run") {
  const sent: unknown[] = [];
  const rendered = renderScreen(<RunnerPage />, {
    user: aUser() as User,
    path,
    routes: {
      "GET /api/v1/runtimes": () => json(200, { items: [python], next_cursor: null }),
      "GET /api/v1/jobs": () => json(200, { items: [], next_cursor: null }),
      "POST /api/v1/jobs": (_req, body) => {
        sent.push(JSON.parse(body));
        return json(202, aJob({ status: "queued" }));
      },
    },
  });
  return { ...rendered, sent };
}

describe("the runner's input files", () => {
  it("sends uploaded files next to the script as main.py", async () => {
    const { sent } = renderRunner();
    const input = await screen.findByLabelText("Input files");
    await userEvent.upload(input, [
      new File(["a,b\n1,2\n"], "data.csv"),
      new File([new Uint8Array([0, 255])], "w.bin"),
    ]);
    expect(screen.getByRole("list", { name: "Input files" })).toHaveTextContent("data.csv");
    await userEvent.click(screen.getByRole("button", { name: "Run" }));
    await screen.findByRole("link", { name: "Open this run" });
    const body = sent[0] as { files: unknown[]; entrypoint: string; source?: string };
    expect(body.entrypoint).toBe("main.py");
    expect(body.source).toBeUndefined();
    expect(body.files.slice(1)).toEqual([
      { path: "data.csv", content: "a,b\n1,2\n", encoding: "utf8" },
      { path: "w.bin", content: "AP8=", encoding: "base64" },
    ]);
  });

  it("refuses files over the caps before sending, and a removed file frees the room", async () => {
    const { sent } = renderRunner();
    const input = await screen.findByLabelText("Input files");
    await userEvent.upload(input, new File(["x".repeat(2000)], "big.txt"));
    expect(screen.getByRole("alert")).toHaveTextContent(/at most 1000 B can be sent/);
    expect(screen.getByRole("button", { name: "Run" })).toBeDisabled();
    await userEvent.click(screen.getByRole("button", { name: /Remove\s*big.txt/ }));
    expect(screen.queryByRole("alert")).toBeNull();
    expect(screen.getByRole("button", { name: "Run" })).toBeEnabled();
    expect(sent).toEqual([]);
  });

  it("opens a past run's code, stdin and files (Open in editor)", async () => {
    const draft = {
      source: "print(open('d.txt').read())",
      stdin: "typed before",
      files: [{ path: "d.txt", content: "kept", encoding: "utf8", size: 4 }],
    };
    const { sent } = renderRunner({ pathname: "/run", state: { draft } });
    expect(await screen.findByLabelText("Standard input")).toHaveValue("typed before");
    expect(screen.getByTestId("code-editor")).toHaveTextContent("print(open('d.txt').read())");
    await userEvent.click(screen.getByRole("button", { name: "Run" }));
    await screen.findByRole("link", { name: "Open this run" });
    expect(sent[0]).toMatchObject({
      files: [
        { path: "main.py", content: draft.source },
        { path: "d.txt", content: "kept", encoding: "utf8" },
      ],
      stdin: "typed before",
    });
  });
});
