// The student's own progress, live on every open device: progress's SSE stream, followed for
// as long as someone is signed in; each message refreshes the progress the pages show.
import { useQueryClient } from "@tanstack/react-query";
import { useEffect, useState } from "react";
import { API_BASE } from "./base";
import { follow } from "./stream";

export function useLiveProgress(enabled: boolean): boolean {
  const queryClient = useQueryClient();
  const [connected, setConnected] = useState(false);
  useEffect(() => {
    if (!enabled) return;
    const stop = new AbortController();
    void follow(
      `${API_BASE}/progress/v1/stream`,
      () => void queryClient.invalidateQueries({ queryKey: ["progress"] }),
      stop.signal,
      setConnected,
    );
    return () => stop.abort();
  }, [enabled, queryClient]);
  return connected;
}
