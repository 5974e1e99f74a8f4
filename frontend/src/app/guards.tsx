/** Route guards: signed-in only, and areas that need a permission. */
import type { ReactNode } from "react";
import { Navigate, useLocation } from "react-router";

import { useApi, useAuthStatus } from "../api/context";
import { useMe } from "../api/queries";
import { ErrorState, Loading } from "../ui/states";
import { CurrentUserContext, hasPermission, useCurrentUser } from "./currentUser";

export function RequireAuth({ children }: { children: ReactNode }) {
  const status = useAuthStatus();
  const location = useLocation();
  const me = useMe();
  const api = useApi();

  if (status === "signed-out") {
    const next = location.pathname + location.search;
    const search = next === "/" ? "" : `?next=${encodeURIComponent(next)}`;
    return <Navigate to={`/login${search}`} replace />;
  }
  if (status === "restoring" || me.isPending) {
    return (
      <div className="boot">
        <Loading label="Opening your workspace…" />
      </div>
    );
  }
  if (me.isError) {
    return (
      <div className="boot">
        <div className="boot-card">
          <ErrorState error={me.error} onRetry={() => void me.refetch()} />
          <button type="button" className="btn btn-link" onClick={() => void api.signOut()}>
            Sign in again
          </button>
        </div>
      </div>
    );
  }
  return <CurrentUserContext.Provider value={me.data}>{children}</CurrentUserContext.Provider>;
}

export function RequirePermission({ permission, children }: { permission: string; children: ReactNode }) {
  const user = useCurrentUser();
  if (!hasPermission(user, permission)) {
    return (
      <ErrorState
        title="This page is for administrators"
        error={new Error("Your account doesn't have access to it.")}
      />
    );
  }
  return <>{children}</>;
}
