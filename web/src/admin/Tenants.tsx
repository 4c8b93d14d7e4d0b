// The platform admin's organisations: list, create one with its first admin (invited by email).
import { useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import { useState, type FormEvent } from "react";
import { identity, unwrap } from "../api/client";
import { errorMessage } from "../api/problem";
import { ErrorNotice, Loading } from "../ui/states";

export function Tenants() {
  const queryClient = useQueryClient();
  const tenants = useQuery({ queryKey: ["identity", "tenants"], queryFn: () => unwrap(identity.GET("/v1/tenants", { params: { query: { limit: 100 } } })) });
  const [slug, setSlug] = useState("");
  const [name, setName] = useState("");
  const [admin, setAdmin] = useState("");
  const create = useMutation({
    mutationFn: () => unwrap(identity.POST("/v1/tenants", { body: { slug: slug.trim(), name: name.trim(), admin_email: admin.trim() || null } })),
    onSuccess: () => {
      setSlug(""); setName(""); setAdmin("");
      void queryClient.invalidateQueries({ queryKey: ["identity", "tenants"] });
    },
  });
  const submit = (event: FormEvent) => {
    event.preventDefault();
    create.mutate();
  };
  return (
    <>
      <form className="card form wide-form" onSubmit={submit} aria-labelledby="new-tenant-title">
        <h2 id="new-tenant-title">New organisation</h2>
        <div className="row">
          <label className="grow">Name<input value={name} onChange={(e) => setName(e.target.value)} required maxLength={200} /></label>
          <label className="grow">Short name (sign-in)<input value={slug} onChange={(e) => setSlug(e.target.value.toLowerCase())} required pattern="[a-z0-9][a-z0-9-]{1,62}" /></label>
          <label className="grow">First admin's email<input type="email" value={admin} onChange={(e) => setAdmin(e.target.value)} /></label>
        </div>
        <button type="submit" disabled={create.isPending}>Create organisation</button>
        {create.isSuccess && <p role="status">Created {create.data.name}.</p>}
        {create.isError && <p className="notice error" role="alert">{errorMessage(create.error)}</p>}
      </form>
      {tenants.isPending && <Loading />}
      {tenants.isError && <ErrorNotice error={tenants.error} />}
      {tenants.data && (
        <table className="data">
          <thead><tr><th scope="col">Organisation</th><th scope="col">Short name</th><th scope="col">Status</th><th scope="col">Created</th></tr></thead>
          <tbody>
            {tenants.data.items.map((t) => (
              <tr key={t.id}><th scope="row">{t.name}</th><td>{t.slug}</td><td>{t.status.toLowerCase()}</td><td>{new Date(t.created_at).toLocaleDateString()}</td></tr>
            ))}
          </tbody>
        </table>
      )}
    </>
  );
}
