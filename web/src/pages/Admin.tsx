// The admin console (a lazy chunk, loaded only for admins): people, settings, AI, the audit log;
// for the platform admin, the organisations.
import { NavLink, Navigate, Route, Routes } from "react-router";
import { AiSetup } from "../admin/AiSetup";
import { Audit } from "../admin/Audit";
import { People } from "../admin/People";
import { Settings } from "../admin/Settings";
import { Tenants } from "../admin/Tenants";
import { useClaims } from "../auth/useSession";

const SECTIONS = [
  { to: "people", label: "People", element: <People /> },
  { to: "settings", label: "Settings", element: <Settings /> },
  { to: "ai", label: "AI", element: <AiSetup /> },
  { to: "audit", label: "Audit log", element: <Audit /> },
];

export default function Admin() {
  const claims = useClaims();
  if (claims?.role === "PLATFORM_ADMIN") {
    return (
      <div className="page">
        <h1>Organisations</h1>
        <Tenants />
      </div>
    );
  }
  if (claims?.role !== "ADMIN") return <div className="page"><h1>Organisation</h1><p>Only an admin of this organisation can open its console.</p></div>;
  return (
    <div className="page wide">
      <h1>Organisation</h1>
      <nav aria-label="Organisation" className="tabs">
        {SECTIONS.map((s) => <NavLink key={s.to} to={`/admin/${s.to}`} className="button secondary">{s.label}</NavLink>)}
      </nav>
      <Routes>
        <Route index element={<Navigate to="people" replace />} />
        {SECTIONS.map((s) => <Route key={s.to} path={s.to} element={<div>{s.element}</div>} />)}
      </Routes>
    </div>
  );
}
