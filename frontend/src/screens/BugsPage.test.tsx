import { screen, waitFor } from "@testing-library/react";
import userEvent from "@testing-library/user-event";
import { useLocation } from "react-router";
import { describe, expect, it } from "vitest";

import type { User } from "../api/client";
import { aUser, json } from "../test/fakeServer";
import { renderScreen } from "../test/render";
import { BugsPage } from "./BugsPage";

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
