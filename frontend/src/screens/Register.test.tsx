import { screen } from "@testing-library/react";
import userEvent from "@testing-library/user-event";
import { describe, expect, it } from "vitest";

import { json, problem, tokenPair } from "../test/fakeServer";
import { renderScreen } from "../test/render";
import { Register } from "./Register";

async function fillAndSubmit() {
  const user = userEvent.setup();
  await user.type(screen.getByLabelText("Full name"), "Mallory");
  await user.type(screen.getByLabelText("Email"), "not-an-email");
  await user.type(screen.getByLabelText("Password"), "short");
  await user.click(screen.getByRole("button", { name: "Create account" }));
}

describe("Register", () => {
  it("shows each 422 message next to the field it concerns", async () => {
    renderScreen(<Register />, {
      routes: {
        "POST /api/v1/auth/register": () =>
          problem(422, "validation_error", {
            errors: [
              { loc: ["body", "email"], msg: "value is not a valid email address", type: "value_error" },
              {
                loc: ["body", "password"],
                msg: "String should have at least 8 characters",
                type: "string_too_short",
              },
            ],
          }),
      },
    });

    await fillAndSubmit();

    const email = screen.getByLabelText("Email");
    expect(await screen.findByText("Value is not a valid email address")).toBeInTheDocument();
    expect(email).toHaveAttribute("aria-invalid", "true");
    expect(email).toHaveAccessibleDescription("Value is not a valid email address");
    expect(screen.getByLabelText("Password")).toHaveAccessibleDescription(
      "String should have at least 8 characters",
    );
    expect(screen.getByLabelText("Full name")).not.toHaveAttribute("aria-invalid");
  });

  it("puts a taken email on the email field", async () => {
    renderScreen(<Register />, {
      routes: { "POST /api/v1/auth/register": () => problem(409, "email_taken") },
    });
    await fillAndSubmit();
    expect(await screen.findByText("An account with this email already exists.")).toBeInTheDocument();
    expect(screen.getByLabelText("Email")).toHaveAttribute("aria-invalid", "true");
  });

  it("signs the new account in after registering", async () => {
    const { server, api } = renderScreen(<Register />, {
      routes: {
        "POST /api/v1/auth/register": () => json(201, {}),
        "POST /api/v1/auth/token": () => json(200, tokenPair(1)),
      },
    });
    await fillAndSubmit();
    await vi.waitFor(() => expect(api.getStatus()).toBe("signed-in"));
    expect(server.calls.map((c) => c.path)).toEqual(["/api/v1/auth/register", "/api/v1/auth/token"]);
  });
});
