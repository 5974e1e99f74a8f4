import { screen, waitFor } from "@testing-library/react";
import userEvent from "@testing-library/user-event";
import { useLocation } from "react-router";
import { describe, expect, it } from "vitest";

import type { User } from "../api/client";
import { aUser, json } from "../test/fakeServer";
import { renderScreen } from "../test/render";
import { BugsPage } from "./BugsPage";
import { NewBug } from "./NewBug";

function WhereAmI() {
  const location = useLocation();
  return <output aria-label="location">{location.pathname + location.search}</output>;
}

const noBugs = () => json(200, { items: [], next_cursor: null });

describe("the bug list's search", () => {
  it("is kept in the URL, so Back and shared links return to it", async () => {
    const { server } = renderScreen(
      <>
        <BugsPage />
        <WhereAmI />
      </>,
      { user: aUser() as User, path: "/bugs", routes: { "GET /api/v1/bugs": noBugs } },
    );
    await userEvent.setup().type(screen.getByLabelText("Search bugs"), "WEB-12");
    await waitFor(() => expect(screen.getByLabelText("location")).toHaveTextContent("/bugs?q=WEB-12"));
    await waitFor(() => expect(server.calls.some((c) => c.search.includes("q=WEB-12"))).toBe(true));
  });

  it("starts from the URL's search", async () => {
    const { server } = renderScreen(<BugsPage />, {
      user: aUser() as User,
      path: "/bugs?q=crash",
      routes: { "GET /api/v1/bugs": noBugs },
    });
    expect(screen.getByLabelText("Search bugs")).toHaveValue("crash");
    await waitFor(() => expect(server.calls.some((c) => c.search.includes("q=crash"))).toBe(true));
  });
});

const projects = () =>
  json(200, {
    items: [
      { id: 1, key: "WEB", name: "Website", description: "" },
      { id: 2, key: "OPS", name: "Operations", description: "" },
    ],
    next_cursor: null,
  });

describe("the Bugs page", () => {
  it("narrows to a project and a priority, and files a bug in the chosen project", async () => {
    const { server } = renderScreen(
      <>
        <BugsPage />
        <WhereAmI />
      </>,
      {
        user: aUser() as User,
        path: "/bugs",
        routes: {
          "GET /api/v1/bugs": noBugs,
          "GET /api/v1/projects": projects,
          "GET /api/v1/projects/OPS/bugs": noBugs,
        },
      },
    );
    const user = userEvent.setup();
    await screen.findByRole("option", { name: "OPS · Operations" });
    await user.selectOptions(screen.getByLabelText("Project"), "OPS");
    await user.selectOptions(screen.getByLabelText("Priority"), "high");
    await waitFor(() =>
      expect(
        server.calls.some(
          (c) => c.path === "/api/v1/projects/OPS/bugs" && c.search.includes("priority=high"),
        ),
      ).toBe(true),
    );
    expect(screen.getByLabelText("location")).toHaveTextContent("/bugs?project=OPS&priority=high");
    expect(screen.getByRole("link", { name: "File a bug" })).toHaveAttribute("href", "/bugs/new?project=OPS");
  });
});

describe("filing a bug from the Bugs page", () => {
  it("asks which project, and files it there", async () => {
    const { server } = renderScreen(<NewBug />, {
      user: aUser() as User,
      path: "/bugs/new",
      routes: {
        "GET /api/v1/projects": projects,
        "GET /api/v1/projects/OPS/members": () => json(200, { items: [], next_cursor: null }),
        "POST /api/v1/projects/OPS/bugs": () => json(201, { key: "OPS-1" }),
      },
    });
    const user = userEvent.setup();
    expect(screen.getByRole("button", { name: "File bug" })).toBeDisabled();
    await screen.findByRole("option", { name: "OPS · Operations" });
    await user.selectOptions(screen.getByLabelText(/^Project/), "OPS");
    await user.type(screen.getByLabelText(/^Title/), "Pager rings twice");
    await user.click(screen.getByRole("button", { name: "File bug" }));
    await waitFor(() => expect(server.calls.some((c) => c.method === "POST")).toBe(true));
    expect(server.calls.find((c) => c.method === "POST")?.path).toBe("/api/v1/projects/OPS/bugs");
  });
});
