import { useSyncExternalStore } from "react";
import { decodeClaims, session, type Claims } from "./session";

/** The signed-in person's claims (id, tenant, role), re-rendering when they sign in or out. */
export function useClaims(): Claims | null {
  const tokens = useSyncExternalStore(session.subscribe, session.snapshot, () => null);
  return tokens ? decodeClaims(tokens.access_token) : null;
}
