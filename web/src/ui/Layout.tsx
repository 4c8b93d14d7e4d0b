import { NavLink, Outlet, useLocation } from "react-router";
import { useEffect, useRef } from "react";
import { session } from "../auth/session";
import { useClaims } from "../auth/useSession";
import { useLiveProgress } from "../api/live";
import { track } from "../telemetry";

const AREAS = {
  STUDENT: [{ to: "/lessons", label: "My lessons" }],
  TEACHER: [
    { to: "/lessons", label: "Lessons" },
    { to: "/teach", label: "Studio" },
  ],
  ADMIN: [
    { to: "/lessons", label: "Lessons" },
    { to: "/teach", label: "Studio" },
    { to: "/admin", label: "Organisation" },
  ],
  PLATFORM_ADMIN: [{ to: "/admin", label: "Platform" }],
} as const;

export function Layout() {
  const claims = useClaims();
  const location = useLocation();
  const previous = useRef<string | null>(null);
  useEffect(() => {
    track({ type: "navigation", path: location.pathname, referrer: previous.current });
    previous.current = location.pathname;
  }, [location.pathname]);
  const live = useLiveProgress(Boolean(claims));
  const links = claims ? AREAS[claims.role] ?? AREAS.STUDENT : [];
  return (
    <>
      <a className="skip" href="#main">
        Skip to content
      </a>
      <header className="top">
        <NavLink to="/" className="brand" aria-label="Cuepoint home">
          <img src="/favicon.svg" alt="" width="28" height="28" /> Cuepoint
        </NavLink>
        <nav aria-label="Main">
          {links.map((link) => (
            <NavLink key={link.to} to={link.to}>
              {link.label}
            </NavLink>
          ))}
          <NavLink to="/account">Account</NavLink>
          <span className={`live ${live ? "on" : ""}`} title={live ? "Progress updates live" : "Reconnecting…"}>
            <span className="visually-hidden">{live ? "Live updates on" : "Live updates reconnecting"}</span>
          </span>
          <button type="button" className="link" onClick={() => void session.signOut()}>
            Sign out
          </button>
        </nav>
      </header>
      <main id="main" tabIndex={-1}>
        <Outlet />
      </main>
    </>
  );
}
