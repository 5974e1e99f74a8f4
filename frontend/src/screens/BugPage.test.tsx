import { screen, within } from "@testing-library/react";
import userEvent from "@testing-library/user-event";
import { describe, expect, it, vi } from "vitest";

import type { User } from "../api/client";
import { aUser, json, PERMISSIONS, problem } from "../test/fakeServer";
import { renderScreen } from "../test/render";
import { BugPage } from "./BugPage";

const bug = {
  id: 1,
  key: "WEB-1",
  project_id: 1,
  project_key: "WEB",
  number: 1,
  title: "Checkout is broken",
  description: "It **fails**",
  status: "in_progress",
  resolution: null,
  duplicate_of: null,
  priority: "high",
  severity: "major",
  labels: [],
  reporter: { id: 1, full_name: "Ada Lovelace" },
  assignee: null,
  watching: false,
  repro_script: null,
  reproduces: null,
  repro_job_id: null,
  repro_checked_at: null,
  version: 7,
  created_at: "2026-11-21T10:00:00Z",
  updated_at: "2026-11-21T10:00:00Z",
  can: {
    edit: true,
    assign: true,
    delete: true,
    comment: true,
    reproduce: true,
    transition: ["open", "resolved"],
  },
};

const empty = { items: [], next_cursor: null };

function routes(onTransition: (body: unknown, ifMatch: string | null) => Response) {
  return {
    "GET /api/v1/bugs/WEB-1": () => json(200, bug),
    "GET /api/v1/bugs/WEB-1/transitions": () =>
      json(200, {
        items: [
          { to: "open", requires: [], resolutions: [] },
          { to: "resolved", requires: ["resolution"], resolutions: ["fixed", "duplicate", "wont_fix"] },
        ],
        next_cursor: null,
      }),
    "GET /api/v1/bugs/WEB-1/comments": () => json(200, empty),
    "GET /api/v1/bugs/WEB-1/activity": () => json(200, empty),
    "GET /api/v1/projects/WEB/members": () => json(200, empty),
    "GET /api/v1/bugs/WEB-1/attachments": () => json(200, empty),
    "POST /api/v1/bugs/WEB-1/transitions": (req: Request, body: string) =>
      onTransition(JSON.parse(body), req.headers.get("If-Match")),
  };
}

describe("BugPage transitions", () => {
  it("asks for the resolution a transition requires and sends it with If-Match", async () => {
    let sent: unknown = null;
    let header: string | null = null;
    renderScreen(<BugPage />, {
      user: aUser() as User,
      path: "/bugs/WEB-1",
      routePath: "/bugs/:bugKey",
      routes: routes((body, ifMatch) => {
        sent = body;
        header = ifMatch;
        return json(200, { ...bug, status: "resolved", resolution: "wont_fix", version: 8 });
      }),
    });
    const user = userEvent.setup();
    await user.click(await screen.findByRole("button", { name: "Resolve" }));
    await user.selectOptions(screen.getByLabelText("Resolution"), "wont_fix");
    await user.click(screen.getByRole("button", { name: "Confirm" }));

    expect(await screen.findByText("Resolved")).toBeInTheDocument();
    expect(sent).toEqual({ to: "resolved", resolution: "wont_fix" });
    expect(header).toBe('"7"');
  });

  it("explains a 409 invalid_transition with the server's reason", async () => {
    renderScreen(<BugPage />, {
      user: aUser() as User,
      path: "/bugs/WEB-1",
      routePath: "/bugs/:bugKey",
      routes: routes(() =>
        problem(409, "invalid_transition", { detail: "Only developers may stop progress" }),
      ),
    });
    await userEvent.click(await screen.findByRole("button", { name: "Stop progress" }));
    expect(await screen.findByRole("alert")).toHaveTextContent("Only developers may stop progress");
  });
});

describe("BugPage reproduction", () => {
  it("shows the output of the latest run, whoever started it", async () => {
    const job = "6f1c2a4e-0000-4000-8000-000000000002";
    const ran = { ...bug, repro_script: "raise SystemExit(1)", reproduces: true, repro_job_id: job };
    const events =
      'id: 1\nevent: status\ndata: {"status": "running"}\n\n' +
      'id: 2\nevent: stdout\ndata: {"data": "total is 3"}\n\n' +
      `id: 3\nevent: exit\ndata: ${JSON.stringify({ status: "failed", exit_code: 1, duration_ms: 44, files: [] })}\n\n`;
    renderScreen(<BugPage />, {
      user: aUser() as User,
      path: "/bugs/WEB-1",
      routePath: "/bugs/:bugKey",
      routes: {
        ...routes(() => json(500, {})),
        "GET /api/v1/bugs/WEB-1": () => json(200, ran),
        [`GET /api/v1/jobs/${job}/events`]: () =>
          new Response(events, { headers: { "Content-Type": "text/event-stream" } }),
      },
    });
    expect(await screen.findByText("total is 3")).toBeInTheDocument();
    expect(screen.getByRole("log", { name: "Reproduction output" })).toHaveTextContent("total is 3");
    expect(screen.getByText("Reproduces")).toBeInTheDocument();
  });
});

// A tester's view of someone else's bug, as the API describes it: nothing to edit or assign.
const testersView = {
  ...bug,
  status: "open",
  reporter: { id: 9, full_name: "Tess Tester" },
  assignee: { id: 3, full_name: "Dev Alvarez" },
  labels: ["checkout"],
  repro_script: "raise SystemExit(1)",
  can: { edit: false, assign: false, delete: false, comment: true, reproduce: true, transition: ["closed"] },
};

const members = {
  items: [
    { user: aUser({ id: 3, full_name: "Dev Alvarez", role: "developer" }), joined_at: "x", assignable: true },
    { user: aUser({ id: 4, full_name: "Dee Gone", role: "developer" }), joined_at: "x", assignable: false },
    { user: aUser({ id: 9, full_name: "Tess Tester", role: "tester" }), joined_at: "x", assignable: false },
  ],
  next_cursor: null,
};

describe("BugPage follows what the API says the caller may do", () => {
  it("offers no edit, assignee or field controls when can says no, and shows the values", async () => {
    renderScreen(<BugPage />, {
      user: aUser({ id: 2, role: "tester", permissions: PERMISSIONS.tester }) as User,
      path: "/bugs/WEB-1",
      routePath: "/bugs/:bugKey",
      routes: {
        ...routes(() => json(500, {})),
        "GET /api/v1/bugs/WEB-1": () => json(200, testersView),
        "GET /api/v1/projects/WEB/members": () => json(200, members),
      },
    });
    const details = await screen.findByRole("complementary", { name: "Details" });
    expect(within(details).queryByRole("combobox")).toBeNull();
    expect(within(details).queryByRole("textbox")).toBeNull();
    expect(within(details).getByText("Dev Alvarez")).toBeInTheDocument();
    expect(within(details).getByText("checkout")).toBeInTheDocument();
    expect(screen.queryByRole("button", { name: "Edit" })).toBeNull();
    expect(screen.queryByRole("button", { name: "Edit script" })).toBeNull();
    expect(screen.getByRole("button", { name: "Run reproduction" })).toBeInTheDocument();
    expect(screen.getByRole("button", { name: "Comment" })).toBeInTheDocument();
  });

  it("offers as assignees only the members the API calls assignable", async () => {
    renderScreen(<BugPage />, {
      user: aUser() as User,
      path: "/bugs/WEB-1",
      routePath: "/bugs/:bugKey",
      routes: {
        ...routes(() => json(500, {})),
        "GET /api/v1/projects/WEB/members": () => json(200, members),
      },
    });
    const assignee = await screen.findByLabelText("Assignee");
    await screen.findByRole("option", { name: "Dev Alvarez" });
    const names = within(assignee)
      .getAllByRole("option")
      .map((o) => o.textContent);
    expect(names).toEqual(["Nobody", "Dev Alvarez"]);
    expect(screen.getByRole("button", { name: "Edit" })).toBeInTheDocument();
    expect(screen.getByLabelText("Priority")).toBeInTheDocument();
  });

  it("hides the comment form when the caller may not comment", async () => {
    renderScreen(<BugPage />, {
      user: aUser() as User,
      path: "/bugs/WEB-1",
      routePath: "/bugs/:bugKey",
      routes: {
        ...routes(() => json(500, {})),
        "GET /api/v1/bugs/WEB-1": () => json(200, { ...bug, can: { ...bug.can, comment: false } }),
      },
    });
    expect(await screen.findByText("No comments yet.")).toBeInTheDocument();
    expect(screen.queryByRole("button", { name: "Comment" })).toBeNull();
  });
});

describe("BugPage comments", () => {
  it("posts a comment with Ctrl+Enter", async () => {
    const posted: string[] = [];
    renderScreen(<BugPage />, {
      user: aUser() as User,
      path: "/bugs/WEB-1",
      routePath: "/bugs/:bugKey",
      routes: {
        ...routes(() => json(200, bug)),
        "POST /api/v1/bugs/WEB-1/comments": (_req: Request, body: string) => {
          posted.push((JSON.parse(body) as { body: string }).body);
          return json(201, {
            id: 1,
            bug_id: 1,
            author: { id: 1, full_name: "Ada Lovelace" },
            body: "Seen on staging too",
            created_at: "2026-11-21T10:00:00Z",
            edited_at: null,
          });
        },
      },
    });
    const user = userEvent.setup();
    await user.type(await screen.findByLabelText(/Add a comment/), "Seen on staging too");
    await user.keyboard("{Control>}{Enter}{/Control}");
    await vi.waitFor(() => expect(posted).toEqual(["Seen on staging too"]));
  });
});
