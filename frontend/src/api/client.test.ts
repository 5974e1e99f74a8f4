import { describe, expect, it } from "vitest";

import { aUser, fakeServer, json, problem, tokenPair } from "../test/fakeServer";
import { Api, ApiError, broadcastPeers, memoryRefreshStore, parseProblem, unwrap } from "./client";

const BASE = "http://nimbus.test";

async function failureOf(pending: Promise<unknown>): Promise<ApiError> {
  try {
    await pending;
  } catch (error) {
    if (error instanceof ApiError) return error;
    throw error;
  }
  throw new Error("expected the call to fail");
}

function makeApi(routes: Parameters<typeof fakeServer>[0], refreshToken: string | null = null) {
  const server = fakeServer(routes);
  const store = memoryRefreshStore(refreshToken);
  // alone in the browser: other tests' instances (alive till the end) must not answer its tabs
  const peers = { heldElsewhere: () => Promise.resolve(false), answerWith: () => undefined };
  const api = new Api({ baseUrl: BASE, fetch: server.fetch, refreshStore: store, peers });
  return { api, server, store };
}

describe("signing in and the bearer token", () => {
  it("posts the password form without a bearer and then attaches the access token", async () => {
    const { api, server, store } = makeApi({
      "POST /api/v1/auth/token": () => json(200, tokenPair(1)),
      "GET /api/v1/users/me": () => json(200, aUser()),
    });

    await api.signIn("ada@example.com", "s3cret-pass");
    const me = await unwrap(api.client.GET("/api/v1/users/me"));

    const [login, read] = server.calls;
    expect(login?.authorization).toBeNull();
    expect(login?.headers.get("Content-Type")).toBe("application/x-www-form-urlencoded");
    expect(Object.fromEntries(new URLSearchParams(login?.body))).toMatchObject({
      username: "ada@example.com",
      password: "s3cret-pass",
    });
    expect(read?.authorization).toBe("Bearer access-1");
    expect(me.email).toBe("ada@example.com");
    expect(store.get()).toBe("refresh-1");
    expect(api.getStatus()).toBe("signed-in");
  });

  it("sends no Authorization header while signed out", async () => {
    const { api, server } = makeApi({ "GET /api/v1/roles": () => json(200, { roles: [], permissions: [] }) });
    await unwrap(api.client.GET("/api/v1/roles"));
    expect(server.calls[0]?.authorization).toBeNull();
    expect(api.getStatus()).toBe("signed-out");
  });
});

describe("refresh on 401", () => {
  it("refreshes once and retries the original request with its body and the new token", async () => {
    let creates = 0;
    const { api, server, store } = makeApi(
      {
        "POST /api/v1/auth/refresh": (_req, body) => {
          expect(JSON.parse(body)).toEqual({ refresh_token: "refresh-0" });
          return json(200, tokenPair(2));
        },
        "POST /api/v1/projects": (req, body) => {
          creates += 1;
          if (req.headers.get("Authorization") !== "Bearer access-2") return problem(401, "invalid_token");
          return json(201, { id: 7, ...JSON.parse(body), version: 1, created_at: "", updated_at: "" });
        },
      },
      "refresh-0",
    );

    const project = await unwrap(
      api.client.POST("/api/v1/projects", { body: { key: "WEB", name: "Web", description: "" } }),
    );

    expect(project.key).toBe("WEB");
    expect(creates).toBe(2);
    expect(server.calls.map((c) => `${c.method} ${c.path}`)).toEqual([
      "POST /api/v1/projects",
      "POST /api/v1/auth/refresh",
      "POST /api/v1/projects",
    ]);
    expect(server.calls[2]?.body).toBe(server.calls[0]?.body);
    expect(store.get()).toBe("refresh-2");
    expect(api.getStatus()).toBe("signed-in");
  });

  it("shares one refresh between concurrent 401s (rotation would revoke a second one)", async () => {
    let refreshes = 0;
    const { api } = makeApi(
      {
        "POST /api/v1/auth/refresh": async () => {
          refreshes += 1;
          await new Promise((r) => setTimeout(r, 10));
          return json(200, tokenPair(3));
        },
        "GET /api/v1/users/me": (req) =>
          req.headers.get("Authorization") === "Bearer access-3"
            ? json(200, aUser())
            : problem(401, "invalid_token"),
        "GET /api/v1/users/me/tokens": (req) =>
          req.headers.get("Authorization") === "Bearer access-3"
            ? json(200, { items: [], next_cursor: null })
            : problem(401, "invalid_token"),
      },
      "refresh-0",
    );

    const [me, tokens] = await Promise.all([
      unwrap(api.client.GET("/api/v1/users/me")),
      unwrap(api.client.GET("/api/v1/users/me/tokens")),
    ]);

    expect(me.id).toBe(1);
    expect(tokens.items).toEqual([]);
    expect(refreshes).toBe(1);
  });

  it("ends the session when the refresh token is refused and surfaces the original 401", async () => {
    const { api, store } = makeApi(
      {
        "POST /api/v1/auth/refresh": () => problem(401, "refresh_token_reused"),
        "GET /api/v1/users/me": () => problem(401, "invalid_token"),
      },
      "refresh-0",
    );

    const failure = await failureOf(unwrap(api.client.GET("/api/v1/users/me")));

    expect(failure.status).toBe(401);
    expect(failure.code).toBe("invalid_token");
    expect(store.get()).toBeNull();
    expect(api.getStatus()).toBe("signed-out");
  });

  it("never tries to refresh after a wrong password", async () => {
    const { api, server } = makeApi(
      { "POST /api/v1/auth/token": () => problem(401, "invalid_credentials") },
      "refresh-0",
    );
    await expect(api.signIn("ada@example.com", "nope")).rejects.toMatchObject({
      code: "invalid_credentials",
    });
    expect(server.calls.map((c) => c.path)).toEqual(["/api/v1/auth/token"]);
  });

  it("restores a session from a stored refresh token at start-up", async () => {
    const { api } = makeApi({ "POST /api/v1/auth/refresh": () => json(200, tokenPair(4)) }, "refresh-0");
    expect(api.getStatus()).toBe("restoring");
    await api.restore();
    expect(api.getStatus()).toBe("signed-in");
  });

  it("leaves a copied tab's token to the tab it was copied from (no mutual revocation)", async () => {
    const channel = "test.session.copied";
    const original = makeApi({ "POST /api/v1/auth/token": () => json(200, tokenPair(1)) });
    const originalApi = new Api({
      baseUrl: BASE,
      fetch: original.server.fetch,
      refreshStore: original.store,
      peers: broadcastPeers(channel),
    });
    await originalApi.signIn("ada@example.com", "s3cret-pass");
    // "Duplicate tab" copies sessionStorage: the copy starts with the same refresh token
    const copy = makeApi({ "POST /api/v1/auth/refresh": () => json(200, tokenPair(2)) }, "refresh-1");
    const copyApi = new Api({
      baseUrl: BASE,
      fetch: copy.server.fetch,
      refreshStore: copy.store,
      peers: broadcastPeers(channel),
    });
    await copyApi.restore();
    expect(copy.server.calls).toEqual([]); // never presented the other tab's token
    expect(copyApi.getStatus()).toBe("signed-out");
    expect(copy.store.get()).toBeNull();
    expect(originalApi.getStatus()).toBe("signed-in");
    expect(original.store.get()).toBe("refresh-1");
  });

  it("restores as usual when no other tab holds the token (its own question does not count)", async () => {
    const { server, store } = makeApi(
      { "POST /api/v1/auth/refresh": () => json(200, tokenPair(5)) },
      "refresh-4",
    );
    const api = new Api({
      baseUrl: BASE,
      fetch: server.fetch,
      refreshStore: store,
      peers: broadcastPeers("test.session.alone"),
    });
    await api.restore();
    expect(api.getStatus()).toBe("signed-in");
    expect(server.calls.map((c) => c.path)).toEqual(["/api/v1/auth/refresh"]);
  });

  it("signs out locally and revokes the refresh token on the server", async () => {
    const { api, server, store } = makeApi({
      "POST /api/v1/auth/token": () => json(200, tokenPair(1)),
      "POST /api/v1/auth/logout": () => new Response(null, { status: 204 }),
    });
    await api.signIn("ada@example.com", "s3cret-pass");
    await api.signOut();
    expect(api.getStatus()).toBe("signed-out");
    expect(store.get()).toBeNull();
    expect(JSON.parse(server.calls[1]?.body ?? "")).toEqual({ refresh_token: "refresh-1" });
  });
});

describe("problem+json becomes ApiError", () => {
  it("keeps status, code, detail and the 422 field errors", async () => {
    const { api } = makeApi({
      "POST /api/v1/auth/register": () =>
        problem(422, "validation_error", {
          errors: [
            { loc: ["body", "email"], msg: "value is not a valid email address", type: "value_error" },
            {
              loc: ["body", "password"],
              msg: "String should have at least 8 characters",
              type: "string_too_short",
            },
            { loc: ["body"], msg: "Value error, something about the whole body", type: "value_error" },
          ],
        }),
    });

    const error = await failureOf(
      unwrap(
        api.client.POST("/api/v1/auth/register", { body: { email: "x", password: "y", full_name: "z" } }),
      ),
    );

    expect(error).toBeInstanceOf(ApiError);
    expect(error).toMatchObject({
      status: 422,
      code: "validation_error",
      detail: "detail of validation_error",
    });
    expect(error.errors).toHaveLength(3);
    expect(error.fieldErrors()).toEqual({
      email: "Value is not a valid email address",
      password: "String should have at least 8 characters",
      "": "Something about the whole body",
    });
  });

  it("flags a stale If-Match as a conflict and sends the header", async () => {
    const { api, server } = makeApi({ "PATCH /api/v1/users/5": () => problem(412, "version_conflict") });
    const error = await failureOf(
      unwrap(
        api.client.PATCH("/api/v1/users/{user_id}", {
          params: { path: { user_id: 5 }, header: { "if-match": '"3"' } },
          body: { role: "tester" },
        }),
      ),
    );
    expect(error.isConflict).toBe(true);
    expect(server.calls[0]?.headers.get("If-Match")).toBe('"3"');
  });

  it("reads Retry-After on 429", () => {
    const error = parseProblem(
      429,
      { title: "Too many", status: 429, code: "rate_limited", detail: "Slow down" },
      new Headers({ "Retry-After": "30" }),
    );
    expect(error.retryAfter).toBe(30);
    expect(error.code).toBe("rate_limited");
  });

  it("still gives a readable error for a proxy's HTML 502", async () => {
    const { api } = makeApi({
      "GET /api/v1/roles": () =>
        new Response("<html>Bad gateway</html>", { status: 502, headers: { "Content-Type": "text/html" } }),
    });
    const error = await failureOf(unwrap(api.client.GET("/api/v1/roles")));
    expect(error).toMatchObject({ status: 502, code: "http_502", title: "The server had a problem" });
  });

  it("turns a network failure into status 0", async () => {
    const api = new Api({
      baseUrl: BASE,
      fetch: () => Promise.reject(new TypeError("Failed to fetch")),
      refreshStore: memoryRefreshStore(),
    });
    const error = await failureOf(unwrap(api.client.GET("/api/v1/roles")));
    expect(error).toMatchObject({ status: 0, code: "network_error" });
  });

  it("returns undefined for a 204", async () => {
    const { api } = makeApi({
      "DELETE /api/v1/users/me/tokens/9": () => new Response(null, { status: 204 }),
    });
    await expect(
      unwrap(api.client.DELETE("/api/v1/users/me/tokens/{token_id}", { params: { path: { token_id: 9 } } })),
    ).resolves.toBeUndefined();
  });
});
