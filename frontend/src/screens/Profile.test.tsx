import { screen } from "@testing-library/react";
import userEvent from "@testing-library/user-event";
import { describe, expect, it } from "vitest";

import type { User } from "../api/client";
import { aUser, json } from "../test/fakeServer";
import { renderScreen } from "../test/render";
import { ProfilePage } from "./Profile";

const created = {
  id: 3,
  name: "CI pipeline",
  token_prefix: "nmb_abcd",
  token: "nmb_abcd_the-secret-part",
  expires_at: null,
  last_used_at: null,
  created_at: "2026-11-21T10:00:00Z",
};

describe("personal access tokens", () => {
  it("shows a new token once, with a copy button, and lists it without the secret", async () => {
    let tokens: unknown[] = [];
    const { server } = renderScreen(<ProfilePage />, {
      user: aUser() as User,
      routes: {
        "GET /api/v1/users/me/tokens": () => json(200, { items: tokens, next_cursor: null }),
        "POST /api/v1/users/me/tokens": () => {
          tokens = [{ ...created, token: undefined }];
          return json(201, created);
        },
      },
    });
    expect(await screen.findByText("No tokens yet")).toBeInTheDocument();

    const user = userEvent.setup();
    await user.type(screen.getByLabelText("Token name"), "CI pipeline");
    await user.selectOptions(screen.getByLabelText("Expires after"), "never");
    await user.click(screen.getByRole("button", { name: "Create token" }));

    expect(await screen.findByLabelText("New token")).toHaveValue("nmb_abcd_the-secret-part");
    expect(screen.getByRole("button", { name: "Copy" })).toBeInTheDocument();
    expect(await screen.findByRole("cell", { name: "CI pipeline" })).toBeInTheDocument();
    expect(JSON.parse(server.calls.find((c) => c.method === "POST")?.body ?? "")).toEqual({
      name: "CI pipeline",
      expires_at: null,
    });

    await user.click(screen.getByRole("button", { name: /hide the token/ }));
    expect(screen.queryByLabelText("New token")).not.toBeInTheDocument();
    expect(screen.queryByText("nmb_abcd_the-secret-part")).not.toBeInTheDocument();
  });
});
