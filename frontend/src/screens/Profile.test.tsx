import { screen } from "@testing-library/react";
import userEvent from "@testing-library/user-event";
import { describe, expect, it, vi } from "vitest";

import type { User } from "../api/client";
import { aUser, json, problem } from "../test/fakeServer";
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

describe("password change", () => {
  async function changePassword(to: string) {
    const user = userEvent.setup();
    // the password card's: the profile card above asks for it too, to change the email
    const fields = screen.getAllByLabelText("Current password");
    await user.type(fields[fields.length - 1] as HTMLElement, "old one");
    await user.type(screen.getByLabelText("New password"), to);
    await user.type(screen.getByLabelText("Repeat new password"), to);
    await user.click(screen.getByRole("button", { name: "Change password" }));
  }

  it("carries on with the session the change answered with, without signing in again", async () => {
    const me = aUser() as User;
    const { server } = renderScreen(<ProfilePage />, {
      user: me,
      routes: {
        "GET /api/v1/users/me/tokens": () => json(200, { items: [], next_cursor: null }),
        "PATCH /api/v1/users/me": () =>
          json(200, {
            ...me,
            version: me.version + 1,
            warnings: [],
            session: {
              access_token: "fresh-access",
              token_type: "bearer",
              expires_in: 900,
              refresh_token: "fresh-refresh",
            },
          }),
      },
    });
    await changePassword("a brand new passphrase");

    expect(await screen.findByText(/Password changed/)).toBeInTheDocument();
    expect(server.calls.some((c) => c.path === "/api/v1/auth/token")).toBe(false);
    // the revoked tokens are listed again, with the new session's token
    await vi.waitFor(() => {
      const lists = server.calls.filter((c) => c.path === "/api/v1/users/me/tokens");
      expect(lists.at(-1)?.authorization).toBe("Bearer fresh-access");
    });
  });

  it("shows on the field why a weak password was refused", async () => {
    const reason = "Choose another password: it is one of the most common passwords.";
    renderScreen(<ProfilePage />, {
      user: aUser() as User,
      routes: {
        "GET /api/v1/users/me/tokens": () => json(200, { items: [], next_cursor: null }),
        "PATCH /api/v1/users/me": () =>
          problem(422, "weak_password", {
            detail: reason,
            reason: "common_password",
            errors: [{ loc: ["body", "password"], msg: reason, type: "weak_password" }],
          }),
      },
    });
    await changePassword("password1");

    expect(await screen.findByText(reason)).toBeInTheDocument();
    expect(screen.getByLabelText("New password")).toHaveAccessibleDescription(
      expect.stringContaining(reason),
    );
  });
});
