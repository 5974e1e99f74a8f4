/** The signed-in user, guaranteed present below <RequireAuth>, and what they may do. */
import { createContext, useContext } from "react";

import type { Me } from "../api/client";

export const CurrentUserContext = createContext<Me | null>(null);

export function useCurrentUser(): Me {
  const user = useContext(CurrentUserContext);
  if (user === null) throw new Error("useCurrentUser() is only available inside <RequireAuth>");
  return user;
}

/**
 * Whether the signed-in user's role holds `permission`, as GET /users/me says. Screens ask this
 * (or a resource's `can`), never a role name: the API's permission table is the one source.
 */
export function hasPermission(user: Me, permission: string): boolean {
  return user.permissions.includes(permission);
}

export function useHasPermission(permission: string): boolean {
  return hasPermission(useCurrentUser(), permission);
}
