/**
 * The running server and its API, for seeding a flow's data and checking what the UI did:
 * no browser here, so global-setup.ts uses it too.
 */
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";

const here = dirname(fileURLToPath(import.meta.url));
export const frontendDir = resolve(here, "..");
export const repoRoot = resolve(frontendDir, "..");
export const shotsDir = join(here, "screenshots");
export const CHROMIUM_PATH = process.env.CHROMIUM_PATH ?? "/usr/bin/chromium";
/** Set by global-setup.ts once `nimbus serve` answers; workers inherit it. */
export const BASE_URL_ENV = "NIMBUS_E2E_BASE_URL";
/** Short-lived access tokens, so the flows also exercise the transparent refresh. */
export const ACCESS_TTL_S = 4;

export interface Account {
  email: string;
  password: string;
  full_name: string;
}
export interface User extends Account {
  id: number;
  role: string;
}

/** The first user to register, in global-setup: the admin every flow may lean on. */
export const ADMIN: Account = {
  email: "ada@example.com",
  password: "correct-horse-1",
  full_name: "Ada Lovelace",
};

export function baseUrl(): string {
  const url = process.env[BASE_URL_ENV];
  if (!url) throw new Error(`${BASE_URL_ENV} is not set: run the specs with \`npm run e2e\``);
  return url;
}

interface ApiOptions {
  token?: string;
  json?: unknown;
  form?: Record<string, string>;
}

/** One API call for seeding or checking; a non-2xx answer fails the flow with its body. */
export async function api(
  method: string,
  path: string,
  { token, json, form }: ApiOptions = {},
): Promise<unknown> {
  const headers: Record<string, string> = {};
  let body: string | undefined;
  if (token) headers.Authorization = `Bearer ${token}`;
  if (json !== undefined) {
    headers["Content-Type"] = "application/json";
    body = JSON.stringify(json);
  }
  if (form !== undefined) {
    headers["Content-Type"] = "application/x-www-form-urlencoded";
    body = new URLSearchParams(form).toString();
  }
  const response = await fetch(`${baseUrl()}/api/v1${path}`, { method, headers, body });
  const text = await response.text();
  if (!response.ok) throw new Error(`${method} ${path} → ${String(response.status)}: ${text}`);
  return text ? (JSON.parse(text) as unknown) : null;
}

export async function tokenFor(account: Account): Promise<string> {
  const pair = (await api("POST", "/auth/token", {
    form: { username: account.email, password: account.password },
  })) as { access_token: string };
  return pair.access_token;
}

/**
 * A user of its own for one flow, created by the admin (so any role is possible). Idempotent:
 * a flow's setup runs again in a fresh worker after a failure, and finds its user there.
 */
export async function makeUser(role: "admin" | "developer" | "tester", account: Account): Promise<User> {
  const token = await tokenFor(ADMIN);
  try {
    const created = (await api("POST", "/users", { token, json: { ...account, role } })) as User;
    return { ...account, id: created.id, role: created.role };
  } catch (error) {
    if (!String(error).includes("→ 409")) throw error;
    const page = (await api("GET", `/users?q=${encodeURIComponent(account.email)}`, { token })) as {
      items: User[];
    };
    const found = page.items.find((u) => u.email === account.email);
    if (!found) throw error;
    return { ...account, id: found.id, role: found.role };
  }
}

export interface Project {
  id: number;
  key: string;
  name: string;
  /** False when an earlier run of the same setup made it (a retry in a fresh worker). */
  created: boolean;
}

/** A project with the given members, created by the admin (idempotent, as `makeUser`). */
export async function makeProject(
  project: { key: string; name: string; description?: string },
  members: { id: number }[] = [],
): Promise<Project> {
  const token = await tokenFor(ADMIN);
  let created: Project;
  try {
    created = { ...((await api("POST", "/projects", { token, json: project })) as Project), created: true };
  } catch (error) {
    if (!String(error).includes("→ 409")) throw error;
    created = { ...((await api("GET", `/projects/${project.key}`, { token })) as Project), created: false };
  }
  for (const member of members) {
    await api("PUT", `/projects/${project.key}/members/${String(member.id)}`, { token });
  }
  return created;
}
