import { describe, expect, it } from "vitest";

import { readEventStream, SseParser, type SseEvent } from "./sse";

function parseAll(chunks: string[]): { events: SseEvent[]; parser: SseParser } {
  const events: SseEvent[] = [];
  const parser = new SseParser((event) => events.push(event));
  for (const chunk of chunks) parser.feed(chunk);
  return { events, parser };
}

const STREAM =
  "retry: 2000\n\n" +
  'id: 1\nevent: status\ndata: {"status": "running"}\n\n' +
  ": keep-alive\n\n" +
  'id: 2\nevent: stdout\ndata: {"data": "first\\n"}\n\n' +
  "id: 3\nevent: stderr\ndata: line one\ndata: line two\n\n" +
  'id: 4\nevent: exit\ndata: {"status": "succeeded"}\n\n';

describe("SseParser", () => {
  it("reads events, ids, multi-line data and the retry delay, skipping comments", () => {
    const { events, parser } = parseAll([STREAM]);
    expect(events).toEqual([
      { id: "1", event: "status", data: '{"status": "running"}' },
      { id: "2", event: "stdout", data: '{"data": "first\\n"}' },
      { id: "3", event: "stderr", data: "line one\nline two" },
      { id: "4", event: "exit", data: '{"status": "succeeded"}' },
    ]);
    expect(parser.retryMs).toBe(2000);
    expect(parser.lastEventId).toBe("4");
  });

  it("gives the same events whatever the network's chunk boundaries are", () => {
    const whole = parseAll([STREAM]).events;
    expect(parseAll(Array.from({ length: STREAM.length }, (_, i) => STREAM.charAt(i))).events).toEqual(whole);
    for (const size of [2, 3, 7, 13]) {
      const chunks: string[] = [];
      for (let i = 0; i < STREAM.length; i += size) chunks.push(STREAM.slice(i, i + size));
      expect(parseAll(chunks).events).toEqual(whole);
    }
  });

  it("accepts CRLF and CR line endings, even a CRLF split across two chunks", () => {
    const { events } = parseAll(["event: stdout\r", "\ndata: a\r\r", "data: b\r\n\r\n"]);
    expect(events).toEqual([
      { id: null, event: "stdout", data: "a" },
      { id: null, event: "message", data: "b" },
    ]);
  });

  it("does not dispatch an event without data, nor one cut off by the end of the stream", () => {
    const { events } = parseAll(["event: status\n\n", "data: complete\n\n", "data: cut off"]);
    expect(events).toEqual([{ id: null, event: "message", data: "complete" }]);
  });

  it("strips one space after the colon and keeps the rest", () => {
    const { events } = parseAll(["data:no space\n\n", "data:  two spaces\n\n", "data\n\n"]);
    expect(events.map((e) => e.data)).toEqual(["no space", " two spaces", ""]);
  });
});

describe("readEventStream", () => {
  it("decodes UTF-8 split inside a character across network chunks", async () => {
    const bytes = new TextEncoder().encode('id: 7\nevent: stdout\ndata: {"data": "héllo → 世界"}\n\n');
    const body = new ReadableStream<Uint8Array>({
      start(controller) {
        // Split in the middle of the 3-byte "→".
        const cut = bytes.indexOf(0xe2) + 1;
        controller.enqueue(bytes.slice(0, cut));
        controller.enqueue(bytes.slice(cut));
        controller.close();
      },
    });
    const events: SseEvent[] = [];
    const parser = await readEventStream(new Response(body), (e) => events.push(e));
    expect(events).toEqual([{ id: "7", event: "stdout", data: '{"data": "héllo → 世界"}' }]);
    expect(parser.lastEventId).toBe("7");
  });
});
