/** Expenses: filters kept in the URL, totals per currency, charts, the paged list and CSV out. */
import { lazy, Suspense, useMemo, useState } from "react";
import { Link, useSearchParams } from "react-router";

import { saveBlob } from "../../api/attachments";
import type { Expense } from "../../api/client";
import { useApi } from "../../api/context";
import {
  exportPath,
  useCategories,
  useDeleteExpense,
  useExpenses,
  useExpenseSummary,
  useRestoreExpense,
  type ExpenseFilters,
} from "../../api/expenses";
import { flattenPages, useProjects } from "../../api/queries";
import { PageHeader } from "../../ui/bits";
import { describeError } from "../../ui/errors";
import { Field, FormAlert, SelectField } from "../../ui/forms";
import { useDebounced, useDocumentTitle } from "../../ui/hooks";
import { formatMoney } from "../../ui/money";
import { EmptyState, ErrorState, Loading, SkeletonRows } from "../../ui/states";
import { byCategory, byMonth, monthLabel, totalsByCurrency } from "./chartData";

// Chart.js is loaded only when a chart is on screen.
const SpendChart = lazy(() => import("./SpendChart"));

function useExpenseFilters() {
  const [params, setParams] = useSearchParams();
  const [search, setSearch] = useState(params.get("q") ?? "");
  const q = useDebounced(search);
  const number = (name: string) => {
    const value = params.get(name);
    return value && /^\d+$/.test(value) ? Number(value) : undefined;
  };
  const filters: ExpenseFilters = {
    ...(params.get("from") ? { from: params.get("from") ?? "" } : {}),
    ...(params.get("to") ? { to: params.get("to") ?? "" } : {}),
    ...(number("category") !== undefined ? { category_id: number("category") } : {}),
    ...(number("project") !== undefined ? { project_id: number("project") } : {}),
    ...(q.trim() ? { q: q.trim() } : {}),
    ...(params.get("deleted") === "1" ? { deleted: true } : {}),
  };
  function setParam(name: string, value: string) {
    const next = new URLSearchParams(params);
    if (value) next.set(name, value);
    else next.delete(name);
    setParams(next, { replace: true });
  }
  function clear() {
    setSearch("");
    setParams(new URLSearchParams(), { replace: true });
  }
  return { params, filters, search, setSearch, setParam, clear };
}

export function ExpensesPage() {
  useDocumentTitle("Expenses");
  const api = useApi();
  const { params, filters, search, setSearch, setParam, clear } = useExpenseFilters();
  const categories = useCategories();
  const projects = useProjects();
  const projectItems = flattenPages(projects.data);
  const [exportError, setExportError] = useState<unknown>(null);
  const [exporting, setExporting] = useState(false);
  const filtered = Object.keys(filters).length > 0;
  const names = useMemo(() => categoryNames(categories.data), [categories.data]);

  async function exportCsv() {
    setExportError(null);
    setExporting(true);
    try {
      const { blob, filename } = await api.download(exportPath(filters));
      saveBlob(blob, filename);
    } catch (error) {
      setExportError(error);
    } finally {
      setExporting(false);
    }
  }

  return (
    <>
      <PageHeader
        title="Expenses"
        subtitle="What you spent, exactly, in the currency you paid in."
        actions={
          <>
            <Link className="btn btn-primary" to="/expenses/new">
              New expense
            </Link>
            <Link className="btn btn-outline-secondary" to="/expenses/import">
              Import CSV
            </Link>
            <button
              type="button"
              className="btn btn-outline-secondary"
              disabled={exporting}
              onClick={() => void exportCsv()}
            >
              {exporting ? "Exporting…" : "Export CSV"}
            </button>
            <Link className="btn btn-outline-secondary" to="/expenses/budgets">
              Budgets
            </Link>
          </>
        }
      />
      {exportError !== null && <FormAlert message={describeError(exportError).detail} />}
      <form className="row g-2 mb-3 align-items-end" role="search" onSubmit={(e) => e.preventDefault()}>
        <Field
          className="col-6 col-md-2"
          label="From"
          type="date"
          value={params.get("from") ?? ""}
          onChange={(e) => setParam("from", e.target.value)}
        />
        <Field
          className="col-6 col-md-2"
          label="To"
          type="date"
          value={params.get("to") ?? ""}
          onChange={(e) => setParam("to", e.target.value)}
        />
        <SelectField
          className="col-6 col-md-2"
          label="Category"
          value={params.get("category") ?? ""}
          onChange={(e) => setParam("category", e.target.value)}
        >
          <option value="">All categories</option>
          {(categories.data ?? []).map((c) => (
            <option key={c.id} value={c.id}>
              {c.path}
            </option>
          ))}
        </SelectField>
        <SelectField
          className="col-6 col-md-2"
          label="Project"
          value={params.get("project") ?? ""}
          onChange={(e) => setParam("project", e.target.value)}
        >
          <option value="">Any project</option>
          {projectItems.map((p) => (
            <option key={p.id} value={p.id}>
              {p.key} — {p.name}
            </option>
          ))}
        </SelectField>
        <Field
          className="col-md-2"
          label="Search"
          type="search"
          placeholder="Words in the description"
          value={search}
          onChange={(e) => setSearch(e.target.value)}
        />
        <div className="col-md-2 pb-2">
          <div className="form-check">
            <input
              id="show-deleted"
              className="form-check-input"
              type="checkbox"
              checked={params.get("deleted") === "1"}
              onChange={(e) => setParam("deleted", e.target.checked ? "1" : "")}
            />
            <label className="form-check-label" htmlFor="show-deleted">
              Deleted only
            </label>
          </div>
          {filtered && (
            <button type="button" className="btn btn-sm btn-link px-0" onClick={clear}>
              Clear filters
            </button>
          )}
        </div>
      </form>
      {!filters.deleted && <Summary filters={filters} categoryNames={names} />}
      <ExpenseList filters={filters} filtered={filtered} />
    </>
  );
}

function categoryNames(categories: { id: number; path: string }[] | undefined): Map<number, string> {
  return new Map((categories ?? []).map((c) => [c.id, c.path]));
}

function Summary({
  filters,
  categoryNames,
}: {
  filters: ExpenseFilters;
  categoryNames: Map<number, string>;
}) {
  const totals = useExpenseSummary([], filters);
  const perCategory = useExpenseSummary(["category"], filters);
  const perMonth = useExpenseSummary(["month"], filters);
  const categoryShape = useMemo(
    () => byCategory(perCategory.data?.rows ?? [], categoryNames),
    [perCategory.data, categoryNames],
  );
  const monthShape = useMemo(
    () => byMonth(perMonth.data?.rows ?? [], { from: filters.from, to: filters.to }),
    [perMonth.data, filters.from, filters.to],
  );
  const rows = totalsByCurrency(totals.data?.rows ?? []);

  return (
    <section aria-labelledby="totals-title" className="mb-4">
      <h2 id="totals-title" className="visually-hidden">
        Totals
      </h2>
      {totals.isPending ? (
        <Loading label="Adding up…" compact />
      ) : totals.isError ? (
        <ErrorState error={totals.error} onRetry={() => void totals.refetch()} />
      ) : rows.length === 0 ? null : (
        <ul className="list-unstyled d-flex flex-wrap gap-3 mb-3 totals" aria-label="Total per currency">
          {rows.map((row) => (
            <li key={row.currency} className="card card-body py-2 px-3 total-card">
              <span className="small text-body-secondary">
                {row.count} {row.count === 1 ? "expense" : "expenses"} in {row.currency}
              </span>
              <span className="fs-4 fw-semibold money">{formatMoney(row.total, row.currency)}</span>
            </li>
          ))}
        </ul>
      )}
      {rows.length > 0 && (
        <div className="row g-3">
          <ChartCard
            id="by-category"
            title="By category"
            query={perCategory}
            empty={categoryShape.labels.length === 0}
          >
            <SpendChart shape={categoryShape} title="Spend by category" />
          </ChartCard>
          <ChartCard id="by-month" title="By month" query={perMonth} empty={monthShape.labels.length === 0}>
            <SpendChart shape={monthShape} title="Spend by month" labelFor={(m) => monthLabel(m)} />
          </ChartCard>
        </div>
      )}
    </section>
  );
}

function ChartCard({
  id,
  title,
  query,
  empty,
  children,
}: {
  id: string;
  title: string;
  query: { isPending: boolean; isError: boolean; error: unknown; refetch: () => unknown };
  empty: boolean;
  children: React.ReactNode;
}) {
  return (
    <section className="col-lg-6" aria-labelledby={id}>
      <div className="card h-100">
        <div className="card-body">
          <h3 id={id} className="h6 text-uppercase text-body-secondary">
            {title}
          </h3>
          {query.isPending ? (
            <Loading label={`Loading ${title.toLowerCase()}…`} compact />
          ) : query.isError ? (
            <ErrorState error={query.error} onRetry={() => void query.refetch()} />
          ) : empty ? (
            <p className="text-body-secondary mb-0">Nothing to show.</p>
          ) : (
            <Suspense fallback={<Loading label="Drawing the chart…" compact />}>{children}</Suspense>
          )}
        </div>
      </div>
    </section>
  );
}

function ExpenseList({ filters, filtered }: { filters: ExpenseFilters; filtered: boolean }) {
  const expenses = useExpenses(filters);
  const remove = useDeleteExpense();
  const restore = useRestoreExpense();
  const [undo, setUndo] = useState<Expense | null>(null);
  const items = flattenPages(expenses.data);

  if (expenses.isPending) return <SkeletonRows label="Loading expenses…" rows={4} />;
  if (expenses.isError) return <ErrorState error={expenses.error} onRetry={() => void expenses.refetch()} />;

  return (
    <section aria-labelledby="expense-list-title">
      <h2 id="expense-list-title" className="h5">
        {filters.deleted ? "Deleted expenses" : "Expenses"}
      </h2>
      {undo && (
        <div className="alert alert-secondary d-flex align-items-center gap-2 py-2" role="status">
          <span className="flex-grow-1">
            Deleted “{undo.description || undo.category}” ({formatMoney(undo.amount, undo.currency)}).
          </span>
          <button
            type="button"
            className="btn btn-sm btn-outline-secondary"
            disabled={restore.isPending}
            onClick={() => restore.mutate(undo, { onSuccess: () => setUndo(null) })}
          >
            Undo
          </button>
        </div>
      )}
      {(remove.isError || restore.isError) && (
        <FormAlert message={describeError(remove.error ?? restore.error).detail} />
      )}
      {items.length === 0 ? (
        <EmptyState
          icon="¤"
          title={filtered ? "No expenses match" : "No expenses yet"}
          action={
            filtered ? undefined : (
              <Link className="btn btn-primary" to="/expenses/new">
                Record an expense
              </Link>
            )
          }
        >
          {filtered ? "Try a wider date range or other filters." : "Record one, or import a CSV file."}
        </EmptyState>
      ) : (
        <div className="card">
          <div className="table-responsive">
            <table className="table align-middle mb-0 expense-table">
              <caption className="visually-hidden">Expenses</caption>
              <thead>
                <tr>
                  <th scope="col" className="d-none d-sm-table-cell">
                    Date
                  </th>
                  <th scope="col">Description</th>
                  <th scope="col" className="d-none d-md-table-cell">
                    Category
                  </th>
                  <th scope="col" className="d-none d-md-table-cell">
                    Project
                  </th>
                  <th scope="col" className="text-end">
                    Amount
                  </th>
                  <th scope="col">
                    <span className="visually-hidden">Actions</span>
                  </th>
                </tr>
              </thead>
              <tbody>
                {items.map((expense) => (
                  <tr key={expense.id}>
                    <td className="text-nowrap d-none d-sm-table-cell">{expense.spent_on}</td>
                    <td className="min-w-0">
                      <Link to={`/expenses/${expense.id}`}>
                        {expense.description || <em className="text-body-secondary">No description</em>}
                      </Link>
                      <div className="small text-body-secondary d-md-none">
                        <span className="d-sm-none">{expense.spent_on} · </span>
                        {expense.category}
                      </div>
                    </td>
                    <td className="d-none d-md-table-cell">{expense.category}</td>
                    <td className="d-none d-md-table-cell">
                      {expense.project_key ?? <span className="text-body-secondary">—</span>}
                    </td>
                    <td className="text-end text-nowrap money">
                      {formatMoney(expense.amount, expense.currency)}
                    </td>
                    <td className="text-end text-nowrap">
                      {expense.deleted_at ? (
                        <button
                          type="button"
                          className="btn btn-sm btn-outline-primary"
                          disabled={restore.isPending}
                          onClick={() => restore.mutate(expense)}
                        >
                          Restore<span className="visually-hidden"> expense of {expense.spent_on}</span>
                        </button>
                      ) : (
                        <button
                          type="button"
                          className="btn btn-sm btn-outline-danger"
                          disabled={remove.isPending}
                          onClick={() => {
                            setUndo(null);
                            remove.mutate(expense, { onSuccess: () => setUndo(expense) });
                          }}
                        >
                          Delete
                          <span className="visually-hidden">
                            {" "}
                            {expense.description || expense.category} of {expense.spent_on}
                          </span>
                        </button>
                      )}
                    </td>
                  </tr>
                ))}
              </tbody>
            </table>
          </div>
          {expenses.hasNextPage && (
            <div className="card-footer bg-transparent text-center">
              {expenses.isFetchingNextPage ? (
                <Loading label="Loading more expenses…" compact />
              ) : (
                <button
                  type="button"
                  className="btn btn-sm btn-outline-primary"
                  onClick={() => void expenses.fetchNextPage()}
                >
                  Load more
                </button>
              )}
            </div>
          )}
        </div>
      )}
    </section>
  );
}

export default ExpensesPage;
