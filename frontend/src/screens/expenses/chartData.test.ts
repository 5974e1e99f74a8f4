import { describe, expect, it } from "vitest";

import type { SummaryRow } from "../../api/client";
import { byCategory, byMonth, monthLabel, nextMonth } from "./chartData";

const row = (fields: Partial<SummaryRow> & { currency: string; total: string }): SummaryRow => ({
  count: 1,
  ...fields,
});

describe("byCategory", () => {
  const names = new Map([
    [1, "Travel"],
    [2, "Meals"],
    [3, "Software"],
  ]);

  it("makes one series per currency on shared labels and never adds currencies", () => {
    const shape = byCategory(
      [
        row({ category_id: 1, currency: "EUR", total: "100.00", count: 3 }),
        row({ category_id: 1, currency: "USD", total: "40.00", count: 1 }),
        row({ category_id: 2, currency: "EUR", total: "12.50", count: 2 }),
        row({ category_id: 3, currency: "USD", total: "9.99", count: 1 }),
      ],
      names,
    );
    expect(shape.labels).toEqual(["Travel", "Meals", "Software"]);
    expect(shape.series).toEqual([
      { currency: "EUR", totals: ["100.00", "12.50", null] },
      { currency: "USD", totals: ["40.00", null, "9.99"] },
    ]);
  });

  it("names unknown and missing categories", () => {
    const shape = byCategory(
      [
        row({ category_id: 9, currency: "EUR", total: "1.00" }),
        row({ category_id: null, currency: "EUR", total: "2.00" }),
      ],
      names,
    );
    expect(shape.labels.sort()).toEqual(["Category 9", "Uncategorised"]);
  });
});

describe("byMonth", () => {
  it("orders months and keeps empty months between them as gaps", () => {
    const shape = byMonth([
      row({ month: "2026-03", currency: "EUR", total: "5.00" }),
      row({ month: "2025-12", currency: "EUR", total: "7.00" }),
      row({ month: "2026-01", currency: "GBP", total: "3.00" }),
    ]);
    expect(shape.labels).toEqual(["2025-12", "2026-01", "2026-02", "2026-03"]);
    expect(shape.series).toEqual([
      { currency: "EUR", totals: ["7.00", null, null, "5.00"] },
      { currency: "GBP", totals: [null, "3.00", null, null] },
    ]);
  });

  it("widens to the filter's range, and shows nothing when there is nothing", () => {
    const rows = [row({ month: "2026-02", currency: "EUR", total: "5.00" })];
    expect(byMonth(rows, { from: "2026-01-15", to: "2026-03-31" }).labels).toEqual([
      "2026-01",
      "2026-02",
      "2026-03",
    ]);
    expect(byMonth([], { from: "2026-01-01", to: "2026-03-31" })).toEqual({ labels: [], series: [] });
  });

  it("steps over year ends and labels months for people", () => {
    expect(nextMonth("2025-12")).toBe("2026-01");
    expect(nextMonth("2026-09")).toBe("2026-10");
    expect(monthLabel("2026-03", "en-US")).toBe("Mar 2026");
  });
});
