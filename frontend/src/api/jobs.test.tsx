import { act, render, screen } from "@testing-library/react";
import { QueryClient, QueryClientProvider } from "@tanstack/react-query";
import { describe, expect, it } from "vitest";

import { Api, memoryRefreshStore } from "./client";
import { ApiContext } from "./context";
import { appendChunk, useJobStream } from "./jobs";

const JOB = "6f1c2a4e-0000-4000-8000-000000000001";

/** A response body the test writes to while the component reads it. */
function controlledStream() {
  let controller!: ReadableStreamDefaultController<Uint8Array>;
  const body = new ReadableStream<Uint8Array>({
    start(c) {
      controller = c;
    },
  });
  const encoder = new TextEncoder();
  return {
    response: new Response(body, { headers: { "Content-Type": "text/event-stream" } }),
    send: (text: string) => controller.enqueue(encoder.encode(text)),
    close: () => controller.close(),
  };
}

function Output() {
  const stream = useJobStream(JOB);
  return (
    <div>
      <span data-testid="status">{stream.status ?? "none"}</span>
      <pre data-testid="out">{stream.chunks.map((c) => `[${c.stream}]${c.text}`).join("")}</pre>
      <span data-testid="exit">{stream.result ? `exit ${stream.result.exit_code}` : ""}</span>
    </div>
  );
}

function renderWith(handler: (request: Request) => Promise<Response> | Response) {
  const api = new Api({
    baseUrl: "http://nimbus.test",
    fetch: (request) => Promise.resolve(handler(request)),
    refreshStore: memoryRefreshStore(),
  });
  render(
    <ApiContext.Provider value={api}>
      <QueryClientProvider client={new QueryClient()}>
        <Output />
      </QueryClientProvider>
    </ApiContext.Provider>,
  );
}

describe("useJobStream", () => {
  it("shows output as it arrives, before the job has finished", async () => {
    const stream = controlledStream();
    const paths: string[] = [];
    renderWith((request) => {
      paths.push(new URL(request.url).pathname);
      return stream.response;
    });
    await act(async () => {
      stream.send('id: 1\nevent: status\ndata: {"status": "running"}\n\n');
      stream.send('id: 2\nevent: stdout\ndata: {"data": "first\\n"}\n\n');
      await Promise.resolve();
    });
    expect(await screen.findByText("[stdout]first")).toBeInTheDocument();
    expect(screen.getByTestId("status")).toHaveTextContent("running");
    expect(screen.getByTestId("exit")).toHaveTextContent("");

    await act(async () => {
      stream.send('id: 3\nevent: stdout\ndata: {"data": "second\\n"}\n\n');
      stream.send('id: 4\nevent: stderr\ndata: {"data": "oops\\n"}\n\n');
      stream.send('id: 5\nevent: exit\ndata: {"status": "failed", "exit_code": 1}\n\n');
      stream.close();
      await Promise.resolve();
    });
    expect(await screen.findByText("exit 1")).toBeInTheDocument();
    expect(screen.getByTestId("out").textContent).toBe("[stdout]first\nsecond\n[stderr]oops\n");
    expect(screen.getByTestId("status")).toHaveTextContent("failed");
    expect(paths).toEqual([`/api/v1/jobs/${JOB}/events`]);
  });

  it("resumes after the last event it saw when the connection drops", async () => {
    const seen: (string | null)[] = [];
    let call = 0;
    renderWith((request) => {
      seen.push(request.headers.get("Last-Event-ID"));
      call += 1;
      const body =
        call === 1
          ? 'retry: 10\n\nid: 1\nevent: stdout\ndata: {"data": "a"}\n\nid: 2\nevent: stdout\ndata: {"data": "b"}\n\n'
          : 'id: 3\nevent: stdout\ndata: {"data": "c"}\n\nid: 4\nevent: exit\ndata: {"status": "succeeded", "exit_code": 0}\n\n';
      return new Response(body, { headers: { "Content-Type": "text/event-stream" } });
    });
    expect(await screen.findByText("exit 0")).toBeInTheDocument();
    expect(screen.getByTestId("out").textContent).toBe("[stdout]abc");
    expect(seen).toEqual([null, "2"]);
  });
});

describe("appendChunk", () => {
  it("merges neighbouring output of the same stream and keeps the order of the streams", () => {
    let chunks = appendChunk([], { stream: "stdout", text: "a" });
    chunks = appendChunk(chunks, { stream: "stdout", text: "b" });
    chunks = appendChunk(chunks, { stream: "stderr", text: "c" });
    chunks = appendChunk(chunks, { stream: "stdout", text: "d" });
    expect(chunks).toEqual([
      { stream: "stdout", text: "ab" },
      { stream: "stderr", text: "c" },
      { stream: "stdout", text: "d" },
    ]);
  });
});
