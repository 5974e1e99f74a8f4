/**
 * Starts one real `uv run nimbus serve` for the whole run, as `npm run e2e` always has: a free
 * 127.0.0.1 port, a fresh data directory, short-lived access tokens (so every flow also goes
 * through the transparent refresh). Registers the first user (the admin) and checks that the
 * server can run jobs. The returned function stops the server and removes its data.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, rmSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";

import {
  ACCESS_TTL_S,
  ADMIN,
  BASE_URL_ENV,
  CHROMIUM_PATH,
  api,
  frontendDir,
  repoRoot,
  shotsDir,
} from "./seed";

function freePort(): Promise<number> {
  return new Promise((resolvePort, reject) => {
    const server = createServer();
    server.unref();
    server.on("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const address = server.address();
      const port = typeof address === "object" && address ? address.port : 0;
      server.close(() => {
        resolvePort(port);
      });
    });
  });
}

function stopServer(child: ChildProcess): Promise<void> {
  const pid = child.pid;
  if (child.exitCode !== null || pid === undefined) return Promise.resolve();
  return new Promise((done) => {
    const timer = setTimeout(() => {
      try {
        process.kill(-pid, "SIGKILL");
      } catch {
        /* already gone */
      }
      done();
    }, 5000);
    child.once("exit", () => {
      clearTimeout(timer);
      done();
    });
    try {
      // Its own process group: `uv run` starts Python as a child, and both must go.
      process.kill(-pid, "SIGTERM");
    } catch {
      clearTimeout(timer);
      done();
    }
  });
}

async function waitForHealth(base: string, child: ChildProcess, output: string[]): Promise<void> {
  const deadline = Date.now() + 90_000;
  while (Date.now() < deadline) {
    if (child.exitCode !== null || child.pid === undefined) {
      throw new Error(`nimbus serve exited with ${String(child.exitCode)}:\n${output.join("")}`);
    }
    try {
      if ((await fetch(`${base}/healthz`)).ok) return;
    } catch {
      /* not listening yet */
    }
    await new Promise((r) => setTimeout(r, 250));
  }
  throw new Error(`nimbus serve did not become healthy in 90 s:\n${output.join("")}`);
}

export default async function globalSetup(): Promise<() => Promise<void>> {
  if (!existsSync(join(frontendDir, "dist", "index.html"))) {
    throw new Error("frontend/dist is missing: run `npm run build` before `npm run e2e`");
  }
  if (!existsSync(CHROMIUM_PATH)) {
    throw new Error(`no Chromium at ${CHROMIUM_PATH}: apt-get install -y chromium (or set CHROMIUM_PATH)`);
  }
  mkdirSync(shotsDir, { recursive: true });

  const port = await freePort();
  const base = `http://127.0.0.1:${String(port)}`;
  const dataDir = mkdtempSync(join(tmpdir(), "nimbus-e2e-"));
  console.log(`[e2e] starting nimbus on ${base} (data in ${dataDir})`);
  const child = spawn("uv", ["run", "nimbus", "serve", "--host", "127.0.0.1", "--port", String(port)], {
    cwd: repoRoot,
    env: {
      ...process.env,
      UV_PYTHON_DOWNLOADS: "never",
      NIMBUS_DATA_DIR: dataDir,
      NIMBUS_ACCESS_TOKEN_TTL_S: String(ACCESS_TTL_S),
    },
    detached: true,
    stdio: ["ignore", "pipe", "pipe"],
  });
  const output: string[] = [];
  const keep = (chunk: Buffer) => {
    output.push(chunk.toString());
    if (output.length > 200) output.shift();
  };
  child.stdout.on("data", keep);
  child.stderr.on("data", keep);
  child.on("error", (error) => output.push(`could not start \`uv run nimbus serve\`: ${error.message}\n`));
  const teardown = async () => {
    await stopServer(child);
    rmSync(dataDir, { recursive: true, force: true });
  };

  try {
    await waitForHealth(base, child, output);
    process.env[BASE_URL_ENV] = base;
    const admin = (await api("POST", "/auth/register", { json: ADMIN })) as { role: string };
    if (admin.role !== "admin") throw new Error(`the first user should be admin, got ${admin.role}`);
    const { access_token } = (await api("POST", "/auth/token", {
      form: { username: ADMIN.email, password: ADMIN.password },
    })) as { access_token: string };
    const runtimes = (await api("GET", "/runtimes", { token: access_token })) as {
      items: { available: boolean; backend?: string; detail?: string }[];
    };
    const python = runtimes.items[0];
    if (!python?.available) {
      throw new Error(
        `the server has no sandbox to run jobs (${python?.detail ?? "no runtime"}): ` +
          "install bubblewrap (apt-get install -y bubblewrap) or start a Docker engine",
      );
    }
    console.log(`[e2e] jobs run on ${python.backend ?? "?"}`);
  } catch (error) {
    await teardown();
    throw error;
  }
  return teardown;
}
