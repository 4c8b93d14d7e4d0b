import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";

function jwt(claims: object): string {
  const encode = (part: object) => btoa(JSON.stringify(part)).replace(/=+$/, "").replace(/\+/g, "-").replace(/\//g, "_");
  return `${encode({ alg: "EdDSA" })}.${encode(claims)}.sig`;
}

const tokens = (n: number, expiresIn = 900) => ({
  access_token: jwt({ sub: "u1", tid: "t1", role: "student", exp: 0, n }),
  refresh_token: `refresh-${n}`,
  expires_in: expiresIn,
  session_id: "s1",
  token_type: "Bearer",
});

function respond(status: number, body: object): Response {
  return new Response(JSON.stringify(body), { status, headers: { "Content-Type": "application/json" } });
}

describe("the session", () => {
  beforeEach(() => {
    localStorage.clear();
    vi.resetModules();
  });
  afterEach(() => vi.unstubAllGlobals());

  it("reads identity's claims: the role in any case, the platform admin's flag", async () => {
    const { decodeClaims } = await import("../../src/auth/session");
    expect(decodeClaims(jwt({ sub: "u", tid: "t", role: "teacher", exp: 0 }))?.role).toBe("TEACHER");
    expect(decodeClaims(jwt({ sub: "u", tid: "t", role: "admin", platform_admin: true, exp: 0 }))?.role).toBe("PLATFORM_ADMIN");
    expect(decodeClaims("not a token")).toBeNull();
  });

  it("signs in, remembers the organisation, and sends the device id", async () => {
    const fetch = vi.fn(async () => respond(200, tokens(1)));
    vi.stubGlobal("fetch", fetch);
    const { session } = await import("../../src/auth/session");
    await session.signIn("demo", "s@example.com", "pw");
    expect(session.rememberedTenant).toBe("demo");
    expect(session.claims()?.role).toBe("STUDENT");
    const sent = JSON.parse((fetch.mock.calls[0] as unknown as [string, RequestInit])[1].body as string);
    expect(sent).toMatchObject({ tenant: "demo", email: "s@example.com", device_id: session.deviceId });
  });

  it("refreshes an expiring token once for every caller, with the rotated refresh token", async () => {
    const fetch = vi.fn(async (url: string, init: RequestInit) => {
      if (url.endsWith("/auth/login")) return respond(200, tokens(1, 10)); // expires in 10 s: refresh early
      const { refresh_token } = JSON.parse(init.body as string);
      expect(refresh_token).toBe("refresh-1");
      return respond(200, tokens(2));
    });
    vi.stubGlobal("fetch", fetch);
    const { session } = await import("../../src/auth/session");
    await session.signIn("demo", "s@example.com", "pw");
    const [a, b] = await Promise.all([session.accessToken(), session.accessToken()]);
    expect(a).toBe(tokens(2).access_token);
    expect(b).toBe(a);
    expect(fetch.mock.calls.filter(([url]) => String(url).endsWith("/auth/refresh"))).toHaveLength(1);
    expect(session.snapshot()?.refresh_token).toBe("refresh-2");
  });

  it("signs out cleanly, saying why, when the refresh token was reused or revoked", async () => {
    const fetch = vi.fn(async (url: string) =>
      url.endsWith("/auth/login") ? respond(200, tokens(1, 10)) : respond(401, { title: "Unauthorized", detail: "refresh token reused" }),
    );
    vi.stubGlobal("fetch", fetch);
    const { session } = await import("../../src/auth/session");
    await session.signIn("demo", "s@example.com", "pw");
    expect(await session.accessToken()).toBeNull();
    expect(session.snapshot()).toBeNull();
    expect(session.endedBecause).toMatch(/session has ended/);
  });

  it("keeps the session when the network is down during a refresh", async () => {
    let online = true;
    const fetch = vi.fn(async (url: string) => {
      if (url.endsWith("/auth/login")) return respond(200, tokens(1, 10));
      if (!online) throw new TypeError("Failed to fetch");
      return respond(200, tokens(2));
    });
    vi.stubGlobal("fetch", fetch);
    const { session } = await import("../../src/auth/session");
    await session.signIn("demo", "s@example.com", "pw");
    online = false;
    expect(await session.accessToken()).toBe(tokens(1).access_token); // still valid for a few seconds
    expect(session.snapshot()?.refresh_token).toBe("refresh-1");
  });
});
