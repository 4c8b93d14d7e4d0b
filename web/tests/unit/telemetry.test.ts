import { describe, expect, it } from "vitest";
import { TelemetryQueue, type QueuedEvent, type SendOutcome } from "../../src/telemetry/queue";

function setup(outcomes: SendOutcome[], stored: QueuedEvent[] = []) {
  const sent: { events: QueuedEvent[]; keepalive: boolean }[] = [];
  const timers: { callback: () => void; ms: number }[] = [];
  let saved: QueuedEvent[] = stored;
  let n = 0;
  const queue = new TelemetryQueue(
    {
      send: async (events, { keepalive }) => {
        sent.push({ events, keepalive });
        return outcomes.shift() ?? "sent";
      },
    },
    { load: () => stored, save: (events) => (saved = [...events]) },
    {
      maxBatch: 3,
      newId: () => `e${++n}`,
      now: () => new Date("2026-12-02T10:00:00Z"),
      schedule: (callback, ms) => timers.push({ callback, ms }),
      cancel: () => undefined,
    },
  );
  return { queue, sent, timers, saved: () => saved };
}

describe("the telemetry queue", () => {
  it("gives every event an id and a time, and sends full batches at once", async () => {
    const { queue, sent } = setup([]);
    for (let i = 0; i < 3; i++) queue.record({ type: "navigation", path: `/p${i}` });
    await Promise.resolve();
    await Promise.resolve();
    expect(sent).toHaveLength(1);
    expect(sent[0]!.events.map((e) => e.id)).toEqual(["e1", "e2", "e3"]);
    expect(sent[0]!.events[0]!.occurred_at).toBe("2026-12-02T10:00:00.000Z");
  });

  it("keeps events while offline, backs off, and sends them all once back, each once", async () => {
    const { queue, sent, timers, saved } = setup(["retry", "retry"]);
    queue.record({ type: "video.play", position: 0 });
    queue.record({ type: "video.pause", position: 4 });
    await queue.flush(); // offline
    expect(queue.pending).toBe(2);
    expect(saved()).toHaveLength(2); // survives a reload
    expect(timers.at(-1)!.ms).toBe(1000);
    await queue.flush(); // still offline
    expect(timers.at(-1)!.ms).toBe(2000);
    queue.record({ type: "video.play", position: 4 });
    await queue.flush(); // back online
    expect(queue.pending).toBe(0);
    expect(saved()).toEqual([]);
    const delivered = sent.filter((_, i) => i >= 2).flatMap((s) => s.events.map((e) => e.id));
    expect(delivered).toEqual(["e1", "e2", "e3"]);
    // the retried batch is the same events with the same ids: the ingest can tell a retry
    expect(sent[2]!.events.slice(0, 2).map((e) => e.id)).toEqual(sent[0]!.events.map((e) => e.id));
  });

  it("caps backoff at a minute", () => {
    const { queue } = setup([]);
    expect(queue.backoff(1)).toBe(1000);
    expect(queue.backoff(4)).toBe(8000);
    expect(queue.backoff(20)).toBe(60000);
  });

  it("drops a batch the ingest refused for good instead of resending it forever", async () => {
    const { queue, sent } = setup(["rejected"]);
    queue.record({ type: "bogus" });
    await queue.flush();
    expect(queue.pending).toBe(0);
    expect(sent).toHaveLength(1);
  });

  it("on page hide sends one small keepalive request", async () => {
    const { queue, sent } = setup([]);
    queue.record({ type: "video.pause", position: 1 });
    queue.record({ type: "video.heartbeat", position: 1, played: [] });
    await queue.flush({ keepalive: true });
    expect(sent).toHaveLength(1);
    expect(sent[0]!.keepalive).toBe(true);
    expect(queue.pending).toBe(0);
  });

  it("loads what an earlier page left and sends it", async () => {
    const left: QueuedEvent[] = [{ type: "navigation", path: "/", id: "old", occurred_at: "2026-12-01T00:00:00Z" }];
    const { queue, sent, timers } = setup([], left);
    expect(queue.pending).toBe(1);
    expect(timers).toHaveLength(1);
    timers[0]!.callback();
    await Promise.resolve();
    await Promise.resolve();
    expect(sent[0]!.events[0]!.id).toBe("old");
  });
});
