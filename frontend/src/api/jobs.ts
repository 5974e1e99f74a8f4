/** Server state for the code runner: runtimes, jobs, and a job's live output over SSE. */
import { useInfiniteQuery, useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import { useEffect, useReducer } from "react";

import { ApiError, unwrap, type Job, type JobStatus, type Schemas } from "./client";
import { useApi } from "./context";
import { readEventStream, type SseEvent } from "./sse";

export const jobKeys = {
  all: ["jobs"] as const,
  list: (pageSize: number) => ["jobs", "list", pageSize] as const,
  detail: (id: string) => ["jobs", "detail", id] as const,
  runtimes: ["runtimes"] as const,
  storage: ["jobs", "storage"] as const,
};

export const FINAL_STATUSES: readonly JobStatus[] = [
  "succeeded",
  "failed",
  "timed_out",
  "memory_exceeded",
  "output_exceeded",
  "cancelled",
  "error",
];

export function isFinal(status: JobStatus | null | undefined): boolean {
  return status ? FINAL_STATUSES.includes(status) : false;
}

export function useRuntimes() {
  const api = useApi();
  return useQuery({
    queryKey: jobKeys.runtimes,
    queryFn: async () => (await unwrap(api.client.GET("/api/v1/runtimes"))).items,
    staleTime: 60_000,
  });
}

/** What the jobs store and the retention that bounds it (admins only). */
export function useJobStorage({ enabled = true }: { enabled?: boolean } = {}) {
  const api = useApi();
  return useQuery({
    queryKey: jobKeys.storage,
    queryFn: () => unwrap(api.client.GET("/api/v1/jobs/storage")),
    enabled,
    staleTime: 60_000,
  });
}

export function useJobs(pageSize = 20) {
  const api = useApi();
  return useInfiniteQuery({
    queryKey: jobKeys.list(pageSize),
    queryFn: ({ pageParam }) =>
      unwrap(
        api.client.GET("/api/v1/jobs", {
          params: { query: { limit: pageSize, sort: "-created_at", cursor: pageParam } },
        }),
      ),
    initialPageParam: undefined as string | undefined,
    getNextPageParam: (last) => last.next_cursor ?? undefined,
  });
}

export function useJob(id: string, { enabled = true }: { enabled?: boolean } = {}) {
  const api = useApi();
  return useQuery({
    queryKey: jobKeys.detail(id),
    queryFn: () => unwrap(api.client.GET("/api/v1/jobs/{job_id}", { params: { path: { job_id: id } } })),
    enabled,
  });
}

export function useCreateJob() {
  const api = useApi();
  const queryClient = useQueryClient();
  return useMutation({
    mutationFn: (body: Schemas["JobCreate"]) =>
      unwrap(
        api.client.POST("/api/v1/jobs", {
          // One key per click: a retried request cannot start the script twice.
          params: { header: { "idempotency-key": crypto.randomUUID() } },
          body,
        }),
      ),
    // The answer is not the job page's detail (it lacks the input): that one is read anew.
    onSuccess: () => queryClient.invalidateQueries({ queryKey: ["jobs", "list"] }),
  });
}

export function useCancelJob() {
  const api = useApi();
  return useMutation({
    mutationFn: (id: string) =>
      unwrap(api.client.POST("/api/v1/jobs/{job_id}/cancel", { params: { path: { job_id: id } } })),
  });
}

// --- live output ----------------------------------------------------------------------------

/** A job with what it ran (`GET /jobs/{id}` only; lists leave the input out). */
export type JobDetail = Schemas["JobDetail"];

/** The request that runs ``job`` again: the same code, files, stdin, args, runtime and limits. */
export function rerunRequest(job: JobDetail): Schemas["JobCreate"] | null {
  const common = {
    runtime: job.runtime as Schemas["JobCreate"]["runtime"],
    entrypoint: job.entrypoint,
    stdin: job.stdin,
    args: job.args,
    limits: {
      wall_time_s: job.limits.wall_time_s,
      memory_mb: job.limits.memory_mb,
      output_bytes: job.limits.output_bytes,
    },
  };
  if (typeof job.source === "string") return { ...common, source: job.source };
  if (job.input_files?.length) {
    const files = job.input_files.map(({ path, content, encoding }) => ({ path, content, encoding }));
    return { ...common, files };
  }
  return null; // purged: nothing left to run
}

/** What the final `exit` event carries: the job without its output. */
export type JobSummary = Omit<Job, "stdout" | "stderr">;

export interface OutputChunk {
  stream: "stdout" | "stderr";
  text: string;
}

export interface JobStream {
  status: JobStatus | null;
  /** Output in arrival order; neighbouring pieces of the same stream are merged. */
  chunks: OutputChunk[];
  /** Set by the `exit` event; the stream is over. */
  result: JobSummary | null;
  error: unknown;
}

type Action =
  | { type: "status"; jobId: string; status: JobStatus }
  | { type: "output"; jobId: string; chunk: OutputChunk }
  | { type: "exit"; jobId: string; result: JobSummary }
  | { type: "error"; jobId: string; error: unknown };

interface State extends JobStream {
  jobId: string | null;
}

const EMPTY: JobStream = { status: null, chunks: [], result: null, error: null };

export function appendChunk(chunks: OutputChunk[], chunk: OutputChunk): OutputChunk[] {
  const last = chunks.at(-1);
  if (last?.stream === chunk.stream) {
    return [...chunks.slice(0, -1), { stream: chunk.stream, text: last.text + chunk.text }];
  }
  return [...chunks, chunk];
}

function reduce(state: State, action: Action): State {
  const base: State = state.jobId === action.jobId ? state : { ...EMPTY, jobId: action.jobId };
  switch (action.type) {
    case "status":
      return { ...base, status: action.status };
    case "output":
      return { ...base, chunks: appendChunk(base.chunks, action.chunk) };
    case "exit":
      return { ...base, result: action.result, status: action.result.status };
    case "error":
      return { ...base, error: action.error };
  }
}

function parseJson(data: string): unknown {
  try {
    return JSON.parse(data) as unknown;
  } catch {
    return null;
  }
}

/** Turns one SSE event of a job's stream into a reducer action (or nothing for unknown ones). */
export function jobEventAction(jobId: string, event: SseEvent): Action | null {
  const payload = parseJson(event.data);
  if (typeof payload !== "object" || payload === null) return null;
  const record = payload as Record<string, unknown>;
  switch (event.event) {
    case "status":
      return typeof record.status === "string"
        ? { type: "status", jobId, status: record.status as JobStatus }
        : null;
    case "stdout":
    case "stderr":
      return typeof record.data === "string"
        ? { type: "output", jobId, chunk: { stream: event.event, text: record.data } }
        : null;
    case "exit":
      return typeof record.status === "string"
        ? { type: "exit", jobId, result: payload as JobSummary }
        : null;
    default:
      return null;
  }
}

const MAX_RECONNECTS = 5;

function pause(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const timer = window.setTimeout(resolve, ms);
    signal.addEventListener("abort", () => {
      window.clearTimeout(timer);
      resolve();
    });
  });
}

/**
 * Follows a job's events from the start: replay, then live output until `exit`. A dropped
 * connection resumes after the last event seen (`Last-Event-ID`), so nothing shows twice.
 */
export function useJobStream(jobId: string | null): JobStream {
  const api = useApi();
  const queryClient = useQueryClient();
  const [state, dispatch] = useReducer(reduce, { ...EMPTY, jobId: null });

  useEffect(() => {
    if (!jobId) return;
    const controller = new AbortController();
    const { signal } = controller;
    let lastEventId: string | null = null;
    // Read through a function: the flag changes while this code awaits.
    const stopped = () => signal.aborted;

    async function follow(id: string) {
      let failures = 0;
      while (!stopped()) {
        let retryMs = 1000;
        try {
          const response = await api.stream(`/api/v1/jobs/${encodeURIComponent(id)}/events`, {
            lastEventId,
            signal,
          });
          const seen = { exit: false };
          const parser = await readEventStream(response, (event) => {
            if (stopped()) return;
            lastEventId = event.id ?? lastEventId;
            failures = 0;
            const action = jobEventAction(id, event);
            if (!action) return;
            dispatch(action);
            if (action.type === "exit") seen.exit = true;
          });
          if (seen.exit) {
            void queryClient.invalidateQueries({ queryKey: jobKeys.all });
            return;
          }
          retryMs = parser.retryMs ?? retryMs;
          // A stream that keeps ending without telling anything new is not worth following.
          failures += 1;
          if (failures > MAX_RECONNECTS) {
            dispatch({
              type: "error",
              jobId: id,
              error: new Error("The job's output stream keeps closing."),
            });
            return;
          }
        } catch (error) {
          if (stopped()) return;
          const permanent = error instanceof ApiError && error.status >= 400 && error.status < 500;
          failures += 1;
          if (permanent || failures > MAX_RECONNECTS) {
            dispatch({ type: "error", jobId: id, error });
            return;
          }
        }
        await pause(retryMs, signal);
      }
    }

    void follow(jobId);
    return () => controller.abort();
  }, [api, queryClient, jobId]);

  return state.jobId === jobId ? state : EMPTY;
}
