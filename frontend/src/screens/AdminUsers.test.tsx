import { screen, within } from "@testing-library/react";
import userEvent from "@testing-library/user-event";
import { describe, expect, it } from "vitest";

import type { User } from "../api/client";
import { aUser, json, problem } from "../test/fakeServer";
import { renderScreen } from "../test/render";
import { AdminUsers } from "./AdminUsers";

const admin = aUser() as User;
const grace = aUser({
  id: 2,
  email: "grace@example.com",
  full_name: "Grace Hopper",
  role: "tester",
  version: 4,
}) as User;

describe("AdminUsers", () => {
  it("loads the next page with the cursor when asked", async () => {
    const { server } = renderScreen(<AdminUsers />, {
      user: admin,
      routes: {
        "GET /api/v1/users": (req) =>
          new URL(req.url).searchParams.get("cursor") === "page-2"
            ? json(200, { items: [grace], next_cursor: null })
            : json(200, { items: [admin], next_cursor: "page-2" }),
      },
    });

    await screen.findByText("Ada Lovelace");
    await userEvent.click(screen.getByRole("button", { name: "Load more" }));

    expect(await screen.findByText("Grace Hopper")).toBeInTheDocument();
    expect(screen.queryByRole("button", { name: "Load more" })).not.toBeInTheDocument();
    expect(server.calls.at(-1)?.search).toContain("cursor=page-2");
  });

  it("sends If-Match with the row's version and explains a 412 as someone else's change", async () => {
    const { server } = renderScreen(<AdminUsers />, {
      user: admin,
      routes: {
        "GET /api/v1/users": () => json(200, { items: [admin, grace], next_cursor: null }),
        "PATCH /api/v1/users/2": () => problem(412, "version_conflict"),
      },
    });

    await userEvent.click(await screen.findByRole("button", { name: "Deactivate Grace Hopper" }));

    const alert = await screen.findByRole("alert");
    expect(alert).toHaveTextContent("Someone changed Grace Hopper");
    expect(within(alert).getByRole("button", { name: "Reload" })).toBeInTheDocument();
    const patch = server.calls.find((c) => c.method === "PATCH");
    expect(patch?.headers.get("If-Match")).toBe('"4"');
    expect(JSON.parse(patch?.body ?? "")).toEqual({ is_active: false });
  });

  it("designs the empty result of a filter", async () => {
    renderScreen(<AdminUsers />, {
      user: admin,
      routes: { "GET /api/v1/users": () => json(200, { items: [], next_cursor: null }) },
    });
    await userEvent.selectOptions(await screen.findByLabelText("Role"), "developer");
    expect(await screen.findByText("Nobody matches these filters")).toBeInTheDocument();
  });
});
