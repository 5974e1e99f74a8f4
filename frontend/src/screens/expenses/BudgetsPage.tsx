/** Project budgets: what each allows, what is spent and what remains; admins set them. */
import { useState, type SubmitEvent } from "react";
import { Link } from "react-router";

import { ApiError, type Budget, type Project } from "../../api/client";
import { useBudget, useSetBudget } from "../../api/expenses";
import { flattenPages, useProjects } from "../../api/queries";
import { PageHeader } from "../../ui/bits";
import { formErrors } from "../../ui/errors";
import { Field, FormAlert, SelectField, SubmitButton } from "../../ui/forms";
import { useDocumentTitle } from "../../ui/hooks";
import { formatMoney, formatTotals, parseAmount } from "../../ui/money";
import { ConflictNotice, EmptyState, ErrorState, Loading, SkeletonRows } from "../../ui/states";

export function BudgetsPage() {
  useDocumentTitle("Budgets");
  const projects = useProjects();
  const items = flattenPages(projects.data);
  return (
    <>
      <nav aria-label="Breadcrumb">
        <ol className="breadcrumb small mb-2">
          <li className="breadcrumb-item">
            <Link to="/expenses">Expenses</Link>
          </li>
          <li className="breadcrumb-item active" aria-current="page">
            Budgets
          </li>
        </ol>
      </nav>
      <PageHeader
        title="Budgets"
        subtitle="Expenses linked to a project count against its budget, in the budget's currency only."
      />
      {projects.isPending ? (
        <SkeletonRows label="Loading projects…" rows={3} />
      ) : projects.isError ? (
        <ErrorState error={projects.error} onRetry={() => void projects.refetch()} />
      ) : items.length === 0 ? (
        <EmptyState icon="▦" title="No projects">
          Budgets belong to projects; you aren't a member of any yet.
        </EmptyState>
      ) : (
        <ul className="list-unstyled budget-list">
          {items.map((project) => (
            <BudgetRow key={project.id} project={project} />
          ))}
        </ul>
      )}
      {projects.hasNextPage && (
        <button
          type="button"
          className="btn btn-sm btn-outline-primary"
          onClick={() => void projects.fetchNextPage()}
        >
          More projects
        </button>
      )}
    </>
  );
}

function BudgetRow({ project }: { project: Project }) {
  const budget = useBudget(project.key);
  const [editing, setEditing] = useState(false);
  const headingId = `budget-${project.key}`;
  return (
    <li className="card mb-3">
      <section className="card-body" aria-labelledby={headingId}>
        <div className="d-flex flex-wrap align-items-center gap-2 mb-2">
          <h2 id={headingId} className="h6 mb-0 flex-grow-1">
            <span className="project-key me-2">{project.key}</span>
            {project.name}
          </h2>
          {project.can.manage_budget && !editing && !budget.isPending && (
            <button type="button" className="btn btn-sm btn-outline-primary" onClick={() => setEditing(true)}>
              {budget.data ? "Change budget" : "Set a budget"}
              <span className="visually-hidden"> for {project.name}</span>
            </button>
          )}
        </div>
        {budget.isPending ? (
          <Loading label="Loading the budget…" compact />
        ) : budget.isError ? (
          <ErrorState error={budget.error} onRetry={() => void budget.refetch()} />
        ) : editing ? (
          <BudgetForm project={project} budget={budget.data} onDone={() => setEditing(false)} />
        ) : budget.data ? (
          <BudgetFigures budget={budget.data} />
        ) : (
          <p className="text-body-secondary mb-0">No budget.</p>
        )}
      </section>
    </li>
  );
}

function BudgetFigures({ budget }: { budget: Budget }) {
  const over = budget.remaining.startsWith("-");
  // The bar's width is drawing only; every number shown is the API's exact string.
  const width = Math.min(100, Math.max(0, Number(budget.percent_used)));
  const period = budget.period === "monthly" ? `per month (${budget.period_key})` : "in total";
  return (
    <div>
      <p className="mb-1">
        <strong className="money">{formatMoney(budget.spent, budget.currency)}</strong> spent of{" "}
        <span className="money">{formatMoney(budget.amount, budget.currency)}</span> {period} ·{" "}
        <span className={over ? "text-danger fw-semibold" : "text-success"}>
          {over
            ? `${formatMoney(budget.remaining.slice(1), budget.currency)} over`
            : `${formatMoney(budget.remaining, budget.currency)} left`}
        </span>
      </p>
      <div
        className="progress budget-progress"
        role="progressbar"
        aria-label={`Budget used`}
        aria-valuenow={Math.round(width)}
        aria-valuemin={0}
        aria-valuemax={100}
        aria-valuetext={`${budget.percent_used} % used`}
      >
        <div
          className={`progress-bar ${over ? "bg-danger" : width >= budget.alert_at_percent ? "bg-warning" : ""}`}
          style={{ width: `${width}%` }}
        />
      </div>
      <p className="small text-body-secondary mt-1 mb-0">
        {budget.percent_used} % used · alert at {budget.alert_at_percent} %
        {budget.not_counted.length > 0 &&
          ` · not counted (other currencies): ${formatTotals(budget.not_counted)}`}
      </p>
    </div>
  );
}

function BudgetForm({
  project,
  budget,
  onDone,
}: {
  project: Project;
  budget: Budget | null;
  onDone: () => void;
}) {
  const save = useSetBudget(project.key);
  const [amount, setAmount] = useState(budget?.amount ?? "");
  const [currency, setCurrency] = useState(budget?.currency ?? "EUR");
  const [period, setPeriod] = useState<Budget["period"]>(budget?.period ?? "monthly");
  const [alertAt, setAlertAt] = useState(String(budget?.alert_at_percent ?? 80));
  const [amountError, setAmountError] = useState<string | undefined>();
  const errors = formErrors(save.error, ["amount", "currency", "period", "alert_at_percent"]);
  const conflict = save.error instanceof ApiError && save.error.isConflict;

  function submit(event: SubmitEvent) {
    event.preventDefault();
    const exact = parseAmount(amount);
    setAmountError(exact === null ? "Enter an amount such as 5000.00." : undefined);
    if (exact === null) return;
    save.mutate(
      {
        body: {
          amount: exact,
          currency: currency.trim().toUpperCase(),
          period,
          alert_at_percent: Number(alertAt),
        },
        ...(budget ? { version: budget.version } : {}),
      },
      { onSuccess: onDone },
    );
  }

  return (
    <form
      onSubmit={submit}
      noValidate
      className="row g-2 align-items-start"
      aria-label={`Budget of ${project.name}`}
    >
      <Field
        className="col-6 col-md-3"
        label="Amount"
        inputMode="decimal"
        value={amount}
        onChange={(e) => setAmount(e.target.value)}
        error={amountError ?? errors.fields.amount}
      />
      <Field
        className="col-6 col-md-2"
        label="Currency"
        maxLength={3}
        value={currency}
        onChange={(e) => setCurrency(e.target.value.toUpperCase())}
        error={errors.fields.currency}
      />
      <SelectField
        className="col-6 col-md-3"
        label="Period"
        value={period}
        onChange={(e) => setPeriod(e.target.value as Budget["period"])}
        error={errors.fields.period}
      >
        <option value="monthly">Each month</option>
        <option value="total">In total</option>
      </SelectField>
      <Field
        className="col-6 col-md-2"
        label="Alert at (%)"
        type="number"
        min={1}
        max={1000}
        value={alertAt}
        onChange={(e) => setAlertAt(e.target.value)}
        error={errors.fields.alert_at_percent}
      />
      <div className="col-12 col-md-2 d-flex gap-2 mt-md-4 pt-md-2">
        <SubmitButton pending={save.isPending} pendingLabel="Saving…">
          Save
        </SubmitButton>
        <button type="button" className="btn btn-outline-secondary" onClick={onDone}>
          Cancel
        </button>
      </div>
      <div className="col-12">
        {conflict ? (
          <ConflictNotice what="this budget" onReload={onDone} />
        ) : (
          <FormAlert message={errors.summary} />
        )}
      </div>
    </form>
  );
}

export default BudgetsPage;
