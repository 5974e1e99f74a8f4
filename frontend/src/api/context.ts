/** Hands the one `Api` instance (built in main.tsx) to the hooks that need it. */
import { createContext, useContext, useSyncExternalStore } from "react";

import type { Api, AuthStatus } from "./client";

export const ApiContext = createContext<Api | null>(null);

export function useApi(): Api {
  const api = useContext(ApiContext);
  if (api === null) throw new Error("useApi() needs an <ApiContext.Provider> above it");
  return api;
}

export function useAuthStatus(): AuthStatus {
  const api = useApi();
  return useSyncExternalStore(api.subscribe, api.getStatus);
}
