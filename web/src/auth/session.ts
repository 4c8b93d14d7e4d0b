// The signed-in session, kept in localStorage so that a reload or a second tab stays signed in.
// Refresh tokens rotate and a reused one revokes the whole family, so two tabs must never
// refresh with the same token: refreshing happens under a Web Lock, and a tab that waited
// for the lock takes the tokens the other tab stored instead of refreshing again.
import { API_BASE } from "../api/base";
import { ApiError, type Problem } from "../api/problem";

export type Role = "STUDENT" | "TEACHER" | "ADMIN" | "PLATFORM_ADMIN";

export interface Tokens {
  tenant: string;
  access_token: string;
  refresh_token: string;
  session_id: string;
  expires_at: number; // ms since epoch, when the access token expires
}

export interface Claims {
  sub: string;
  tid: string;
  role: Role;
  exp: number;
}

const KEY = "cuepoint.session";
const TENANT_KEY = "cuepoint.tenant";
const DEVICE_KEY = "cuepoint.device";
const EARLY_MS = 30_000; // refresh this long before expiry, so no request is sent with a dying token

type Listener = () => void;

export function decodeClaims(token: string): Claims | null {
  try {
    const payload = token.split(".")[1];
    if (!payload) return null;
    const json = atob(payload.replace(/-/g, "+").replace(/_/g, "/").padEnd(Math.ceil(payload.length / 4) * 4, "="));
    const raw = JSON.parse(json) as Omit<Claims, "role"> & { role?: string; platform_admin?: boolean };
    // identity writes the role in lower case ("teacher"); a platform admin carries a flag of its own.
    const role = (raw.platform_admin ? "PLATFORM_ADMIN" : (raw.role ?? "student").toUpperCase()) as Role;
    return { ...raw, role };
  } catch {
    return null;
  }
}

function randomId(): string {
  return crypto.randomUUID();
}

class Session {
  private listeners = new Set<Listener>();
  private inflight: Promise<string | null> | null = null;
  /** Why the last session ended, shown on the sign-in page ("" when the person signed out). */
  endedBecause = "";

  constructor() {
    if (typeof window !== "undefined") {
      window.addEventListener("storage", (event) => {
        if (event.key === KEY) this.notify();
      });
    }
  }

  subscribe = (listener: Listener): (() => void) => {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  };

  private notify(): void {
    for (const listener of this.listeners) listener();
  }

  private cachedRaw: string | null = null;
  private cachedSnapshot: Tokens | null | undefined;

  /** The stored tokens, read from localStorage each time (another tab or this one may have
   * changed them) but the same object while they are unchanged, as useSyncExternalStore needs. */
  snapshot = (): Tokens | null => {
    const raw = localStorage.getItem(KEY);
    if (this.cachedSnapshot === undefined || raw !== this.cachedRaw) {
      this.cachedRaw = raw;
      try {
        this.cachedSnapshot = raw ? (JSON.parse(raw) as Tokens) : null;
      } catch {
        this.cachedSnapshot = null;
      }
    }
    return this.cachedSnapshot;
  };

  claims(): Claims | null {
    const tokens = this.snapshot();
    return tokens ? decodeClaims(tokens.access_token) : null;
  }

  get rememberedTenant(): string {
    return localStorage.getItem(TENANT_KEY) ?? "";
  }

  /** A stable id of this browser, so a person's devices and sessions are told apart. */
  get deviceId(): string {
    let id = localStorage.getItem(DEVICE_KEY);
    if (!id) {
      id = `web-${randomId()}`;
      localStorage.setItem(DEVICE_KEY, id);
    }
    return id;
  }

  private store(tokens: Tokens | null): void {
    if (tokens) localStorage.setItem(KEY, JSON.stringify(tokens));
    else localStorage.removeItem(KEY);
    this.notify();
  }

  private static fromAnswer(tenant: string, body: TokenAnswer): Tokens {
    return {
      tenant,
      access_token: body.access_token,
      refresh_token: body.refresh_token,
      session_id: body.session_id,
      expires_at: Date.now() + body.expires_in * 1000,
    };
  }

  async signIn(tenant: string, email: string, password: string): Promise<void> {
    const body = await post<TokenAnswer>("/identity/v1/auth/login", {
      tenant,
      email,
      password,
      device_id: this.deviceId,
    });
    localStorage.setItem(TENANT_KEY, tenant);
    this.endedBecause = "";
    this.store(Session.fromAnswer(tenant, body));
  }

  /** Ends the session here and on the server (best effort: a dead network still signs out locally). */
  async signOut(reason = ""): Promise<void> {
    const tokens = this.snapshot();
    this.endedBecause = reason;
    this.store(null);
    if (tokens && !reason) {
      await fetch(`${API_BASE}/identity/v1/auth/logout`, {
        method: "POST",
        headers: { Authorization: `Bearer ${tokens.access_token}` },
      }).catch(() => undefined);
    }
  }

  /** A valid access token, refreshed first when it is about to expire; null when signed out. */
  async accessToken(): Promise<string | null> {
    const tokens = this.snapshot();
    if (!tokens) return null;
    if (tokens.expires_at - Date.now() > EARLY_MS) return tokens.access_token;
    const renewed = await this.refresh(tokens.access_token);
    // Offline for a moment: the old token still works until it expires.
    if (!renewed && this.snapshot() && tokens.expires_at > Date.now()) return tokens.access_token;
    return renewed;
  }

  /** Exchanges the refresh token for new tokens, once for every caller holding `stale`. */
  refresh(stale: string): Promise<string | null> {
    if (!this.inflight) {
      const run = () => this.refreshNow(stale);
      const locked: Promise<string | null> =
        typeof navigator !== "undefined" && navigator.locks
          ? (navigator.locks.request("cuepoint.refresh", run) as unknown as Promise<string | null>)
          : run();
      this.inflight = locked.finally(() => {
        this.inflight = null;
      });
    }
    return this.inflight as Promise<string | null>;
  }

  private async refreshNow(stale: string): Promise<string | null> {
    const tokens = this.snapshot();
    if (!tokens) return null;
    if (tokens.access_token !== stale && tokens.expires_at - Date.now() > EARLY_MS) return tokens.access_token;
    try {
      const body = await post<TokenAnswer>("/identity/v1/auth/refresh", { refresh_token: tokens.refresh_token });
      this.store(Session.fromAnswer(tokens.tenant, body));
      return body.access_token;
    } catch (error) {
      if (error instanceof ApiError && error.status >= 400 && error.status < 500) {
        // Reused, revoked or expired: the session is over, cleanly.
        await this.signOut("Your session has ended. Please sign in again.");
      }
      return null;
    }
  }
}

interface TokenAnswer {
  access_token: string;
  refresh_token: string;
  expires_in: number;
  session_id: string;
}

async function post<T>(path: string, body: unknown): Promise<T> {
  let response: Response;
  try {
    response = await fetch(`${API_BASE}${path}`, {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify(body),
    });
  } catch {
    throw new ApiError(0, {});
  }
  const parsed = await response.json().catch(() => ({}));
  if (!response.ok) throw new ApiError(response.status, parsed as Problem);
  return parsed as T;
}

export const session = new Session();
