/** The expense form, for a new expense and for editing one; the API's messages sit by the field. */
import { useState, type SubmitEvent } from "react";

import type { Expense, Schemas } from "../../api/client";
import { useCategories } from "../../api/expenses";
import { flattenPages, useProjects } from "../../api/queries";
import { formErrors } from "../../ui/errors";
import { localDate } from "../../ui/format";
import { Field, FormAlert, SelectField, SubmitButton } from "../../ui/forms";
import { isCurrencyCode, minorDigits, parseAmount } from "../../ui/money";

const COMMON_CURRENCIES = ["EUR", "USD", "GBP", "CHF", "JPY", "SEK", "NOK", "DKK", "PLN", "CAD", "AUD"];
const FIELDS = ["amount", "currency", "category_id", "project_id", "spent_on", "description"] as const;
const LAST_CURRENCY = "nimbus.last_currency";

interface Values {
  amount: string;
  currency: string;
  category_id: string;
  project_id: string;
  spent_on: string;
  description: string;
}

function initialValues(expense: Expense | undefined): Values {
  if (expense) {
    return {
      amount: expense.amount,
      currency: expense.currency,
      category_id: String(expense.category_id),
      project_id: expense.project_id === null ? "" : String(expense.project_id),
      spent_on: expense.spent_on,
      description: expense.description,
    };
  }
  let currency = "EUR";
  try {
    currency = window.localStorage.getItem(LAST_CURRENCY) ?? "EUR";
  } catch {
    /* storage disabled */
  }
  return { amount: "", currency, category_id: "", project_id: "", spent_on: localDate(), description: "" };
}

export function ExpenseForm({
  expense,
  pending,
  error,
  submitLabel,
  onSubmit,
  onCancel,
}: {
  expense?: Expense;
  pending: boolean;
  error: unknown;
  submitLabel: string;
  onSubmit: (body: Schemas["ExpenseCreate"]) => void;
  onCancel?: () => void;
}) {
  const categories = useCategories();
  const projects = useProjects();
  const [values, setValues] = useState<Values>(() => initialValues(expense));
  const [localErrors, setLocalErrors] = useState<Record<string, string>>({});
  const server = formErrors(error, FIELDS, {
    category_not_found: { field: "category_id" },
    project_not_found: { field: "project_id" },
  });
  const errors: Record<string, string | undefined> = { ...server.fields, ...localErrors };

  function set<K extends keyof Values>(name: K, value: Values[K]) {
    setValues((v) => ({ ...v, [name]: value }));
    if (localErrors[name]) {
      setLocalErrors((current) =>
        Object.fromEntries(Object.entries(current).filter(([field]) => field !== name)),
      );
    }
  }

  function submit(event: SubmitEvent) {
    event.preventDefault();
    const amount = parseAmount(values.amount);
    const problems: Record<string, string> = {};
    const currency = values.currency.trim().toUpperCase();
    if (amount === null) problems.amount = "Enter an amount such as 12.30 (no minus sign).";
    else if (isCurrencyCode(currency) && (amount.split(".")[1]?.length ?? 0) > minorDigits(currency)) {
      // The API says so too, but about the whole body; here it can sit by the field.
      problems.amount = `${currency} amounts have at most ${minorDigits(currency)} decimals.`;
    }
    if (!values.category_id) problems.category_id = "Choose a category.";
    if (!values.spent_on) problems.spent_on = "Enter the date you spent it.";
    setLocalErrors(problems);
    if (amount === null || Object.keys(problems).length > 0) return;
    try {
      window.localStorage.setItem(LAST_CURRENCY, currency);
    } catch {
      /* storage disabled */
    }
    onSubmit({
      amount,
      currency,
      category_id: Number(values.category_id),
      project_id: values.project_id ? Number(values.project_id) : null,
      spent_on: values.spent_on,
      description: values.description.trim(),
    });
  }

  return (
    <form onSubmit={submit} noValidate aria-label={submitLabel} className="expense-form">
      <div className="row g-2">
        <Field
          className="col-7 col-sm-5 mb-3"
          label="Amount"
          inputMode="decimal"
          autoComplete="off"
          placeholder="12.30"
          value={values.amount}
          onChange={(e) => set("amount", e.target.value)}
          error={errors.amount}
          help="Exactly as on the receipt; a comma works as the decimal point."
          required
        />
        <Field
          className="col-5 col-sm-3 mb-3"
          label="Currency"
          list="currency-codes"
          maxLength={3}
          autoCapitalize="characters"
          value={values.currency}
          onChange={(e) => set("currency", e.target.value.toUpperCase())}
          error={errors.currency}
          required
        />
        <datalist id="currency-codes">
          {COMMON_CURRENCIES.map((c) => (
            <option key={c} value={c} />
          ))}
        </datalist>
        <Field
          className="col-sm-4 mb-3"
          label="Date"
          type="date"
          value={values.spent_on}
          onChange={(e) => set("spent_on", e.target.value)}
          error={errors.spent_on}
          required
        />
      </div>
      <div className="row g-2">
        <SelectField
          className="col-sm-6 mb-3"
          label="Category"
          value={values.category_id}
          onChange={(e) => set("category_id", e.target.value)}
          error={errors.category_id}
          disabled={categories.isPending}
          required
        >
          <option value="">{categories.isPending ? "Loading…" : "Choose…"}</option>
          {(categories.data ?? []).map((c) => (
            <option key={c.id} value={c.id}>
              {c.path}
            </option>
          ))}
        </SelectField>
        <SelectField
          className="col-sm-6 mb-3"
          label="Project (optional)"
          value={values.project_id}
          onChange={(e) => set("project_id", e.target.value)}
          error={errors.project_id}
        >
          <option value="">No project</option>
          {flattenPages(projects.data).map((p) => (
            <option key={p.id} value={p.id}>
              {p.key} — {p.name}
            </option>
          ))}
        </SelectField>
      </div>
      <div className="mb-3">
        <label htmlFor="expense-description" className="form-label">
          Description
        </label>
        <textarea
          id="expense-description"
          className={`form-control${errors.description ? " is-invalid" : ""}`}
          rows={2}
          maxLength={2000}
          value={values.description}
          onChange={(e) => set("description", e.target.value)}
          aria-invalid={errors.description ? true : undefined}
          aria-describedby={errors.description ? "expense-description-error" : undefined}
        />
        {errors.description && (
          <div id="expense-description-error" className="invalid-feedback">
            {errors.description}
          </div>
        )}
      </div>
      <FormAlert message={server.summary} />
      <div className="d-flex gap-2">
        <SubmitButton pending={pending} pendingLabel="Saving…">
          {submitLabel}
        </SubmitButton>
        {onCancel && (
          <button type="button" className="btn btn-outline-secondary" onClick={onCancel}>
            Cancel
          </button>
        )}
      </div>
    </form>
  );
}
