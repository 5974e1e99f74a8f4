/** Every URL of the app. Deep links work because the API serves index.html for unknown paths. */
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
import { RequireAuth, RequireRole } from "./guards";
import { Shell } from "./Shell";

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
            { path: "bugs/:bugKey", element: <BugPage /> },
            { path: "notifications", element: <NotificationsPage /> },
            { path: "profile", element: <ProfilePage /> },
            {
              path: "admin",
              element: (
                <RequireRole roles={["admin"]}>
                  <Outlet />
                </RequireRole>
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
