import { screen } from "@testing-library/react";
import userEvent from "@testing-library/user-event";
import { beforeEach, describe, expect, it } from "vitest";

import type { User } from "../../api/client";
import { aUser, json, problem } from "../../test/fakeServer";
import { renderScreen } from "../../test/render";
import { NewExpensePage } from "./ExpensePage";

const categories = {
  items: [
    { id: 1, name: "Meals", parent_id: null, path: "Meals", version: 1, created_at: "", updated_at: "" },
    { id: 2, name: "Travel", parent_id: null, path: "Travel", version: 1, created_at: "", updated_at: "" },
  ],
  next_cursor: null,
};

function setup(onCreate: (body: Record<string, unknown>) => Response) {
  const sent: Record<string, unknown>[] = [];
  const result = renderScreen(<NewExpensePage />, {
    user: aUser() as User,
    path: "/expenses/new",
    routes: {
      "GET /api/v1/expense-categories": () => json(200, categories),
      "GET /api/v1/projects": () => json(200, { items: [], next_cursor: null }),
      "POST /api/v1/expenses": (_req, body) => {
        const parsed = JSON.parse(body) as Record<string, unknown>;
        sent.push(parsed);
        return onCreate(parsed);
      },
    },
  });
  return { ...result, sent };
}

describe("NewExpensePage", () => {
  // The form remembers the last currency used; each test starts from the default.
  beforeEach(() => localStorage.clear());

  it("sends the amount as the exact decimal string typed, with a comma read as the point", async () => {
    const { sent } = setup(() => json(201, {}));
    const user = userEvent.setup();
    await user.type(screen.getByLabelText("Amount"), "1234,50");
    await user.clear(screen.getByLabelText("Currency"));
    await user.type(screen.getByLabelText("Currency"), "chf");
    await user.selectOptions(await screen.findByLabelText("Category"), "Travel");
    await user.clear(screen.getByLabelText("Date"));
    await user.type(screen.getByLabelText("Date"), "2026-03-29");
    await user.click(screen.getByRole("button", { name: "Save expense" }));
    await screen.findByRole("button", { name: "Save expense" });
    await expect.poll(() => sent.length).toBe(1);
    expect(sent[0]).toEqual({
      amount: "1234.50",
      currency: "CHF",
      category_id: 2,
      project_id: null,
      spent_on: "2026-03-29",
      description: "",
    });
  });

  it("shows the API's 422 message next to the field it is about", async () => {
    setup(() =>
      problem(422, "validation_error", {
        errors: [
          {
            loc: ["body", "currency"],
            msg: "Value error, 'XYZ' is not an ISO 4217 currency in use",
            type: "value_error",
          },
        ],
      }),
    );
    const user = userEvent.setup();
    await user.type(screen.getByLabelText("Amount"), "12.30");
    await user.clear(screen.getByLabelText("Currency"));
    await user.type(screen.getByLabelText("Currency"), "XYZ");
    await user.selectOptions(await screen.findByLabelText("Category"), "Meals");
    await user.click(screen.getByRole("button", { name: "Save expense" }));
    const currency = screen.getByLabelText("Currency");
    await expect.poll(() => currency.getAttribute("aria-invalid")).toBe("true");
    const message = document.getElementById(currency.getAttribute("aria-describedby") ?? "");
    expect(message).toHaveTextContent("'XYZ' is not an ISO 4217 currency in use");
    expect(screen.getByLabelText("Amount")).not.toHaveAttribute("aria-invalid");
  });

  it("refuses a negative or garbled amount before asking the server", async () => {
    const { sent } = setup(() => json(201, {}));
    const user = userEvent.setup();
    await user.type(screen.getByLabelText("Amount"), "-5");
    await user.click(screen.getByRole("button", { name: "Save expense" }));
    expect(await screen.findByText(/Enter an amount such as 12.30/)).toBeInTheDocument();
    await user.clear(screen.getByLabelText("Amount"));
    await user.type(screen.getByLabelText("Amount"), "12.345");
    await user.click(screen.getByRole("button", { name: "Save expense" }));
    expect(await screen.findByText("EUR amounts have at most 2 decimals.")).toBeInTheDocument();
    expect(sent).toHaveLength(0);
  });
});
