// People of the organisation: search, invite with a role, change a role, deactivate, erase.
import { useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import { useDeferredValue, useState, type FormEvent } from "react";
import { identity, unwrap } from "../api/client";
import { errorMessage } from "../api/problem";
import { Empty, ErrorNotice, Loading } from "../ui/states";

type RoleName = "STUDENT" | "TEACHER" | "ADMIN";
const ROLES: RoleName[] = ["STUDENT", "TEACHER", "ADMIN"];

export function People() {
  const queryClient = useQueryClient();
  const [search, setSearch] = useState("");
  const q = useDeferredValue(search.trim());
  const users = useQuery({
    queryKey: ["identity", "users", q],
    queryFn: () => unwrap(identity.GET("/v1/users", { params: { query: { q: q || undefined, limit: 100 } } })),
  });
  const refresh = () => queryClient.invalidateQueries({ queryKey: ["identity", "users"] });
  const [email, setEmail] = useState("");
  const [role, setRole] = useState<RoleName>("STUDENT");
  const invite = useMutation({
    mutationFn: () => unwrap(identity.POST("/v1/invitations", { body: { email: email.trim(), role } })),
    onSuccess: () => setEmail(""),
  });
  const changeRole = useMutation({
    mutationFn: ({ id, role: next }: { id: string; role: RoleName }) =>
      unwrap(identity.PUT("/v1/users/{user_id}/role", { params: { path: { user_id: id } }, body: { role: next } })),
    onSuccess: refresh,
  });
  const deactivate = useMutation({
    mutationFn: ({ id, active }: { id: string; active: boolean }) =>
      active
        ? unwrap(identity.POST("/v1/users/{user_id}/reactivate", { params: { path: { user_id: id } } }))
        : unwrap(identity.POST("/v1/users/{user_id}/deactivate", { params: { path: { user_id: id } } })),
    onSuccess: refresh,
  });
  const erase = useMutation({
    mutationFn: (id: string) => unwrap(identity.POST("/v1/users/{user_id}/erase", { params: { path: { user_id: id } } })),
    onSuccess: refresh,
  });
  const submit = (event: FormEvent) => {
    event.preventDefault();
    if (email.trim()) invite.mutate();
  };
  const failed = [changeRole, deactivate, erase].find((m) => m.isError);

  return (
    <>
      <form className="card row" onSubmit={submit} aria-labelledby="invite-title">
        <h2 id="invite-title" className="visually-hidden">Invite someone</h2>
        <label className="grow">
          Invite by email
          <input type="email" value={email} onChange={(e) => setEmail(e.target.value)} required />
        </label>
        <label>
          Role
          <select value={role} onChange={(e) => setRole(e.target.value as RoleName)}>
            {ROLES.map((r) => <option key={r} value={r}>{r.toLowerCase()}</option>)}
          </select>
        </label>
        <button type="submit" disabled={invite.isPending}>Send invitation</button>
        <p aria-live="polite" className="meta">{invite.isSuccess ? `Invitation sent to ${invite.data.email}.` : ""}</p>
        {invite.isError && <p className="notice error" role="alert">{errorMessage(invite.error)}</p>}
      </form>
      <label className="search">
        <span className="visually-hidden">Search people</span>
        <input type="search" placeholder="Search by name or email (typos are fine)" value={search} onChange={(e) => setSearch(e.target.value)} />
      </label>
      {users.isPending && <Loading />}
      {users.isError && <ErrorNotice error={users.error} />}
      {users.isSuccess && users.data.items.length === 0 && <Empty title="Nobody matches." />}
      {failed && <ErrorNotice error={failed.error} />}
      {users.data && users.data.items.length > 0 && (
        <table className="data">
          <thead>
            <tr><th scope="col">Name</th><th scope="col">Email</th><th scope="col">Role</th><th scope="col">Status</th><th scope="col"><span className="visually-hidden">Actions</span></th></tr>
          </thead>
          <tbody>
            {users.data.items.map((user) => (
              <tr key={user.id}>
                <th scope="row">{user.display_name}</th>
                <td>{user.email}</td>
                <td>
                  <select aria-label={`Role of ${user.display_name}`} value={user.role} disabled={user.status === "ERASED"} onChange={(e) => changeRole.mutate({ id: user.id, role: e.target.value as RoleName })}>
                    {ROLES.map((r) => <option key={r} value={r}>{r.toLowerCase()}</option>)}
                  </select>
                </td>
                <td>{user.status.toLowerCase()}</td>
                <td className="row actions">
                  {user.status !== "ERASED" && (
                    <button type="button" className="secondary" onClick={() => deactivate.mutate({ id: user.id, active: user.status !== "ACTIVE" })}>
                      {user.status === "ACTIVE" ? "Deactivate" : "Reactivate"}<span className="visually-hidden"> {user.display_name}</span>
                    </button>
                  )}
                  {user.status !== "ERASED" && (
                    <button
                      type="button"
                      className="danger"
                      onClick={() =>
                        window.confirm(
                          `Erase ${user.display_name}? Their name, email and password are deleted for good, their sessions end, and what other services keep about them is anonymised. Their answers stay in the statistics without their name. This cannot be undone.`,
                        ) && erase.mutate(user.id)
                      }
                    >
                      Erase<span className="visually-hidden"> {user.display_name}</span>
                    </button>
                  )}
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
    </>
  );
}
