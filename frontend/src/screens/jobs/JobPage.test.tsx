import { screen, waitFor, within } from "@testing-library/react";
import userEvent from "@testing-library/user-event";
import { afterEach, describe, expect, it, vi } from "vitest";

import type { User } from "../../api/client";
import { aUser, json } from "../../test/fakeServer";
import { aJob } from "../../test/jobs";
import { renderScreen } from "../../test/render";
import { JobPage } from "./JobPage";

const JOB = aJob().id;
const NEXT = "7b2d3c5f-0000-4000-8000-000000000009";
const PNG = new Uint8Array([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 0, 0, 0, 13]);

function events(files: { path: string; size: number; sha256: string }[] = []) {
  const exit = { ...aJob(), files };
  const body =
    'id: 1\nevent: stdout\ndata: {"data": "hi\\n"}\n\n' +
    `id: 2\nevent: exit\ndata: ${JSON.stringify(exit)}\n\n`;
  return () => new Response(body, { headers: { "Content-Type": "text/event-stream" } });
}

const file = (path: string, size = 12) => ({ path, size, sha256: path.padEnd(64, "0") });

afterEach(() => vi.restoreAllMocks());

describe("JobPage: a past run", () => {
  it("shows the code it ran, its stdin and args", async () => {
    renderScreen(<JobPage />, {
      user: aUser() as User,
      path: `/jobs/${JOB}`,
      routePath: "/jobs/:jobId",
      routes: {
        [`GET /api/v1/jobs/${JOB}`]: () => json(200, aJob()),
        [`GET /api/v1/jobs/${JOB}/events`]: events(),
      },
    });
    expect(await screen.findByRole("region", { name: "Code" })).toHaveTextContent("print('hi')");
    expect(screen.getByLabelText("Standard input")).toHaveTextContent("in");
    expect(screen.getByText('"-v"')).toBeInTheDocument();
  });

  it("shows every input file of a files job, binary ones by size", async () => {
    const job = aJob({
      source: null,
      entrypoint: "app.py",
      input_files: [
        { path: "app.py", content: "import data", encoding: "utf8", size: 11 },
        { path: "data.bin", content: "AP8=", encoding: "base64", size: 2 },
      ],
    });
    renderScreen(<JobPage />, {
      user: aUser() as User,
      path: `/jobs/${JOB}`,
      routePath: "/jobs/:jobId",
      routes: {
        [`GET /api/v1/jobs/${JOB}`]: () => json(200, job),
        [`GET /api/v1/jobs/${JOB}/events`]: events(),
      },
    });
    const code = await screen.findByRole("region", { name: "Code" });
    expect(within(code).getByLabelText("Contents of app.py")).toHaveTextContent("import data");
    expect(within(code).getByText("Binary file, 2 B.")).toBeInTheDocument();
  });

  it("runs again with the same request and goes to the new run", async () => {
    const sent: unknown[] = [];
    const { server } = renderScreen(<JobPage />, {
      user: aUser() as User,
      path: `/jobs/${JOB}`,
      routePath: "/jobs/:jobId",
      routes: {
        [`GET /api/v1/jobs/${JOB}`]: () => json(200, aJob()),
        [`GET /api/v1/jobs/${JOB}/events`]: events(),
        "POST /api/v1/jobs": (_req, body) => {
          sent.push(JSON.parse(body));
          return json(202, { ...aJob({ id: NEXT, status: "queued" }) });
        },
        [`GET /api/v1/jobs/${NEXT}`]: () => json(200, aJob({ id: NEXT, source: "print('hi')" })),
        [`GET /api/v1/jobs/${NEXT}/events`]: events(),
      },
    });
    await userEvent.click(await screen.findByRole("button", { name: "Run again" }));
    expect(await screen.findByText(NEXT.slice(0, 8), { selector: "code" })).toBeInTheDocument();
    expect(sent).toEqual([
      {
        runtime: "python",
        entrypoint: "main.py",
        source: "print('hi')",
        stdin: "in",
        args: ["-v"],
        limits: { wall_time_s: 5, memory_mb: 128, output_bytes: 1000 },
      },
    ]);
    expect(server.calls.find((c) => c.method === "POST")?.headers.get("Idempotency-Key")).toBeTruthy();
  });

  it("says a reproduction run is one and links to its bug", async () => {
    const job = aJob({ origin: { kind: "bug_reproduction", bug_id: 7 } });
    renderScreen(<JobPage />, {
      user: aUser() as User,
      path: `/jobs/${JOB}`,
      routePath: "/jobs/:jobId",
      routes: {
        [`GET /api/v1/jobs/${JOB}`]: () => json(200, job),
        [`GET /api/v1/jobs/${JOB}/events`]: events(),
        "GET /api/v1/bugs/7": () => json(200, { id: 7, key: "WEB-3", title: "Totals are wrong" }),
      },
    });
    const link = await screen.findByRole("link", { name: "WEB-3 Totals are wrong" });
    expect(link).toHaveAttribute("href", "/bugs/WEB-3");
  });
});

describe("JobPage: output files", () => {
  it("previews an image, CSV and SVG (as text) inline; others only download", async () => {
    const made: Blob[] = [];
    vi.spyOn(URL, "createObjectURL").mockImplementation((blob) => {
      made.push(blob as Blob);
      return "blob:nimbus/1";
    });
    vi.spyOn(URL, "revokeObjectURL").mockImplementation(() => undefined);
    const svg = '<svg xmlns="http://www.w3.org/2000/svg" onload="alert(1)"/>';
    const bytes = (body: BodyInit) => () =>
      new Response(body, { headers: { "Content-Type": "application/octet-stream" } });
    const files = [file("data.csv"), file("logo.svg"), file("model.bin"), file("plot.png")];
    renderScreen(<JobPage />, {
      user: aUser() as User,
      path: `/jobs/${JOB}`,
      routePath: "/jobs/:jobId",
      routes: {
        [`GET /api/v1/jobs/${JOB}`]: () => json(200, aJob({ files })),
        [`GET /api/v1/jobs/${JOB}/events`]: events(files),
        [`GET /api/v1/jobs/${JOB}/files/plot.png`]: bytes(PNG),
        [`GET /api/v1/jobs/${JOB}/files/data.csv`]: bytes('name,total\n"<b>x</b>",3\n'),
        [`GET /api/v1/jobs/${JOB}/files/logo.svg`]: bytes(svg),
      },
    });
    const image = await screen.findByRole("img", { name: "Image plot.png written by the script" });
    await waitFor(() => expect(image).toHaveAttribute("src", "blob:nimbus/1"));
    expect(made.map((b) => b.type)).toEqual(["image/png"]);
    expect(await screen.findByRole("cell", { name: "<b>x</b>" })).toBeInTheDocument();
    expect(await screen.findByLabelText("Contents of logo.svg")).toHaveTextContent(svg);
    expect(document.querySelector("svg[onload], b")).toBeNull();
    const binary = screen.getByText("model.bin", { selector: "code" }).closest("li") as HTMLElement;
    expect(within(binary).queryByRole("button", { name: /Preview/ })).toBeNull();
    expect(within(binary).getByRole("button", { name: /Download\s*model.bin/ })).toBeInTheDocument();
  });
});
