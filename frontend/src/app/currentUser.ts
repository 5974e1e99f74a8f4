/** The signed-in user, guaranteed present below <RequireAuth>. */
import { createContext, useContext } from "react";

import type { User } from "../api/client";

export const CurrentUserContext = createContext<User | null>(null);

export function useCurrentUser(): User {
  const user = useContext(CurrentUserContext);
  if (user === null) throw new Error("useCurrentUser() is only available inside <RequireAuth>");
  return user;
}
