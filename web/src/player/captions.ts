// A caption track needs a URL the <track> element can load by itself, and it cannot send the
// Authorization header: the WebVTT is fetched with the session's token and handed over as a
// blob: URL, released when the player closes.
import { useEffect, useState } from "react";
import { API_BASE } from "../api/base";
import { authorizedFetch } from "../api/client";

export function useCaptionTrack(
  captions: { language: string; path: string }[],
  preferred?: string,
): string | null {
  const [url, setUrl] = useState<string | null>(null);
  const chosen = captions.find((c) => c.language === preferred) ?? captions[0];
  const path = chosen?.path;
  useEffect(() => {
    if (!path) return;
    let objectUrl: string | null = null;
    let cancelled = false;
    authorizedFetch(new Request(`${API_BASE}/content${path}`))
      .then((response) => (response.ok ? response.blob() : null))
      .then((blob) => {
        if (!blob || cancelled) return;
        objectUrl = URL.createObjectURL(new Blob([blob], { type: "text/vtt" }));
        setUrl(objectUrl);
      })
      .catch(() => undefined);
    return () => {
      cancelled = true;
      if (objectUrl) URL.revokeObjectURL(objectUrl);
    };
  }, [path]);
  return url;
}
