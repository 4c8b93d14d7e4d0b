// The app's one telemetry queue, sending to POST /api/analytics/v1/events with the session's
// token; flushed when the page is hidden (a keepalive fetch outlives the page) and when the
// browser comes back online.
import { API_BASE } from "../api/base";
import { session } from "../auth/session";
import { TelemetryQueue, type QueuedEvent, type SendOutcome, type TelemetryEvent } from "./queue";

const STORE_KEY = "cuepoint.telemetry";

async function send(events: QueuedEvent[], { keepalive }: { keepalive: boolean }): Promise<SendOutcome> {
  if (typeof navigator !== "undefined" && navigator.onLine === false) return "retry";
  const token = await session.accessToken();
  if (!token) return "retry"; // signed out for now: keep them for the next session of this browser
  const response = await fetch(`${API_BASE}/analytics/v1/events`, {
    method: "POST",
    keepalive,
    headers: { "Content-Type": "application/json", Authorization: `Bearer ${token}` },
    body: JSON.stringify({ device_id: session.deviceId, events }),
  });
  if (response.ok) return "sent"; // events refused one by one are in the answer; resending cannot fix them
  if (response.status === 401 || response.status === 429 || response.status >= 500) return "retry";
  return "rejected";
}

export const telemetry = new TelemetryQueue(
  { send },
  {
    load: () => {
      try {
        return JSON.parse(localStorage.getItem(STORE_KEY) ?? "[]") as QueuedEvent[];
      } catch {
        return [];
      }
    },
    save: (events) => {
      try {
        localStorage.setItem(STORE_KEY, JSON.stringify(events));
      } catch {
        // storage full or disabled: the events stay in memory
      }
    },
  },
);

export function track(event: TelemetryEvent): void {
  if (!session.snapshot()) return; // the ingest takes events of signed-in people only
  telemetry.record(event);
}

if (typeof window !== "undefined") {
  // How long the page took to become usable, once per page load (the seed's performance metrics).
  window.addEventListener("load", () =>
    setTimeout(() => {
      const [navigation] = performance.getEntriesByType("navigation") as PerformanceNavigationTiming[];
      if (navigation) track({ type: "performance", name: "page.load_ms", value: Math.round(navigation.loadEventEnd || navigation.duration) });
    }, 0),
  );
  document.addEventListener("visibilitychange", () => {
    if (document.visibilityState === "hidden") void telemetry.flush({ keepalive: true });
  });
  window.addEventListener("pagehide", () => void telemetry.flush({ keepalive: true }));
  window.addEventListener("online", () => void telemetry.flush());
  window.addEventListener("error", (event) =>
    track({ type: "error", message: String(event.message).slice(0, 2000), source: event.filename?.slice(0, 500) }),
  );
  window.addEventListener("unhandledrejection", (event) =>
    track({ type: "error", message: String(event.reason).slice(0, 2000), source: "unhandledrejection" }),
  );
}
