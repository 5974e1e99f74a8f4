/** Renders a screen with the real Api (over a fake network), a fresh query cache and a router. */
import { QueryClient, QueryClientProvider } from "@tanstack/react-query";
import { render } from "@testing-library/react";
import type { ReactElement } from "react";
import { MemoryRouter, Route, Routes } from "react-router";

import { Api, memoryRefreshStore, type Me, type User } from "../api/client";
import { ApiContext } from "../api/context";
import { CurrentUserContext } from "../app/currentUser";
import { fakeServer, type Handler } from "./fakeServer";

export function renderScreen(
  ui: ReactElement,
  {
    routes = {},
    user = null,
    path = "/",
    routePath = "*",
  }: {
    routes?: Record<string, Handler>;
    user?: User | null;
    /** The URL, or a location with router state (as `navigate(to, { state })` leaves). */
    path?: string | { pathname: string; state: unknown };
    /** The route pattern, when the screen reads params (e.g. "/bugs/:bugKey"). */
    routePath?: string;
  },
) {
  const server = fakeServer(routes);
  const api = new Api({
    baseUrl: "http://nimbus.test",
    fetch: server.fetch,
    refreshStore: memoryRefreshStore(),
  });
  const queryClient = new QueryClient({
    defaultOptions: { queries: { retry: false }, mutations: { retry: false } },
  });
  const result = render(
    <ApiContext.Provider value={api}>
      <QueryClientProvider client={queryClient}>
        {/* aUser() carries the permissions GET /users/me would send (an admin's by default) */}
        <CurrentUserContext.Provider value={user as Me | null}>
          <MemoryRouter initialEntries={[path]}>
            <Routes>
              <Route path={routePath} element={ui} />
            </Routes>
          </MemoryRouter>
        </CurrentUserContext.Provider>
      </QueryClientProvider>
    </ApiContext.Provider>,
  );
  return { ...result, server, api };
}
