/**
 * Server-Sent Events read over fetch: EventSource cannot send an Authorization header, so the
 * job streams are fetched like any other call and their bodies parsed here, following the
 * WHATWG "event stream interpretation" rules (any line ending, comments, multi-line data).
 */

export interface SseEvent {
  /** The last `id:` seen so far in the stream (ids persist across events, as in EventSource). */
  id: string | null;
  event: string;
  data: string;
}

/** Incremental parser: feed it decoded text in whatever pieces the network delivers. */
export class SseParser {
  private buffer = "";
  private pendingCarriageReturn = false;
  private data: string[] = [];
  private eventType = "";
  private lastId: string | null = null;
  /** Reconnection delay the server asked for with `retry:`, in ms. */
  retryMs: number | null = null;

  constructor(private readonly onEvent: (event: SseEvent) => void) {}

  get lastEventId(): string | null {
    return this.lastId;
  }

  feed(chunk: string): void {
    let text = chunk;
    // A CRLF split across two chunks: the CR already ended the line.
    if (this.pendingCarriageReturn && text.startsWith("\n")) text = text.slice(1);
    this.pendingCarriageReturn = false;
    this.buffer += text;
    const lineEnd = /\r\n|\r|\n/g;
    let start = 0;
    let match: RegExpExecArray | null;
    while ((match = lineEnd.exec(this.buffer)) !== null) {
      this.line(this.buffer.slice(start, match.index));
      start = lineEnd.lastIndex;
      if (match[0] === "\r" && start === this.buffer.length) this.pendingCarriageReturn = true;
    }
    this.buffer = this.buffer.slice(start);
  }

  private line(line: string): void {
    if (line === "") {
      this.dispatch();
      return;
    }
    if (line.startsWith(":")) return; // a comment (keep-alive)
    const colon = line.indexOf(":");
    const field = colon === -1 ? line : line.slice(0, colon);
    let value = colon === -1 ? "" : line.slice(colon + 1);
    if (value.startsWith(" ")) value = value.slice(1);
    switch (field) {
      case "event":
        this.eventType = value;
        break;
      case "data":
        this.data.push(value);
        break;
      case "id":
        if (!value.includes("\0")) this.lastId = value;
        break;
      case "retry":
        if (/^\d+$/.test(value)) this.retryMs = Number(value);
        break;
      default:
      // Unknown fields are ignored, as the standard says.
    }
  }

  private dispatch(): void {
    const type = this.eventType || "message";
    this.eventType = "";
    if (this.data.length === 0) return;
    const data = this.data.join("\n");
    this.data = [];
    this.onEvent({ id: this.lastId, event: type, data });
  }
}

/**
 * Reads an event-stream response to its end, calling `onEvent` for each event. Resolves with the
 * parser (its `lastEventId` resumes the stream); an incomplete trailing event is dropped.
 */
export async function readEventStream(
  response: Response,
  onEvent: (event: SseEvent) => void,
): Promise<SseParser> {
  const parser = new SseParser(onEvent);
  if (!response.body) return parser;
  const reader = response.body.getReader();
  const decoder = new TextDecoder();
  try {
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      parser.feed(decoder.decode(value, { stream: true }));
    }
    parser.feed(decoder.decode());
  } finally {
    reader.releaseLock();
  }
  return parser;
}
