/**
 * The one module that talks HTTP to the Nimbus API: bearer tokens, transparent refresh on 401,
 * and problem+json turned into a typed `ApiError`. Everything else goes through `Api`.
 */
import createClient, { type Client } from "openapi-fetch";

import type { components, paths } from "./schema";

export type Schemas = components["schemas"];
export type User = Schemas["UserRead"];
/** The signed-in user, with the permissions their role holds (names as in GET /roles). */
export type Me = Schemas["MeRead"];
export type Role = Schemas["Role"];
export type Project = Schemas["ProjectRead"];
export type ProjectMember = Schemas["ProjectMemberRead"];
export type PersonalAccessToken = Schemas["PersonalAccessTokenRead"];
export type PersonalAccessTokenCreated = Schemas["PersonalAccessTokenCreated"];
export type TokenPair = Schemas["TokenPair"];
export type Bug = Schemas["BugRead"];
export type BugStatus = Schemas["BugStatus"];
export type Severity = Schemas["Severity"];
export type Resolution = Schemas["Resolution"];
export type Priority = NonNullable<Schemas["BugCreate"]["priority"]>;
export type Comment = Schemas["CommentRead"];
export type Activity = Schemas["ActivityRead"];
export type TransitionOption = Schemas["TransitionOption"];
export type Notification = Schemas["NotificationRead"];
export type Attachment = Schemas["AttachmentRead"];
export type Expense = Schemas["ExpenseRead"];
export type ExpenseCategory = Schemas["CategoryRead"];
export type SummaryRow = Schemas["SummaryRow"];
export type ImportReport = Schemas["ImportReport"];
export type Budget = Schemas["BudgetRead"];
export type Job = Schemas["JobRead"];
export type JobStatus = Schemas["JobStatus"];
export type Runtime = Schemas["RuntimeRead"];
export type ApiClient = Client<paths>;

/** One entry of a 422's `errors[]`: where the problem is (`["body", "email"]`) and what it is. */
export interface FieldIssue {
  loc: (string | number)[];
  msg: string;
  type: string;
}

interface ApiErrorInit {
  status: number;
  code: string;
  title: string;
  detail: string;
  errors?: FieldIssue[];
  retryAfter?: number | null;
  body?: Record<string, unknown>;
}

/** Every failed call, whatever went wrong, reaches the views as one of these. */
export class ApiError extends Error {
  readonly status: number;
  readonly code: string;
  readonly title: string;
  readonly detail: string;
  readonly errors: FieldIssue[];
  /** Seconds from `Retry-After` on 429/503, when the server sent one. */
  readonly retryAfter: number | null;
  /** The whole problem document, for codes that carry more (`import_rejected` has a `report`). */
  readonly body: Record<string, unknown>;

  constructor(init: ApiErrorInit) {
    super(init.detail || init.title);
    this.name = "ApiError";
    this.status = init.status;
    this.code = init.code;
    this.title = init.title;
    this.detail = init.detail;
    this.errors = init.errors ?? [];
    this.retryAfter = init.retryAfter ?? null;
    this.body = init.body ?? {};
  }

  /** A stale `If-Match`: someone else saved in between. */
  get isConflict(): boolean {
    return this.status === 412 || this.code === "version_conflict";
  }

  /**
   * Messages keyed by the field they concern (the last name in `loc`, so `["body", "email"]`
   * becomes `email`). Issues about the whole body land under `""`.
   */
  fieldErrors(): Record<string, string> {
    const byField: Record<string, string> = {};
    for (const issue of this.errors) {
      const names = issue.loc.filter(
        (part): part is string =>
          typeof part === "string" && !["body", "query", "path", "header"].includes(part),
      );
      const field = names.at(-1) ?? "";
      const message = humanise(issue.msg);
      const previous = byField[field];
      byField[field] = previous && previous !== message ? `${previous} ${message}` : message;
    }
    return byField;
  }

  static network(cause: unknown): ApiError {
    const error = new ApiError({
      status: 0,
      code: "network_error",
      title: "Can't reach Nimbus",
      detail: "The server could not be reached. Check your connection and try again.",
    });
    error.cause = cause;
    return error;
  }
}

/** Pydantic says "Value error, x"; people should just read "x". */
function humanise(message: string): string {
  const text = message.replace(/^Value error, /, "");
  return text.charAt(0).toUpperCase() + text.slice(1);
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

function isFieldIssue(value: unknown): value is FieldIssue {
  return isRecord(value) && Array.isArray(value.loc) && typeof value.msg === "string";
}

/**
 * Builds an `ApiError` from a status and whatever body came with it. problem+json is the
 * contract, but a proxy's HTML 502 or an empty body must still give a readable error.
 */
export function parseProblem(status: number, body: unknown, headers?: Headers): ApiError {
  const retryHeader = headers?.get("Retry-After");
  const retryAfter = retryHeader && /^\d+$/.test(retryHeader) ? Number(retryHeader) : null;
  if (isRecord(body) && typeof body.title === "string") {
    return new ApiError({
      status: typeof body.status === "number" ? body.status : status,
      code: typeof body.code === "string" ? body.code : `http_${status}`,
      title: body.title,
      detail: typeof body.detail === "string" ? body.detail : body.title,
      errors: Array.isArray(body.errors) ? body.errors.filter(isFieldIssue) : [],
      retryAfter,
      body,
    });
  }
  const title = status >= 500 ? "The server had a problem" : `Request failed (${status})`;
  return new ApiError({
    status,
    code: `http_${status}`,
    title,
    detail: status >= 500 ? "Please try again in a moment." : title,
    retryAfter,
  });
}

type Outcome = { data?: unknown; error?: unknown; response: Response };
type DataOf<R extends Outcome> = [Exclude<R["data"], undefined>] extends [never]
  ? undefined
  : Exclude<R["data"], undefined>;

/** Every item of a list, pages followed to the end: for the short lists a screen shows whole. */
export async function everyItem<T>(
  fetchPage: (cursor: string | undefined) => Promise<{ items: T[]; next_cursor?: string | null }>,
): Promise<T[]> {
  const all: T[] = [];
  let cursor: string | undefined;
  do {
    const page = await fetchPage(cursor);
    all.push(...page.items);
    cursor = page.next_cursor ?? undefined;
  } while (cursor);
  return all;
}

/** Awaits an openapi-fetch call and returns its data, or throws `ApiError`. */
export async function unwrap<R extends Outcome>(pending: Promise<R>): Promise<DataOf<R>> {
  let outcome: R;
  try {
    outcome = await pending;
  } catch (cause) {
    if (cause instanceof ApiError) throw cause;
    throw ApiError.network(cause);
  }
  const { response } = outcome;
  if (!response.ok) throw parseProblem(response.status, outcome.error, response.headers);
  return outcome.data as DataOf<R>;
}

/** The `If-Match` value for a resource read earlier; the API's ETag is its quoted version. */
export function ifMatch(version: number): string {
  return `"${version}"`;
}

/**
 * Where the refresh token lives between page loads.
 *
 * Decision: sessionStorage, not memory and not localStorage. Memory alone would sign people out
 * on every reload and make deep links (/projects/WEB) open on the sign-in page. localStorage would
 * keep a long-lived credential on disk across browser restarts and share it between tabs, where
 * the API's rotation would make two tabs revoke each other's family. sessionStorage lives as long
 * as the tab, is per-tab, and the access token (the one that actually opens the API) stays in
 * memory only. Rotation plus reuse detection on the server bounds what a stolen token is worth.
 * A tab copied with its sessionStorage ("Duplicate tab") is the one case of a shared token:
 * `SessionPeers` gives it to the original tab alone.
 */
export interface RefreshTokenStore {
  get(): string | null;
  set(token: string | null): void;
}

const REFRESH_KEY = "nimbus.refresh_token";

export function sessionRefreshStore(storage: Storage = window.sessionStorage): RefreshTokenStore {
  return {
    get: () => {
      try {
        return storage.getItem(REFRESH_KEY);
      } catch {
        return null; // storage disabled (privacy mode): behave as memory-only
      }
    },
    set: (token) => {
      try {
        if (token === null) storage.removeItem(REFRESH_KEY);
        else storage.setItem(REFRESH_KEY, token);
      } catch {
        /* storage disabled: the session simply won't survive a reload */
      }
    },
  };
}

export function memoryRefreshStore(initial: string | null = null): RefreshTokenStore {
  let token = initial;
  return {
    get: () => token,
    set: (next) => {
      token = next;
    },
  };
}

/**
 * The other open tabs of this app, asked at start-up whether one of them already holds the
 * refresh token this tab found in its storage.
 *
 * "Duplicate tab" (and a link opened with an opener) copies sessionStorage, so two tabs would
 * hold one refresh token: the first to refresh spends it, the second then presents a spent
 * token, and the API's reuse detection revokes the family, signing both tabs out. A tab that
 * learns its token is already held elsewhere leaves it to that tab and starts signed out.
 */
export interface SessionPeers {
  /** True when another live tab answers that it holds ``token``. */
  heldElsewhere(token: string): Promise<boolean>;
  /** Answer other tabs' questions with the token this tab holds now. */
  answerWith(current: () => string | null): void;
}

/** How long a starting tab with a stored token waits for another tab to claim it: live tabs of
 * one browser answer within milliseconds, and every reload pays this wait. */
export const PEER_ANSWER_MS = 100;

export function broadcastPeers(name = "nimbus.session"): SessionPeers {
  if (typeof BroadcastChannel === "undefined") {
    return { heldElsewhere: () => Promise.resolve(false), answerWith: () => undefined };
  }
  // A channel never hears its own messages: questions and answers only come from other tabs.
  const channel = new BroadcastChannel(name);
  // Node (the unit tests) keeps a process alive while a channel is open; browsers have no unref.
  (channel as unknown as { unref?: () => void }).unref?.();
  const about = (event: MessageEvent, type: string, token: string | null): boolean => {
    const data: unknown = event.data;
    return isRecord(data) && data.type === type && token !== null && data.token === token;
  };
  return {
    heldElsewhere: (token) =>
      new Promise((resolve) => {
        const listen = (event: MessageEvent) => {
          if (about(event, "held", token)) done(true);
        };
        const done = (held: boolean) => {
          clearTimeout(timer);
          channel.removeEventListener("message", listen);
          resolve(held);
        };
        const timer = setTimeout(() => done(false), PEER_ANSWER_MS);
        channel.addEventListener("message", listen);
        channel.postMessage({ type: "who-holds", token });
      }),
    answerWith: (current) => {
      channel.addEventListener("message", (event: MessageEvent) => {
        const token = current();
        if (about(event, "who-holds", token)) channel.postMessage({ type: "held", token });
      });
    },
  };
}

export type AuthStatus = "restoring" | "signed-in" | "signed-out";

export interface ApiOptions {
  /** Origin of the API; empty means the page's own origin (embedded mode and the dev proxy). */
  baseUrl?: string;
  /** The network; tests pass a fake. */
  fetch?: (request: Request) => Promise<Response>;
  refreshStore?: RefreshTokenStore;
  /** The app's other tabs (see `SessionPeers`); tests pass their own. */
  peers?: SessionPeers;
}

/** Endpoints that must never carry a bearer token nor trigger a refresh-and-retry. */
const AUTH_PATHS = /\/api\/v1\/auth\/(token|refresh|register|logout)$/;

/**
 * The API as the app sees it: a typed client plus the session that keeps it authenticated.
 * Created once in the composition root (main.tsx) and handed down through context.
 */
export class Api {
  readonly client: ApiClient;
  private readonly baseUrl: string;
  private readonly send: (request: Request) => Promise<Response>;
  private readonly refreshStore: RefreshTokenStore;
  private readonly peers: SessionPeers;
  private accessToken: string | null = null;
  private refreshing: Promise<boolean> | null = null;
  private status: AuthStatus;
  private readonly listeners = new Set<() => void>();

  constructor(options: ApiOptions = {}) {
    const baseFetch = options.fetch ?? ((request: Request) => fetch(request));
    this.send = baseFetch;
    this.refreshStore = options.refreshStore ?? sessionRefreshStore();
    this.peers = options.peers ?? broadcastPeers();
    this.peers.answerWith(() => this.refreshStore.get());
    this.status = this.refreshStore.get() ? "restoring" : "signed-out";
    this.baseUrl = options.baseUrl ?? "";
    this.client = createClient<paths>({
      baseUrl: this.baseUrl,
      fetch: (request) => this.authorisedFetch(request),
    });
  }

  // --- session state, shaped for React's useSyncExternalStore -------------------------------

  getStatus = (): AuthStatus => this.status;

  subscribe = (listener: () => void): (() => void) => {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  };

  private setStatus(status: AuthStatus): void {
    if (status === this.status) return;
    this.status = status;
    for (const listener of this.listeners) listener();
  }

  private adopt(pair: TokenPair): void {
    this.accessToken = pair.access_token;
    this.refreshStore.set(pair.refresh_token);
    this.setStatus("signed-in");
  }

  /**
   * Takes over the session a password change answered with: the change ended every earlier
   * token, this tab's included, so the old ones must not be used (nor refreshed) again.
   */
  renewSession(pair: TokenPair): void {
    this.adopt(pair);
  }

  private forget(): void {
    this.accessToken = null;
    this.refreshStore.set(null);
    this.setStatus("signed-out");
  }

  // --- auth operations ----------------------------------------------------------------------

  async signIn(email: string, password: string): Promise<void> {
    const pair = await unwrap(
      this.client.POST("/api/v1/auth/token", {
        body: { username: email, password, scope: "" },
        bodySerializer: (body) => new URLSearchParams(body as Record<string, string>),
        headers: { "Content-Type": "application/x-www-form-urlencoded" },
      }),
    );
    this.adopt(pair);
  }

  /** Called once at start-up: turns a refresh token left by a reload back into a session. */
  async restore(): Promise<void> {
    const stored = this.refreshStore.get();
    if (!stored) {
      this.setStatus("signed-out");
      return;
    }
    if (await this.peers.heldElsewhere(stored)) {
      this.forget(); // a copied tab: the token is the other tab's to rotate
      return;
    }
    try {
      await this.refresh();
    } catch {
      // Unreachable server: keep the token for the next attempt but show the sign-in screen.
      this.accessToken = null;
      this.setStatus("signed-out");
    }
  }

  async signOut(): Promise<void> {
    const refreshToken = this.refreshStore.get();
    this.forget();
    if (refreshToken) {
      // Best effort: the local session is gone either way.
      await this.client
        .POST("/api/v1/auth/logout", { body: { refresh_token: refreshToken } })
        .catch(() => undefined);
    }
  }

  /**
   * Exchanges the refresh token for a new pair. Concurrent callers share one request: rotation
   * means a second parallel refresh would present a spent token and revoke the whole family.
   * Resolves false when the session is over (the caller then sees its original 401).
   */
  refresh(): Promise<boolean> {
    this.refreshing ??= this.doRefresh().finally(() => {
      this.refreshing = null;
    });
    return this.refreshing;
  }

  private async doRefresh(): Promise<boolean> {
    const refreshToken = this.refreshStore.get();
    if (!refreshToken) {
      this.forget();
      return false;
    }
    const { data, response } = await this.client.POST("/api/v1/auth/refresh", {
      body: { refresh_token: refreshToken },
    });
    if (response.ok && data) {
      this.adopt(data);
      return true;
    }
    if (response.status >= 500) throw parseProblem(response.status, undefined, response.headers);
    this.forget();
    return false;
  }

  // --- raw responses: downloads and event streams ---------------------------------------------

  /**
   * A file from the API (attachments, job output, CSV export) as a Blob, with the name the server
   * gave it. Plain links cannot send the bearer token, so downloads go through here.
   */
  async download(path: string): Promise<{ blob: Blob; filename: string }> {
    const response = await this.raw(path);
    const blob = await response.blob();
    return { blob, filename: filenameFrom(response.headers.get("Content-Disposition")) ?? lastSegment(path) };
  }

  /**
   * An open `text/event-stream` response (the caller reads its body). `lastEventId` resumes a
   * stream after an event already seen; aborting `signal` closes the connection.
   */
  stream(
    path: string,
    options: { lastEventId?: string | null; signal?: AbortSignal } = {},
  ): Promise<Response> {
    const headers: Record<string, string> = { Accept: "text/event-stream" };
    if (options.lastEventId) headers["Last-Event-ID"] = options.lastEventId;
    return this.raw(path, { headers, signal: options.signal ?? null });
  }

  private async raw(path: string, init: RequestInit = {}): Promise<Response> {
    let response: Response;
    try {
      response = await this.authorisedFetch(new Request(`${this.baseUrl}${path}`, init));
    } catch (cause) {
      if (cause instanceof DOMException && cause.name === "AbortError") throw cause;
      throw ApiError.network(cause);
    }
    if (!response.ok) {
      const body: unknown = await response.json().catch(() => undefined);
      throw parseProblem(response.status, body, response.headers);
    }
    return response;
  }

  // --- the transport under openapi-fetch ----------------------------------------------------

  private async authorisedFetch(request: Request): Promise<Response> {
    if (AUTH_PATHS.test(new URL(request.url, "http://x").pathname)) return this.send(request);
    const usedToken = this.accessToken;
    // Keep an unread copy of the body for the one retry after a refresh.
    const spare = this.refreshStore.get() ? request.clone() : null;
    const response = await this.send(withBearer(request, usedToken));
    if (response.status !== 401 || spare === null) return response;
    // Another request may already have refreshed while this one was in flight.
    const renewed = this.accessToken !== usedToken || (await this.refresh());
    if (!renewed || this.accessToken === null) return response;
    return this.send(withBearer(spare, this.accessToken));
  }
}

/** The file name from `Content-Disposition`, preferring the UTF-8 `filename*` form. */
export function filenameFrom(disposition: string | null): string | null {
  if (!disposition) return null;
  const extended = /filename\*\s*=\s*UTF-8''([^;]+)/i.exec(disposition);
  if (extended?.[1]) {
    try {
      return decodeURIComponent(extended[1].trim());
    } catch {
      /* malformed: fall back to the plain form */
    }
  }
  const plain = /filename\s*=\s*"([^"]*)"|filename\s*=\s*([^;]+)/i.exec(disposition);
  const name = plain?.[1] ?? plain?.[2]?.trim();
  return name || null;
}

function lastSegment(path: string): string {
  return decodeURIComponent(path.split("?")[0]?.split("/").pop() ?? "download");
}

function withBearer(request: Request, token: string | null): Request {
  if (token !== null) request.headers.set("Authorization", `Bearer ${token}`);
  return request;
}
