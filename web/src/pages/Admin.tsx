// The admin console (people, invitations, settings, AI configuration, audit) is the next part
// of the web client; until then admins use the API (see the README's walkthroughs).
export default function Admin() {
  return (
    <div className="page">
      <h1>Organisation</h1>
      <p>People, invitations, settings, AI configuration and the audit log arrive here next.</p>
    </div>
  );
}
