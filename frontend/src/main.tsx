/** The composition root: the one Api, the query cache and the router are created here. */
import "bootstrap/dist/css/bootstrap.min.css";
import "./styles.css";

import { QueryClient, QueryClientProvider } from "@tanstack/react-query";
import { StrictMode } from "react";
import { createRoot } from "react-dom/client";
import { RouterProvider } from "react-router";

import { Api, ApiError } from "./api/client";
import { ApiContext } from "./api/context";
import { createRouter } from "./app/routes";

const api = new Api();

const queryClient = new QueryClient({
  defaultOptions: {
    queries: {
      // A 4xx will not fix itself; only retry what might (network blips, 5xx).
      retry: (failures, error) =>
        failures < 2 && !(error instanceof ApiError && error.status >= 400 && error.status < 500),
      staleTime: 15_000,
    },
  },
});

// Whatever ends the session (sign-out, a refresh token that no longer works), nothing cached
// for the previous user may show up for the next one.
api.subscribe(() => {
  if (api.getStatus() === "signed-out") queryClient.clear();
});
void api.restore();

const root = document.getElementById("root");
if (!root) throw new Error("index.html has no #root");

createRoot(root).render(
  <StrictMode>
    <ApiContext.Provider value={api}>
      <QueryClientProvider client={queryClient}>
        <RouterProvider router={createRouter()} />
      </QueryClientProvider>
    </ApiContext.Provider>
  </StrictMode>,
);
