import { render, screen, within } from "@testing-library/react";
import { describe, expect, it } from "vitest";

import type { ImportReport } from "../../api/client";
import { ImportPreview } from "./ImportPreview";

const report = (overrides: Partial<ImportReport> = {}): ImportReport => ({
  dry_run: true,
  valid: false,
  rows: 4,
  imported: 2,
  duplicates: 0,
  errors: [
    { line: 3, column: "amount", reason: "not a decimal amount: '12,3,4'" },
    { line: 5, column: "currency", reason: "unknown currency 'EURO'" },
    { line: 5, column: null, reason: "too many columns" },
  ],
  errors_truncated: false,
  preview: [
    {
      line: 2,
      spent_on: "2026-03-01",
      amount: "12.30",
      currency: "EUR",
      category: "Meals",
      description: "Lunch",
      project: "WEB",
      duplicate: false,
    },
    {
      line: 4,
      spent_on: "2026-03-02",
      amount: "1500",
      currency: "JPY",
      category: "Travel/Taxi",
      description: "Taxi",
      project: null,
      duplicate: true,
    },
  ],
  ...overrides,
});

describe("ImportPreview", () => {
  it("lists every bad row with its line, column and reason", () => {
    render(<ImportPreview report={report()} />);
    const table = screen.getByRole("table", { name: "Rows with problems" });
    const rows = within(table).getAllByRole("row").slice(1);
    expect(rows.map((r) => [...r.querySelectorAll("td")].map((td) => td.textContent))).toEqual([
      ["3", "amount", "not a decimal amount: '12,3,4'"],
      ["5", "currency", "unknown currency 'EURO'"],
      ["5", "whole row", "too many columns"],
    ]);
    expect(screen.getByText("Fix these rows, then check the file again")).toBeInTheDocument();
    // Nothing is imported from a file with bad rows, whatever the count of good ones.
    expect(screen.getByText("Would be imported").nextElementSibling).toHaveTextContent("0");
  });

  it("shows the rows as they would be stored, exact amounts, and marks duplicates", () => {
    render(<ImportPreview report={report({ valid: true, errors: [] })} />);
    expect(screen.queryByRole("table", { name: "Rows with problems" })).toBeNull();
    const table = screen.getByRole("table", { name: "Rows as they would be stored" });
    const cells = within(table)
      .getAllByRole("row")
      .slice(1)
      .map((r) => [...r.querySelectorAll("td")].map((td) => td.textContent));
    expect(cells[0]).toEqual(["2", "2026-03-01", "Meals", "Lunch", "WEB", expect.stringMatching(/12\.30/)]);
    expect(cells[1]?.[3]).toContain("already imported");
    expect(cells[1]?.[5]).toMatch(/1,500/);
    expect(screen.getByText("Would be imported").nextElementSibling).toHaveTextContent("2");
  });

  it("says when a real import was refused and when the list of problems is cut", () => {
    render(<ImportPreview report={report({ dry_run: false, errors_truncated: true })} />);
    expect(screen.getByText("Nothing was imported: fix these rows and try again")).toBeInTheDocument();
    expect(screen.getByText(/more problems than shown/)).toBeInTheDocument();
  });
});
