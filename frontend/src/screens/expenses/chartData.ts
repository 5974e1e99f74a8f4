/**
 * Shapes the API's summary rows (one per group and currency) into chart data: one series per
 * currency, aligned on shared labels. Amounts stay decimal strings; currencies are never added.
 */
import type { SummaryRow } from "../../api/client";

export interface Series {
  currency: string;
  /** One exact total per label; null where this currency has nothing. */
  totals: (string | null)[];
}

export interface ChartShape {
  labels: string[];
  series: Series[];
}

function currenciesOf(rows: readonly SummaryRow[]): string[] {
  return [...new Set(rows.map((row) => row.currency))].sort();
}

function shape(rows: readonly SummaryRow[], keys: string[], keyOf: (row: SummaryRow) => string): Series[] {
  const index = new Map(keys.map((key, i) => [key, i]));
  return currenciesOf(rows).map((currency) => {
    const totals: (string | null)[] = keys.map(() => null);
    for (const row of rows) {
      if (row.currency !== currency) continue;
      const at = index.get(keyOf(row));
      if (at !== undefined) totals[at] = row.total;
    }
    return { currency, totals };
  });
}

/** Totals by category, labelled with the category's path, biggest groups first. */
export function byCategory(rows: readonly SummaryRow[], names: ReadonlyMap<number, string>): ChartShape {
  const keyOf = (row: SummaryRow) => String(row.category_id ?? "none");
  const counts = new Map<string, number>();
  for (const row of rows) counts.set(keyOf(row), (counts.get(keyOf(row)) ?? 0) + row.count);
  // Order by how many expenses a category holds: comparing amounts across currencies would be
  // adding them in disguise.
  const keys = [...counts.keys()].sort((a, b) => {
    const difference = (counts.get(b) ?? 0) - (counts.get(a) ?? 0);
    return difference !== 0 ? difference : label(a).localeCompare(label(b));
  });
  function label(key: string): string {
    return key === "none" ? "Uncategorised" : (names.get(Number(key)) ?? `Category ${key}`);
  }
  return { labels: keys.map(label), series: shape(rows, keys, keyOf) };
}

/** "2026-03" → the next month. */
export function nextMonth(month: string): string {
  const [year = 0, m = 1] = month.split("-").map(Number);
  return m === 12 ? `${year + 1}-01` : `${year}-${String(m + 1).padStart(2, "0")}`;
}

/**
 * Totals by month, in calendar order, with the months in between present (as gaps) so the
 * time axis doesn't lie. `from`/`to` (YYYY-MM-DD) widen the range to the filter's.
 */
export function byMonth(rows: readonly SummaryRow[], range: { from?: string; to?: string } = {}): ChartShape {
  const months = rows.map((row) => row.month).filter((m): m is string => typeof m === "string");
  const first = [range.from?.slice(0, 7), ...months].filter(Boolean).sort()[0];
  const last = [range.to?.slice(0, 7), ...months].filter(Boolean).sort().at(-1);
  const labels: string[] = [];
  if (first && last && months.length > 0) {
    // At most ten years of months; an open-ended filter must not draw a thousand empty bars.
    for (let m = first; m <= last && labels.length < 120; m = nextMonth(m)) labels.push(m);
  }
  return { labels, series: shape(rows, labels, (row) => row.month ?? "") };
}

/** Per-currency totals for a table or a headline: the rows of a summary without grouping. */
export function totalsByCurrency(
  rows: readonly SummaryRow[],
): { currency: string; total: string; count: number }[] {
  return [...rows]
    .sort((a, b) => a.currency.localeCompare(b.currency))
    .map(({ currency, total, count }) => ({ currency, total, count }));
}

/** "2026-03" → "Mar 2026" in the user's locale. */
export function monthLabel(month: string, locale?: string): string {
  const [year = 1970, m = 1] = month.split("-").map(Number);
  return new Intl.DateTimeFormat(locale, { month: "short", year: "numeric", timeZone: "UTC" }).format(
    new Date(Date.UTC(year, m - 1, 1)),
  );
}
