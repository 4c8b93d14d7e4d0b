import { QueryClient, QueryClientProvider } from "@tanstack/react-query";
import { fireEvent, render, screen, waitFor } from "@testing-library/react";
import type { ReactNode } from "react";
import { MemoryRouter } from "react-router";
import { afterEach, describe, expect, it, vi } from "vitest";
import { Account } from "../../src/pages/Account";
import { ConfirmEmailChange } from "../../src/pages/ConfirmEmailChange";
import { ForgotPassword, ResetPassword } from "../../src/pages/PasswordReset";
import { SignIn } from "../../src/pages/SignIn";
import { Unsubscribe } from "../../src/pages/Unsubscribe";

// The pages call the gateway by path (/api/identity/…), as a browser does; Node's Request needs an
// absolute URL, so it resolves paths against the page's location — before the clients are created.
vi.hoisted(() => {
  const NodeRequest = globalThis.Request;
  globalThis.Request = class extends NodeRequest {
    constructor(input: RequestInfo | URL, init?: RequestInit) {
      super(typeof input === "string" && input.startsWith("/") ? new URL(input, location.href).href : input, init);
    }
  } as typeof Request;
});

function respond(status: number, body?: object): Response {
  const type = status >= 400 ? "application/problem+json" : "application/json";
  return new Response(body === undefined ? null : JSON.stringify(body), { status, headers: { "Content-Type": type } });
}

/** The identity API as the page reaches it: every request recorded, answered by ``answer``. */
function api(answer: (path: string, body: Record<string, unknown> | null) => Response) {
  const sent: { path: string; body: Record<string, unknown> | null }[] = [];
  vi.stubGlobal("fetch", vi.fn(async (request: Request) => {
    const path = new URL(request.url, "http://localhost").pathname;
    const text = request.method === "GET" ? "" : await request.text();
    const body = text ? (JSON.parse(text) as Record<string, unknown>) : null;
    sent.push({ path, body });
    return answer(path, body);
  }));
  return sent;
}

function page(element: ReactNode, at = "/") {
  const queries = new QueryClient({ defaultOptions: { queries: { retry: false } } });
  return render(
    <QueryClientProvider client={queries}>
      <MemoryRouter initialEntries={[at]}>{element}</MemoryRouter>
    </QueryClientProvider>,
  );
}

describe("account recovery and email change", () => {
  afterEach(() => vi.unstubAllGlobals());

  it("the sign-in page links to the forgotten-password page", () => {
    page(<SignIn />, "/sign-in");
    expect(screen.getByRole("link", { name: "Forgot password?" }).getAttribute("href")).toBe("/forgot-password");
  });

  it("asks for a reset link and says the same whatever the account", async () => {
    const sent = api(() => respond(202, { status: "accepted", detail: "if an account exists…" }));
    page(<ForgotPassword />, "/forgot-password");
    fireEvent.change(screen.getByLabelText("Organisation"), { target: { value: " Demo " } });
    fireEvent.change(screen.getByLabelText("Email"), { target: { value: "sam@example.com" } });
    fireEvent.click(screen.getByRole("button", { name: "Email me a link" }));
    expect(await screen.findByRole("status")).toHaveProperty("textContent", expect.stringContaining("If an account"));
    expect(sent).toEqual([{ path: "/api/identity/v1/auth/password-reset", body: { tenant: "demo", email: "sam@example.com" } }]);
  });

  it("sets the new password with the link's token, and shows why a used link fails", async () => {
    let answer = respond(204);
    const sent = api(() => answer);
    page(<ResetPassword />, "/reset-password?token=t1.secret");
    fireEvent.change(screen.getByLabelText("New password"), { target: { value: "a brand new phrase" } });
    fireEvent.click(screen.getByRole("button", { name: "Set the new password" }));
    expect(await screen.findByRole("status")).toHaveProperty("textContent", expect.stringContaining("signed out"));
    expect(sent[0]).toEqual({ path: "/api/identity/v1/auth/password-reset/confirm",
                              body: { token: "t1.secret", new_password: "a brand new phrase" } });

    answer = respond(410, { type: "/problems/gone", title: "Gone", status: 410, detail: "this reset link was already used" });
    page(<ResetPassword />, "/reset-password?token=t1.secret");
    fireEvent.change(screen.getAllByLabelText("New password").at(-1) as HTMLElement, { target: { value: "another phrase" } });
    fireEvent.click(screen.getAllByRole("button", { name: "Set the new password" }).at(-1) as HTMLElement);
    expect(await screen.findByRole("alert")).toHaveProperty("textContent", expect.stringContaining("already used"));
    expect(screen.getByRole("link", { name: "Ask for a new link" })).toBeTruthy();
  });

  it("a reset page without a token says so instead of a form", () => {
    page(<ResetPassword />, "/reset-password");
    expect(screen.getByRole("heading", { name: "This reset link is incomplete" })).toBeTruthy();
  });

  it("changes the email address from the account page, then confirms it from the emailed link", async () => {
    const me = { id: "u1", tenant_id: "t1", email: "sam@example.com", display_name: "Sam", role: "STUDENT",
                 status: "ACTIVE", email_verified: true, created_at: "2026-01-01T00:00:00Z" };
    const sent = api((path) => {
      if (path.endsWith("/users/me")) return respond(200, me);
      if (path.endsWith("/users/me/email")) return respond(202, { status: "accepted", detail: "follow the link" });
      if (path.endsWith("/email-change/confirm")) return respond(200, { ...me, email: "samuel@example.com" });
      return respond(200, path.endsWith("/sessions") ? [] : {});
    });
    page(<Account />, "/account");
    fireEvent.change(screen.getByLabelText("New email address"), { target: { value: "samuel@example.com" } });
    fireEvent.change(screen.getAllByLabelText("Current password").at(-1) as HTMLElement, { target: { value: "my password" } });
    fireEvent.click(screen.getByRole("button", { name: "Change email address" }));
    expect(await screen.findByText("Check samuel@example.com for the link that finishes the change.")).toBeTruthy();
    expect(sent.find((r) => r.path.endsWith("/users/me/email"))?.body).toEqual({ new_email: "samuel@example.com",
                                                                                 current_password: "my password" });

    page(<ConfirmEmailChange />, "/confirm-email-change?token=t1.other");
    await waitFor(() => expect(screen.getByText(/now samuel@example.com/)).toBeTruthy());
    expect(sent.filter((r) => r.path.endsWith("/email-change/confirm"))).toEqual([
      { path: "/api/identity/v1/auth/email-change/confirm", body: { token: "t1.other" } }]);
  });

  it("asks for a data export, follows its status, and offers the ZIP once it is ready", async () => {
    const assembling = { id: "e1", status: "ASSEMBLING", requested_at: "2026-01-01T00:00:00Z", ready_at: null,
                         expires_at: null, parts: { identity: "received", content: "waiting", assessment: "waiting",
                                                    progress: "waiting", analytics: "waiting" } };
    const ready = { ...assembling, status: "READY", expires_at: "2026-01-08T00:00:00Z",
                    parts: Object.fromEntries(Object.keys(assembling.parts).map((k) => [k, "received"])) };
    let requested = false;
    let polls = 0;
    const sent = api((path) => {
      if (path.endsWith("/users/me/exports") && requested) {
        polls += 1;
        // the request's answer, the list refetched after it, then (polled) the export ready
        return respond(200, polls >= 3 ? { items: [ready], total: 1, limit: 1, offset: 0 }
                                       : polls === 1 ? assembling : { items: [assembling], total: 1, limit: 1, offset: 0 });
      }
      if (path.endsWith("/users/me/exports")) return respond(200, { items: [], total: 0, limit: 1, offset: 0 });
      if (path.endsWith("/users/me")) return respond(200, { id: "u1", email: "sam@example.com", display_name: "Sam",
                                                            role: "STUDENT" });
      return respond(200, path.endsWith("/sessions") ? [] : {});
    });
    page(<Account />, "/account");
    const ask = await screen.findByRole("button", { name: "Download my data" });
    requested = true;
    fireEvent.click(ask);
    expect(await screen.findByText("Preparing your data… (1 of 5 parts)")).toBeTruthy();
    expect(await screen.findByRole("button", { name: "Download the ZIP" }, { timeout: 5000 })).toBeTruthy();
    expect(sent.filter((r) => r.path === "/api/identity/v1/users/me/exports").length).toBeGreaterThanOrEqual(3);
  });

  it("an email's unsubscribe link turns that notification off on opening", async () => {
    const sent = api(() => respond(200, { notification: "email_new_lesson", subscribed: false }));
    page(<Unsubscribe />, "/unsubscribe?token=payload.signature");
    expect(await screen.findByText(/no more emails about new lessons/)).toBeTruthy();
    expect(sent).toEqual([{ path: "/api/identity/v1/notifications/unsubscribe", body: { token: "payload.signature" } }]);
  });
});
