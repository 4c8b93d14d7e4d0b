// System configs with typed editors: the editor follows the type of the default value, and the
// server's validation error is shown at the field.
import { useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import { useState } from "react";
import { identity, unwrap } from "../api/client";
import { errorMessage } from "../api/problem";
import { ErrorNotice, Loading } from "../ui/states";

type Config = { key: string; value: unknown; default: unknown; source: string; description: string };

export function Settings() {
  const configs = useQuery({ queryKey: ["identity", "configs"], queryFn: () => unwrap(identity.GET("/v1/system-configs")) });
  if (configs.isPending) return <Loading />;
  if (configs.isError) return <ErrorNotice error={configs.error} />;
  return (
    <ul className="plain">
      {(configs.data as Config[]).map((config) => <ConfigEditor key={config.key} config={config} />)}
    </ul>
  );
}

function ConfigEditor({ config }: { config: Config }) {
  const queryClient = useQueryClient();
  const kind = typeof (config.default ?? config.value);
  const [draft, setDraft] = useState<string>(kind === "object" ? JSON.stringify(config.value) : String(config.value ?? ""));
  const save = useMutation({
    mutationFn: (value: unknown) => unwrap(identity.PUT("/v1/system-configs/{key}", { params: { path: { key: config.key } }, body: { value } })),
    onSuccess: () => queryClient.invalidateQueries({ queryKey: ["identity", "configs"] }),
  });
  const reset = useMutation({
    mutationFn: () => unwrap(identity.DELETE("/v1/system-configs/{key}", { params: { path: { key: config.key } } })),
    onSuccess: (data) => {
      const restored = (data as Config[] | Config | undefined);
      void queryClient.invalidateQueries({ queryKey: ["identity", "configs"] });
      if (restored && !Array.isArray(restored)) setDraft(String(restored.value ?? ""));
    },
  });
  const parsed = (): unknown => {
    if (kind === "number") return Number(draft);
    if (kind === "boolean") return draft === "true";
    if (kind === "object") return JSON.parse(draft);
    return draft;
  };
  const id = `config-${config.key.replace(/\W/g, "-")}`;
  return (
    <li className="card">
      <form
        className="row"
        onSubmit={(event) => {
          event.preventDefault();
          try {
            save.mutate(parsed());
          } catch {
            /* invalid JSON is reported by the field below */
          }
        }}
      >
        <label className="grow" htmlFor={id}>
          <code>{config.key}</code> <span className="meta">— {config.description}</span>
        </label>
        {kind === "boolean" ? (
          <select id={id} value={draft} onChange={(e) => setDraft(e.target.value)}>
            <option value="true">on</option>
            <option value="false">off</option>
          </select>
        ) : (
          <input id={id} type={kind === "number" ? "number" : "text"} step="any" value={draft} onChange={(e) => setDraft(e.target.value)} aria-invalid={save.isError} aria-describedby={`${id}-error`} />
        )}
        <button type="submit" disabled={save.isPending}>Save<span className="visually-hidden"> {config.key}</span></button>
        {config.source === "tenant" && (
          <button type="button" className="secondary" onClick={() => reset.mutate()}>
            Reset to {String(config.default)}<span className="visually-hidden"> for {config.key}</span>
          </button>
        )}
      </form>
      <p className="meta">
        {config.source === "tenant" ? "Set for this organisation" : config.source === "platform" ? "The platform's setting" : "The default"}
        {save.isSuccess ? " · saved" : ""}
      </p>
      <p id={`${id}-error`} role={save.isError ? "alert" : undefined} className={save.isError ? "notice error" : "visually-hidden"}>
        {save.isError ? errorMessage(save.error) : ""}
      </p>
    </li>
  );
}
