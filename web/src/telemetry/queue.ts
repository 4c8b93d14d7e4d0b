// Client telemetry as the analytics ingest expects it: events batched (≤ 500 a request), each
// with an id the ingest uses to tell a retry from a new event, kept in local storage while the
// network is down and sent again with exponential backoff, and flushed when the page is hidden.
// Pure of the browser where it can be: sending, storage and time are handed in, so the rules
// are unit-tested without a network.

export type TelemetryEvent = { type: string } & Record<string, unknown>;

export interface QueuedEvent extends TelemetryEvent {
  id: string;
  occurred_at: string;
}

/** What a send came to: accepted (drop them), refused for good (drop them too), or try later. */
export type SendOutcome = "sent" | "rejected" | "retry";

export interface TelemetryTransport {
  send(events: QueuedEvent[], options: { keepalive: boolean }): Promise<SendOutcome>;
}

export interface TelemetryStore {
  load(): QueuedEvent[];
  save(events: QueuedEvent[]): void;
}

export interface QueueOptions {
  maxBatch?: number; // events per request (the ingest takes 500)
  maxQueued?: number; // beyond this the oldest events are dropped: a week offline must not fill the disk
  flushEvery?: number; // ms between scheduled flushes
  minBackoff?: number;
  maxBackoff?: number;
  now?: () => Date;
  newId?: () => string;
  schedule?: (callback: () => void, ms: number) => unknown;
  cancel?: (handle: unknown) => void;
}

// keepalive requests may carry at most 64 KiB in all; stay well under it on page hide.
const KEEPALIVE_BATCH = 100;

export class TelemetryQueue {
  private events: QueuedEvent[];
  private sending = false;
  private failures = 0;
  private timer: unknown = null;
  private readonly o: Required<QueueOptions>;

  constructor(
    private readonly transport: TelemetryTransport,
    private readonly store: TelemetryStore,
    options: QueueOptions = {},
  ) {
    this.o = {
      maxBatch: 500,
      maxQueued: 5000,
      flushEvery: 5000,
      minBackoff: 1000,
      maxBackoff: 60_000,
      now: () => new Date(),
      newId: () => crypto.randomUUID(),
      schedule: (callback, ms) => setTimeout(callback, ms),
      cancel: (handle) => clearTimeout(handle as ReturnType<typeof setTimeout>),
      ...options,
    };
    this.events = store.load();
    if (this.events.length) this.later(this.o.flushEvery);
  }

  get pending(): number {
    return this.events.length;
  }

  /** The delay before the next try after `failures` failed sends in a row. */
  backoff(failures = this.failures): number {
    if (failures === 0) return this.o.flushEvery;
    return Math.min(this.o.maxBackoff, this.o.minBackoff * 2 ** (failures - 1));
  }

  record(event: TelemetryEvent): void {
    this.events.push({ ...event, id: this.o.newId(), occurred_at: this.o.now().toISOString() });
    if (this.events.length > this.o.maxQueued) this.events.splice(0, this.events.length - this.o.maxQueued);
    this.store.save(this.events);
    if (this.events.length >= this.o.maxBatch) void this.flush();
    else this.later(this.o.flushEvery);
  }

  /** Sends what is queued, batch after batch, until it is empty or a send fails. */
  async flush(options: { keepalive?: boolean } = {}): Promise<void> {
    if (this.sending || this.events.length === 0) return;
    this.sending = true;
    this.clearTimer();
    const keepalive = options.keepalive ?? false;
    try {
      while (this.events.length) {
        const batch = this.events.slice(0, keepalive ? KEEPALIVE_BATCH : this.o.maxBatch);
        let outcome: SendOutcome;
        try {
          outcome = await this.transport.send(batch, { keepalive });
        } catch {
          outcome = "retry";
        }
        if (outcome === "retry") {
          this.failures += 1;
          break;
        }
        this.failures = 0;
        const sent = new Set(batch.map((event) => event.id));
        this.events = this.events.filter((event) => !sent.has(event.id));
        this.store.save(this.events);
        if (keepalive) break; // one request is all a closing page can count on
      }
    } finally {
      this.sending = false;
    }
    if (this.events.length) this.later(this.backoff());
  }

  private later(ms: number): void {
    if (this.timer !== null) return;
    this.timer = this.o.schedule(() => {
      this.timer = null;
      void this.flush();
    }, ms);
  }

  private clearTimer(): void {
    if (this.timer !== null) this.o.cancel(this.timer);
    this.timer = null;
  }
}
