/** Every URL of the app. Deep links work because the API serves index.html for unknown paths. */
import { lazy, Suspense, type ComponentType } from "react";
import { createBrowserRouter, Outlet } from "react-router";

import { AdminUsers } from "../screens/AdminUsers";
import { BugPage } from "../screens/BugPage";
import { BugsPage } from "../screens/BugsPage";
import { CrashPage } from "../screens/CrashPage";
import { Dashboard } from "../screens/Dashboard";
import { NewBug } from "../screens/NewBug";
import { NotFound } from "../screens/NotFound";
import { NotificationsPage } from "../screens/NotificationsPage";
import { ProfilePage } from "../screens/Profile";
import { ProjectPage } from "../screens/ProjectPage";
import { ProjectsList } from "../screens/ProjectsList";
import { Register } from "../screens/Register";
import { SignIn } from "../screens/SignIn";
import { Loading } from "../ui/states";
import { RequireAuth, RequirePermission } from "./guards";
import { Shell } from "./Shell";

/**
 * A screen loaded on first visit. The expense screens bring Chart.js and the runner brings
 * CodeMirror; neither belongs in the bundle everyone downloads to sign in.
 */
function lazyScreen<M>(load: () => Promise<M>, pick: (module: M) => ComponentType, label: string) {
  const Screen = lazy(async () => ({ default: pick(await load()) }));
  return (
    <Suspense fallback={<Loading label={label} />}>
      <Screen />
    </Suspense>
  );
}

const expenses = () => import("../screens/expenses/ExpensesPage");
const expense = () => import("../screens/expenses/ExpensePage");
const importPage = () => import("../screens/expenses/ImportPage");
const budgets = () => import("../screens/expenses/BudgetsPage");
const runner = () => import("../screens/jobs/RunnerPage");
const jobPage = () => import("../screens/jobs/JobPage");

export function createRouter() {
  return createBrowserRouter([
    {
      errorElement: <CrashPage />,
      children: [
        { path: "/login", element: <SignIn /> },
        { path: "/register", element: <Register /> },
        {
          element: (
            <RequireAuth>
              <Shell />
            </RequireAuth>
          ),
          children: [
            { index: true, element: <Dashboard /> },
            { path: "projects", element: <ProjectsList /> },
            { path: "projects/:projectKey", element: <ProjectPage /> },
            { path: "projects/:projectKey/bugs/new", element: <NewBug /> },
            { path: "bugs", element: <BugsPage /> },
            { path: "bugs/new", element: <NewBug /> },
            { path: "bugs/:bugKey", element: <BugPage /> },
            { path: "expenses", element: lazyScreen(expenses, (m) => m.ExpensesPage, "Loading expenses…") },
            {
              path: "expenses/new",
              element: lazyScreen(expense, (m) => m.NewExpensePage, "Loading the form…"),
            },
            {
              path: "expenses/import",
              element: lazyScreen(importPage, (m) => m.ImportPage, "Loading the importer…"),
            },
            {
              path: "expenses/budgets",
              element: lazyScreen(budgets, (m) => m.BudgetsPage, "Loading budgets…"),
            },
            {
              path: "expenses/:expenseId",
              element: lazyScreen(expense, (m) => m.EditExpensePage, "Loading the expense…"),
            },
            { path: "run", element: lazyScreen(runner, (m) => m.RunnerPage, "Loading the code runner…") },
            { path: "jobs/:jobId", element: lazyScreen(jobPage, (m) => m.JobPage, "Loading the job…") },
            { path: "notifications", element: <NotificationsPage /> },
            { path: "profile", element: <ProfilePage /> },
            {
              path: "admin",
              element: (
                <RequirePermission permission="users:read">
                  <Outlet />
                </RequirePermission>
              ),
              children: [{ path: "users", element: <AdminUsers /> }],
            },
            { path: "*", element: <NotFound /> },
          ],
        },
      ],
    },
  ]);
}
