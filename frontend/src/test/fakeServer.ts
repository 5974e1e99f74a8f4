/** A scripted stand-in for the network, so the API layer can be tested without a server. */
export type Handler = (request: Request, body: string) => Response | Promise<Response>;

export interface Recorded {
  method: string;
  path: string;
  search: string;
  authorization: string | null;
  body: string;
  headers: Headers;
}

export function json(status: number, body: unknown, headers: Record<string, string> = {}): Response {
  return new Response(JSON.stringify(body), {
    status,
    headers: { "Content-Type": "application/json", ...headers },
  });
}

export function problem(
  status: number,
  code: string,
  extra: Record<string, unknown> = {},
  headers: Record<string, string> = {},
): Response {
  return new Response(
    JSON.stringify({
      type: "about:blank",
      title: code.replace(/_/g, " "),
      status,
      detail: `detail of ${code}`,
      instance: "/x",
      code,
      ...extra,
    }),
    { status, headers: { "Content-Type": "application/problem+json", ...headers } },
  );
}

/** Routes requests by "METHOD /path" to handlers and records every call. */
export function fakeServer(routes: Record<string, Handler>) {
  const calls: Recorded[] = [];
  const fetch = async (request: Request): Promise<Response> => {
    const url = new URL(request.url);
    const body = await request.text();
    calls.push({
      method: request.method,
      path: url.pathname,
      search: url.search,
      authorization: request.headers.get("Authorization"),
      body,
      headers: request.headers,
    });
    const handler = routes[`${request.method} ${url.pathname}`];
    if (!handler) return problem(404, "not_found");
    return handler(request, body);
  };
  return { fetch, calls };
}

export const tokenPair = (n: number) => ({
  access_token: `access-${n}`,
  token_type: "bearer",
  expires_in: 900,
  refresh_token: `refresh-${n}`,
});

/** What GET /users/me says each role holds (a sample of the table: what the screens ask). */
export const PERMISSIONS = {
  admin: [
    "users:read",
    "users:manage",
    "projects:read",
    "projects:create",
    "projects:update",
    "projects:delete",
    "projects:manage_members",
    "projects:see_all",
    "bugs:create",
    "bugs:edit_own",
    "bugs:edit_any",
    "bugs:assign",
    "bugs:delete",
    "bugs:work",
    "bugs:verify",
    "comments:create",
    "jobs:run",
    "jobs:see_all",
    "expenses:create",
    "expenses:see_all",
    "expenses:edit_any",
    "budgets:read",
    "budgets:manage",
  ],
  developer: [
    "projects:read",
    "bugs:create",
    "bugs:edit_own",
    "bugs:assign",
    "bugs:work",
    "comments:create",
    "jobs:run",
  ],
  tester: ["projects:read", "bugs:create", "bugs:edit_own", "bugs:verify", "comments:create", "jobs:run"],
};

export const aUser = (overrides: Record<string, unknown> = {}) => ({
  id: 1,
  email: "ada@example.com",
  full_name: "Ada Lovelace",
  role: "admin",
  is_active: true,
  email_notifications: true,
  version: 1,
  created_at: "2026-11-20T10:00:00Z",
  updated_at: "2026-11-20T10:00:00Z",
  permissions: PERMISSIONS.admin,
  ...overrides,
});
