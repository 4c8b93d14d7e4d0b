// Server-Sent Events over fetch: the progress stream needs an Authorization header, which the
// browser's EventSource cannot send. Reading the body as a stream keeps the token out of URLs
// (and so out of logs and history) and needs no ticket endpoint; it reconnects with backoff.
import { authorizedFetch } from "./client";

export interface ServerEvent {
  event: string;
  data: string;
  id?: string;
}

/** Splits text/event-stream chunks into events; keeps a partial event for the next chunk. */
export class EventStreamParser {
  private buffer = "";

  push(chunk: string): ServerEvent[] {
    this.buffer += chunk.replace(/\r\n?/g, "\n");
    const events: ServerEvent[] = [];
    let end: number;
    while ((end = this.buffer.indexOf("\n\n")) >= 0) {
      const block = this.buffer.slice(0, end);
      this.buffer = this.buffer.slice(end + 2);
      let event = "message";
      const data: string[] = [];
      let id: string | undefined;
      for (const line of block.split("\n")) {
        if (!line || line.startsWith(":")) continue; // a comment: the server's keep-alive
        const colon = line.indexOf(":");
        const field = colon < 0 ? line : line.slice(0, colon);
        const value = colon < 0 ? "" : line.slice(colon + 1).replace(/^ /, "");
        if (field === "event") event = value;
        else if (field === "data") data.push(value);
        else if (field === "id") id = value;
      }
      if (data.length) events.push({ event, data: data.join("\n"), id });
    }
    return events;
  }
}

/** Follows `url` until `signal` aborts, calling `onEvent` for each event. */
export async function follow(
  url: string,
  onEvent: (event: ServerEvent) => void,
  signal: AbortSignal,
  onState: (connected: boolean) => void = () => undefined,
): Promise<void> {
  let failures = 0;
  while (!signal.aborted) {
    try {
      const response = await authorizedFetch(new Request(url, { headers: { Accept: "text/event-stream" }, signal }));
      if (!response.ok || !response.body) throw new Error(`stream answered ${response.status}`);
      onState(true);
      failures = 0;
      const reader = response.body.pipeThrough(new TextDecoderStream()).getReader();
      const parser = new EventStreamParser();
      for (;;) {
        const { value, done } = await reader.read();
        if (done) break;
        for (const event of parser.push(value)) onEvent(event);
      }
    } catch {
      if (signal.aborted) return;
      failures += 1;
    }
    onState(false);
    const wait = Math.min(30_000, 1000 * 2 ** Math.min(failures, 5));
    await new Promise((resolve) => setTimeout(resolve, wait));
  }
}
