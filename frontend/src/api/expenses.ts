/** Server state for the expense tracker: expenses, categories, totals, CSV and budgets. */
import { useInfiniteQuery, useMutation, useQuery, useQueryClient } from "@tanstack/react-query";

import {
  ApiError,
  everyItem,
  ifMatch,
  unwrap,
  type Budget,
  type Expense,
  type ExpenseCategory,
  type ImportReport,
  type Schemas,
} from "./client";
import { fileForm } from "./attachments";
import { useApi } from "./context";

export interface ExpenseFilters {
  from?: string;
  to?: string;
  category_id?: number;
  project_id?: number;
  q?: string;
  deleted?: boolean;
}

export type GroupBy = "category" | "month" | "project" | "user";

export const expenseKeys = {
  all: ["expenses"] as const,
  list: (filters: ExpenseFilters) => ["expenses", "list", filters] as const,
  detail: (id: number) => ["expenses", "detail", id] as const,
  history: (id: number) => ["expenses", "detail", id, "history"] as const,
  summary: (groupBy: readonly GroupBy[], filters: ExpenseFilters) =>
    ["expenses", "summary", groupBy.join(","), filters] as const,
  categories: ["expense-categories"] as const,
  budgets: ["budgets"] as const,
  budget: (projectKey: string) => ["budgets", projectKey.toUpperCase()] as const,
};

/** Query parameters the list, the totals and the export share; empty values are left out. */
export function filterQuery(filters: ExpenseFilters) {
  return {
    from: filters.from || undefined,
    to: filters.to || undefined,
    category_id: filters.category_id,
    project_id: filters.project_id,
    q: filters.q?.trim() || undefined,
    deleted: filters.deleted || undefined,
  };
}

export function useExpenses(filters: ExpenseFilters, pageSize = 50) {
  const api = useApi();
  return useInfiniteQuery({
    queryKey: expenseKeys.list(filters),
    queryFn: ({ pageParam }) =>
      unwrap(
        api.client.GET("/api/v1/expenses", {
          params: { query: { ...filterQuery(filters), limit: pageSize, cursor: pageParam } },
        }),
      ),
    initialPageParam: undefined as string | undefined,
    getNextPageParam: (last) => last.next_cursor ?? undefined,
  });
}

export function useExpense(id: number) {
  const api = useApi();
  return useQuery({
    queryKey: expenseKeys.detail(id),
    queryFn: () =>
      unwrap(api.client.GET("/api/v1/expenses/{expense_id}", { params: { path: { expense_id: id } } })),
  });
}

export function useExpenseHistory(id: number) {
  const api = useApi();
  return useQuery({
    queryKey: expenseKeys.history(id),
    queryFn: () =>
      unwrap(
        api.client.GET("/api/v1/expenses/{expense_id}/history", {
          params: { path: { expense_id: id }, query: { limit: 100 } },
        }),
      ),
  });
}

export function useExpenseSummary(
  groupBy: readonly GroupBy[],
  filters: ExpenseFilters,
  options: { enabled?: boolean } = {},
) {
  const api = useApi();
  return useQuery({
    queryKey: expenseKeys.summary(groupBy, filters),
    queryFn: () =>
      unwrap(
        api.client.GET("/api/v1/expenses/summary", {
          params: {
            query: { ...filterQuery(filters), group_by: groupBy.length ? groupBy.join(",") : undefined },
          },
        }),
      ),
    enabled: options.enabled ?? true,
  });
}

/** Every category (there are few); pages are followed to the end. */
export function useCategories() {
  const api = useApi();
  return useQuery({
    queryKey: expenseKeys.categories,
    queryFn: async (): Promise<ExpenseCategory[]> => {
      const all = await everyItem((cursor) =>
        unwrap(
          api.client.GET("/api/v1/expense-categories", {
            params: { query: { limit: 200, sort: "name", cursor } },
          }),
        ),
      );
      return all.sort((a, b) => a.path.localeCompare(b.path));
    },
    staleTime: 5 * 60_000,
  });
}

/** After any change to expenses: lists, totals and budgets may all show other numbers. */
function useExpensesChanged() {
  const queryClient = useQueryClient();
  return (expense?: Expense) => {
    if (expense) queryClient.setQueryData(expenseKeys.detail(expense.id), expense);
    void queryClient.invalidateQueries({ queryKey: ["expenses", "list"] });
    void queryClient.invalidateQueries({ queryKey: ["expenses", "summary"] });
    void queryClient.invalidateQueries({ queryKey: expenseKeys.budgets });
    if (expense) void queryClient.invalidateQueries({ queryKey: expenseKeys.history(expense.id) });
  };
}

export function useCreateExpense() {
  const api = useApi();
  const changed = useExpensesChanged();
  return useMutation({
    mutationFn: (body: Schemas["ExpenseCreate"]) =>
      unwrap(
        api.client.POST("/api/v1/expenses", {
          params: { header: { "idempotency-key": crypto.randomUUID() } },
          body,
        }),
      ),
    onSuccess: changed,
  });
}

export function useUpdateExpense() {
  const api = useApi();
  const changed = useExpensesChanged();
  return useMutation({
    mutationFn: ({ expense, changes }: { expense: Expense; changes: Schemas["ExpenseUpdate"] }) =>
      unwrap(
        api.client.PATCH("/api/v1/expenses/{expense_id}", {
          params: { path: { expense_id: expense.id }, header: { "if-match": ifMatch(expense.version) } },
          body: changes,
        }),
      ),
    onSuccess: changed,
  });
}

export function useDeleteExpense() {
  const api = useApi();
  const changed = useExpensesChanged();
  const queryClient = useQueryClient();
  return useMutation({
    mutationFn: (expense: Expense) =>
      unwrap(
        api.client.DELETE("/api/v1/expenses/{expense_id}", {
          params: { path: { expense_id: expense.id }, header: { "if-match": ifMatch(expense.version) } },
        }),
      ),
    onSuccess: (_, expense) => {
      changed();
      void queryClient.invalidateQueries({ queryKey: expenseKeys.detail(expense.id) });
    },
  });
}

export function useRestoreExpense() {
  const api = useApi();
  const changed = useExpensesChanged();
  return useMutation({
    mutationFn: (expense: Expense) =>
      unwrap(
        // No If-Match: bringing an expense back is safe whatever happened to it meanwhile, and
        // the copy an "Undo" holds is one version behind the deletion.
        api.client.POST("/api/v1/expenses/{expense_id}/restore", {
          params: { path: { expense_id: expense.id } },
        }),
      ),
    onSuccess: changed,
  });
}

/**
 * A CSV import, or its dry run. A real import with bad rows is refused (422 `import_rejected`)
 * with the same report a dry run gives, so both come back as a report to show.
 */
export function useImportExpenses() {
  const api = useApi();
  const changed = useExpensesChanged();
  return useMutation({
    mutationFn: async ({ file, dryRun }: { file: File; dryRun: boolean }): Promise<ImportReport> => {
      try {
        return await unwrap(
          api.client.POST("/api/v1/expenses/import", {
            params: {
              query: { dry_run: dryRun },
              header: dryRun ? {} : { "idempotency-key": crypto.randomUUID() },
            },
            body: { file: file.name },
            bodySerializer: () => fileForm(file),
          }),
        );
      } catch (error) {
        const report =
          error instanceof ApiError && error.code === "import_rejected" ? error.body.report : null;
        if (isImportReport(report)) return report;
        throw error;
      }
    },
    onSuccess: (report) => {
      if (!report.dry_run && report.imported > 0) changed();
    },
  });
}

function isImportReport(value: unknown): value is ImportReport {
  return (
    typeof value === "object" &&
    value !== null &&
    Array.isArray((value as Record<string, unknown>).errors) &&
    typeof (value as Record<string, unknown>).valid === "boolean"
  );
}

/** The export's URL with the list's filters. */
export function exportPath(filters: ExpenseFilters): string {
  const params = new URLSearchParams();
  for (const [name, value] of Object.entries(filterQuery(filters))) {
    if (value !== undefined) params.set(name, String(value));
  }
  const query = params.toString();
  return `/api/v1/expenses/export.csv${query ? `?${query}` : ""}`;
}

// --- budgets --------------------------------------------------------------------------------

/** A project's budget, or null when it has none. */
export function useBudget(projectKey: string) {
  const api = useApi();
  return useQuery({
    queryKey: expenseKeys.budget(projectKey),
    queryFn: async (): Promise<Budget | null> => {
      try {
        return await unwrap(
          api.client.GET("/api/v1/projects/{project_id}/budget", {
            params: { path: { project_id: projectKey } },
          }),
        );
      } catch (error) {
        if (error instanceof ApiError && error.code === "budget_not_found") return null;
        throw error;
      }
    },
  });
}

export function useSetBudget(projectKey: string) {
  const api = useApi();
  const queryClient = useQueryClient();
  return useMutation({
    mutationFn: ({ body, version }: { body: Schemas["BudgetSet"]; version?: number }) =>
      unwrap(
        api.client.PUT("/api/v1/projects/{project_id}/budget", {
          params: {
            path: { project_id: projectKey },
            header: version === undefined ? {} : { "if-match": ifMatch(version) },
          },
          body,
        }),
      ),
    onSuccess: (budget) => {
      queryClient.setQueryData(expenseKeys.budget(projectKey), budget);
    },
  });
}

// --- receipts -------------------------------------------------------------------------------

export const receiptKeys = {
  forExpense: (id: number) => ["expenses", "detail", id, "receipts"] as const,
};

export function useReceipts(expenseId: number) {
  const api = useApi();
  return useQuery({
    queryKey: receiptKeys.forExpense(expenseId),
    queryFn: () =>
      everyItem((cursor) =>
        unwrap(
          api.client.GET("/api/v1/expenses/{expense_id}/attachments", {
            params: { path: { expense_id: expenseId }, query: { limit: 200, cursor } },
          }),
        ),
      ),
  });
}

export function useUploadReceipt(expenseId: number) {
  const api = useApi();
  const queryClient = useQueryClient();
  return useMutation({
    mutationFn: (file: File) =>
      unwrap(
        api.client.POST("/api/v1/expenses/{expense_id}/attachments", {
          params: { path: { expense_id: expenseId } },
          // The generated type says "string" for a binary field; the serializer sends the File.
          body: { file: file.name },
          bodySerializer: () => fileForm(file),
        }),
      ),
    onSuccess: () => {
      void queryClient.invalidateQueries({ queryKey: expenseKeys.history(expenseId) });
      return queryClient.invalidateQueries({ queryKey: receiptKeys.forExpense(expenseId) });
    },
  });
}

export function useDeleteReceipt(expenseId: number) {
  const api = useApi();
  const queryClient = useQueryClient();
  return useMutation({
    mutationFn: (attachmentId: number) =>
      unwrap(
        api.client.DELETE("/api/v1/attachments/{attachment_id}", {
          params: { path: { attachment_id: attachmentId } },
        }),
      ),
    onSuccess: () => {
      void queryClient.invalidateQueries({ queryKey: expenseKeys.history(expenseId) });
      return queryClient.invalidateQueries({ queryKey: receiptKeys.forExpense(expenseId) });
    },
  });
}
