/** One expense: record a new one, or edit, delete, restore and see the history of one. */
import { Link, useNavigate, useParams } from "react-router";

import { ApiError, type Expense, type Schemas } from "../../api/client";
import {
  useCreateExpense,
  useDeleteExpense,
  useDeleteReceipt,
  useReceipts,
  useUploadReceipt,
  useExpense,
  useExpenseHistory,
  useRestoreExpense,
  useUpdateExpense,
} from "../../api/expenses";
import { hasPermission, useCurrentUser } from "../../app/currentUser";
import { PageHeader, Time } from "../../ui/bits";
import { describeError } from "../../ui/errors";
import { FormAlert } from "../../ui/forms";
import { useDocumentTitle } from "../../ui/hooks";
import { formatMoney } from "../../ui/money";
import { ConflictNotice, EmptyState, ErrorState, Loading, SkeletonRows } from "../../ui/states";
import { AttachmentsCard } from "../attachmentParts";
import { ExpenseForm } from "./ExpenseForm";

export function NewExpensePage() {
  useDocumentTitle("New expense");
  const create = useCreateExpense();
  const navigate = useNavigate();
  return (
    <>
      <Breadcrumb current="New expense" />
      <PageHeader title="New expense" />
      <div className="card card-body form-card">
        <ExpenseForm
          pending={create.isPending}
          error={create.error}
          submitLabel="Save expense"
          onSubmit={(body) => create.mutate(body, { onSuccess: () => void navigate("/expenses") })}
          onCancel={() => void navigate("/expenses")}
        />
      </div>
    </>
  );
}

function Breadcrumb({ current }: { current: string }) {
  return (
    <nav aria-label="Breadcrumb">
      <ol className="breadcrumb small mb-2">
        <li className="breadcrumb-item">
          <Link to="/expenses">Expenses</Link>
        </li>
        <li className="breadcrumb-item active" aria-current="page">
          {current}
        </li>
      </ol>
    </nav>
  );
}

export function EditExpensePage() {
  const { expenseId = "" } = useParams();
  const id = /^\d+$/.test(expenseId) ? Number(expenseId) : NaN;
  const expense = useExpense(id);
  useDocumentTitle(expense.data ? `Expense of ${expense.data.spent_on}` : "Expense");

  if (Number.isNaN(id) || (expense.error instanceof ApiError && expense.error.status === 404)) {
    return (
      <EmptyState
        level={1}
        icon="?"
        title="No such expense"
        action={
          <Link className="btn btn-primary" to="/expenses">
            See your expenses
          </Link>
        }
      >
        It doesn't exist, or it isn't yours.
      </EmptyState>
    );
  }
  if (expense.isPending) return <Loading label="Loading the expense…" />;
  if (expense.isError) return <ErrorState error={expense.error} onRetry={() => void expense.refetch()} />;
  return <ExpenseView expense={expense.data} onReload={() => void expense.refetch()} />;
}

function changesBetween(expense: Expense, body: Schemas["ExpenseCreate"]): Schemas["ExpenseUpdate"] {
  const changes: Schemas["ExpenseUpdate"] = {};
  // Compare amounts as the API will store them: "12.3" and "12.30" are the same amount.
  if (body.amount !== expense.amount || body.currency !== expense.currency) {
    changes.amount = body.amount;
    changes.currency = body.currency;
  }
  if (body.category_id !== expense.category_id) changes.category_id = body.category_id;
  if ((body.project_id ?? null) !== expense.project_id) changes.project_id = body.project_id ?? null;
  if (body.spent_on !== expense.spent_on) changes.spent_on = body.spent_on;
  if ((body.description ?? "") !== expense.description) changes.description = body.description ?? "";
  return changes;
}

function ExpenseView({ expense, onReload }: { expense: Expense; onReload: () => void }) {
  const update = useUpdateExpense();
  const remove = useDeleteExpense();
  const restore = useRestoreExpense();
  const conflict =
    (update.error instanceof ApiError && update.error.isConflict) ||
    (remove.error instanceof ApiError && remove.error.isConflict);
  const deleted = expense.deleted_at !== null;

  return (
    <>
      <Breadcrumb current={`${expense.spent_on} · ${formatMoney(expense.amount, expense.currency)}`} />
      <PageHeader
        title={expense.description || expense.category}
        subtitle={
          <>
            {formatMoney(expense.amount, expense.currency)} on {expense.spent_on} · {expense.category}
            {expense.project_key && ` · ${expense.project_key}`}
            {expense.imported && " · imported"}
          </>
        }
        actions={
          deleted ? (
            <button
              type="button"
              className="btn btn-outline-primary"
              disabled={restore.isPending}
              onClick={() => restore.mutate(expense)}
            >
              Restore
            </button>
          ) : (
            <button
              type="button"
              className="btn btn-outline-danger"
              disabled={remove.isPending}
              onClick={() => remove.mutate(expense, { onSuccess: onReload })}
            >
              Delete
            </button>
          )
        }
      />
      {deleted && (
        <div className="alert alert-warning" role="status">
          This expense was deleted <Time iso={expense.deleted_at ?? expense.updated_at} />. It counts in no
          total until you restore it.
        </div>
      )}
      {conflict && (
        <ConflictNotice
          what="this expense"
          onReload={() => {
            update.reset();
            remove.reset();
            onReload();
          }}
        />
      )}
      {(remove.isError || restore.isError) && !conflict && (
        <FormAlert message={describeError(remove.error ?? restore.error).detail} />
      )}
      <div className="row g-4">
        <div className="col-lg-7">
          {!deleted && (
            <section className="card card-body" aria-labelledby="edit-title">
              <h2 id="edit-title" className="h6 text-uppercase text-body-secondary">
                Edit
              </h2>
              <ExpenseForm
                key={expense.version}
                expense={expense}
                pending={update.isPending}
                error={conflict ? null : update.error}
                submitLabel="Save changes"
                onSubmit={(body) => {
                  const changes = changesBetween(expense, body);
                  if (Object.keys(changes).length > 0) update.mutate({ expense, changes });
                }}
              />
              {update.isSuccess && (
                <p className="text-success small mt-2 mb-0" role="status">
                  Saved.
                </p>
              )}
            </section>
          )}
        </div>
        <div className="col-lg-5">
          <Receipts expense={expense} />
          <History expenseId={expense.id} />
        </div>
      </div>
    </>
  );
}

function Receipts({ expense }: { expense: Expense }) {
  const user = useCurrentUser();
  // the spender's own expense, or anyone's with expenses:edit_any (API: SCOPED "expenses:edit")
  const editor = expense.user.id === user.id || hasPermission(user, "expenses:edit_any");
  return (
    <AttachmentsCard
      title="Receipts"
      titleId="receipts-title"
      files={useReceipts(expense.id)}
      upload={useUploadReceipt(expense.id)}
      remove={useDeleteReceipt(expense.id)}
      canDelete={() => editor && expense.deleted_at === null}
      uploadLabel="Add receipts"
      hint="Drop a photo or PDF of the receipt here, or choose it."
      empty="No receipts yet."
      {...(expense.deleted_at !== null ? { closed: "Restore the expense to add receipts." } : {})}
    />
  );
}

function History({ expenseId }: { expenseId: number }) {
  const history = useExpenseHistory(expenseId);
  const items = history.data?.items ?? [];
  return (
    <section className="card" aria-labelledby="expense-history">
      <div className="card-body">
        <h2 id="expense-history" className="h6 text-uppercase text-body-secondary mb-3">
          History
        </h2>
        {history.isPending ? (
          <SkeletonRows label="Loading history…" rows={2} />
        ) : history.isError ? (
          <ErrorState error={history.error} onRetry={() => void history.refetch()} />
        ) : items.length === 0 ? (
          <p className="text-body-secondary mb-0">No changes yet.</p>
        ) : (
          <ol className="timeline">
            {items.map((entry) => (
              <li key={entry.id} className="small">
                <strong>{entry.actor?.full_name ?? "Nimbus"}</strong>{" "}
                {describe(entry.field, entry.old, entry.new)}{" "}
                <span className="text-body-secondary">
                  <Time iso={entry.at} />
                </span>
              </li>
            ))}
          </ol>
        )}
      </div>
    </section>
  );
}

function describe(field: string, from: string | null, to: string | null): string {
  if (field === "created") return "recorded it";
  if (field === "deleted") return "deleted it";
  if (field === "restored") return "restored it";
  if (field === "receipt")
    return to === null ? `removed the receipt “${from ?? ""}”` : `added the receipt “${to}”`;
  const name = field.replace(/_/g, " ");
  if (from === null) return `set ${name} to “${to ?? ""}”`;
  if (to === null) return `cleared ${name}`;
  return `changed ${name} from “${from}” to “${to}”`;
}
