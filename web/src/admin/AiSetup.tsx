// AI configurations (a provider with its key, never shown again; activate; the default provider
// drafts use) and AI spend: this month's against the budget from assessment (where spend is written
// and generation is refused), month by month — the seed's AI Usage Cost Tracking query — from
// analytics' report (docs/decisions/0007-ai-usage-owners.md), as a chart.
import { useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import { useMemo, useState, type FormEvent } from "react";
import { analytics, assessment, identity, jsonOnly, unwrap } from "../api/client";
import { errorMessage } from "../api/problem";
import { Chart } from "../studio/Chart";
import { ErrorNotice, Loading, ProgressBar } from "../ui/states";

const money = new Intl.NumberFormat(undefined, { style: "currency", currency: "USD", maximumFractionDigits: 4 });

export function AiSetup() {
  const queryClient = useQueryClient();
  const configurations = useQuery({ queryKey: ["assessment", "ai-configurations"], queryFn: () => unwrap(assessment.GET("/v1/ai-configurations")) });
  const usage = useQuery({ queryKey: ["assessment", "ai-usage"], queryFn: () => unwrap(assessment.GET("/v1/ai-usage")) });
  const report = useQuery({ queryKey: ["analytics", "ai-usage"], queryFn: async () => jsonOnly(await unwrap(analytics.GET("/v1/dashboards/ai-usage"))) });
  const refresh = () => queryClient.invalidateQueries({ queryKey: ["assessment", "ai-configurations"] });
  const toggle = useMutation({
    mutationFn: ({ id, active }: { id: string; active: boolean }) =>
      unwrap(assessment.PATCH("/v1/ai-configurations/{configuration_id}", { params: { path: { configuration_id: id } }, body: { is_active: active } })),
    onSuccess: refresh,
  });
  const setKey = useMutation({
    mutationFn: ({ id, key }: { id: string; key: string }) =>
      unwrap(assessment.PATCH("/v1/ai-configurations/{configuration_id}", { params: { path: { configuration_id: id } }, body: { api_key: key } })),
    onSuccess: refresh,
  });
  const months = useMemo(() => report.data?.months ?? [], [report.data]);
  const chart = useMemo(() => {
    const labels = [...new Set(months.map((m) => m.month.slice(0, 7)))].sort();
    const types = [...new Set(months.map((m) => m.request_type))];
    const colours = ["#1f4fd6", "#b45309", "#166534", "#7c3aed"];
    return {
      type: "bar" as const,
      data: {
        labels,
        datasets: types.map((type, i) => ({
          label: type,
          data: labels.map((label) => months.filter((m) => m.month.startsWith(label) && m.request_type === type).reduce((sum, m) => sum + m.total_cost, 0)),
          backgroundColor: colours[i % colours.length],
        })),
      },
      options: { scales: { x: { stacked: true }, y: { stacked: true, beginAtZero: true } } },
    };
  }, [months]);

  return (
    <>
      <section className="card" aria-labelledby="spend-title">
        <h2 id="spend-title">AI spend</h2>
        {usage.isPending && <Loading />}
        {usage.isError && <ErrorNotice error={usage.error} />}
        {usage.data && (
          <>
            <p>
              This month {money.format(usage.data.this_month.spent_usd)} of {money.format(usage.data.this_month.budget_usd)} (
              {money.format(usage.data.this_month.remaining_usd)} left)
            </p>
            <ProgressBar value={usage.data.this_month.budget_usd ? (usage.data.this_month.spent_usd / usage.data.this_month.budget_usd) * 100 : 0} label="AI budget used this month" />
          </>
        )}
        {report.isPending && <Loading />}
        {report.isError && <ErrorNotice error={report.error} />}
        {report.data && months.length === 0 && <p className="hint">No AI requests in the last six months.</p>}
        {months.length > 0 && (
          <>
            <Chart config={chart} label="AI cost per month by request type" />
            <table className="data">
              <thead><tr><th scope="col">Month</th><th scope="col">Request type</th><th scope="col">Requests</th><th scope="col">Tokens</th><th scope="col">Cost</th><th scope="col">Avg response</th></tr></thead>
              <tbody>
                {months.map((m) => (
                  <tr key={`${m.month}-${m.request_type}`}>
                    <th scope="row">{m.month.slice(0, 7)}</th><td>{m.request_type}</td><td>{m.total_requests}</td><td>{m.total_tokens}</td><td>{money.format(m.total_cost)}</td><td>{Math.round(m.avg_response_time)} ms</td>
                  </tr>
                ))}
              </tbody>
            </table>
          </>
        )}
      </section>
      <GenerationQueue />
      <section className="card" aria-labelledby="providers-title">
        <h2 id="providers-title">Providers</h2>
        {configurations.isPending && <Loading />}
        {configurations.isError && <ErrorNotice error={configurations.error} />}
        <ul className="plain">
          {(configurations.data?.items ?? []).map((c) => (
            <li key={c.id} className="milestone-row">
              <strong className="grow">{c.name}</strong>
              <span className="meta">{c.provider.toLowerCase()} · {c.model} · {c.has_api_key ? "key stored" : c.provider === "OFFLINE" ? "no key needed" : "no key"}</span>
              <label className="check">
                <input type="checkbox" checked={c.is_active} onChange={(e) => toggle.mutate({ id: c.id, active: e.target.checked })} />
                Active<span className="visually-hidden"> {c.name}</span>
              </label>
              {c.provider !== "OFFLINE" && <KeyForm onSave={(key) => setKey.mutate({ id: c.id, key })} name={c.name} />}
              <ConnectionTest id={c.id} name={c.name} />
            </li>
          ))}
        </ul>
        {[toggle, setKey].find((m) => m.isError) && <ErrorNotice error={[toggle, setKey].find((m) => m.isError)?.error} />}
        <DefaultProvider available={(configurations.data?.items ?? []).filter((c) => c.is_active).map((c) => c.provider)} />
        <NewProvider onCreated={refresh} />
      </section>
    </>
  );
}

/** Drafting jobs not finished yet: how many wait and run, and how long the oldest has waited. */
function GenerationQueue() {
  const queue = useQuery({
    queryKey: ["assessment", "generation-queue"],
    queryFn: () => unwrap(assessment.GET("/v1/generation-queue")),
    refetchInterval: 5000,
  });
  return (
    <section className="card" aria-labelledby="queue-title">
      <h2 id="queue-title">Drafting queue</h2>
      {queue.isPending && <Loading />}
      {queue.isError && <ErrorNotice error={queue.error} />}
      {queue.data && (
        <>
          <p>
            {queue.data.waiting} waiting · {queue.data.running} running
            {queue.data.oldest_waiting_seconds !== null && ` · the oldest has waited ${Math.round(queue.data.oldest_waiting_seconds)} s`}
          </p>
          {queue.data.by_provider.length > 0 && (
            <p className="meta">
              {queue.data.by_provider.map((p) => `${p.provider.toLowerCase()}: ${p.waiting} waiting, ${p.running} running`).join(" · ")}
            </p>
          )}
          <p className="meta">
            At most {queue.data.limits.per_tenant} jobs of this organisation run at once ({queue.data.limits.per_provider} per provider,{" "}
            {queue.data.limits.in_all} in all); a job whose runner stopped is taken over after {Math.round(queue.data.limits.lease_seconds)} s.
          </p>
        </>
      )}
    </section>
  );
}

const PROVIDERS = [
  { value: "OFFLINE", label: "The built-in generator (no key, no cost)" },
  { value: "OPENAI", label: "OpenAI-compatible (the active configuration)" },
];

/** Which provider drafts questions when a teacher does not choose: the ai.defaultProvider setting. */
function DefaultProvider({ available }: { available: string[] }) {
  const queryClient = useQueryClient();
  const config = useQuery({
    queryKey: ["identity", "configs"],
    queryFn: () => unwrap(identity.GET("/v1/system-configs")),
    select: (configs) => configs.find((c) => c.key === "ai.defaultProvider"),
  });
  const save = useMutation({
    mutationFn: (value: string) => unwrap(identity.PUT("/v1/system-configs/{key}", { params: { path: { key: "ai.defaultProvider" } }, body: { value } })),
    onSuccess: () => queryClient.invalidateQueries({ queryKey: ["identity", "configs"] }),
  });
  if (config.isPending) return <Loading />;
  if (config.isError) return <ErrorNotice error={config.error} />;
  const current = String(config.data?.value ?? "OFFLINE");
  return (
    <div className="form">
      <label>
        Default provider for AI drafts
        <select value={current} onChange={(e) => save.mutate(e.target.value)} disabled={save.isPending}>
          {PROVIDERS.map((p) => (
            <option key={p.value} value={p.value}>
              {p.label}
            </option>
          ))}
        </select>
      </label>
      {current !== "OFFLINE" && !available.includes(current) && (
        <p className="notice" role="status">No {current.toLowerCase()} configuration is active: drafts will fail until one is.</p>
      )}
      <span aria-live="polite" className="meta">{save.isSuccess ? "Default saved." : ""}</span>
      {save.isError && <p className="notice error" role="alert">{errorMessage(save.error)}</p>}
    </div>
  );
}

function KeyForm({ onSave, name }: { onSave: (key: string) => void; name: string }) {
  const [key, setKey] = useState("");
  return (
    <form className="row" onSubmit={(e) => { e.preventDefault(); if (key) { onSave(key); setKey(""); } }}>
      <label>
        <span className="visually-hidden">API key for {name}</span>
        <input type="password" autoComplete="off" placeholder="New API key" value={key} onChange={(e) => setKey(e.target.value)} />
      </label>
      <button type="submit" className="secondary" disabled={!key}>Save key<span className="visually-hidden"> for {name}</span></button>
    </form>
  );
}

function NewProvider({ onCreated }: { onCreated: () => void }) {
  const [name, setName] = useState("");
  const [model, setModel] = useState("gpt-4o-mini");
  const [baseUrl, setBaseUrl] = useState("");
  const [key, setKey] = useState("");
  const create = useMutation({
    mutationFn: () =>
      unwrap(
        assessment.POST("/v1/ai-configurations", {
          body: {
            name: name.trim(), provider: "OPENAI", model: model.trim(), base_url: baseUrl.trim() || null, api_key: key || null,
            temperature: 0.2, max_tokens: 2000, input_price_per_1k: 0, output_price_per_1k: 0, is_active: false,
          },
        }),
      ),
    onSuccess: () => {
      setName("");
      setKey("");
      onCreated();
    },
  });
  const submit = (event: FormEvent) => {
    event.preventDefault();
    create.mutate();
  };
  return (
    <form className="form wide-form" onSubmit={submit} aria-labelledby="new-provider-title">
      <h3 id="new-provider-title">Add an OpenAI-compatible provider</h3>
      <div className="row">
        <label className="grow">Name<input value={name} onChange={(e) => setName(e.target.value)} required maxLength={100} /></label>
        <label className="grow">Model<input value={model} onChange={(e) => setModel(e.target.value)} required maxLength={100} /></label>
      </div>
      <div className="row">
        <label className="grow">Base URL (empty: OpenAI's)<input type="url" value={baseUrl} onChange={(e) => setBaseUrl(e.target.value)} /></label>
        <label className="grow">API key (stored encrypted, never shown again)<input type="password" autoComplete="off" value={key} onChange={(e) => setKey(e.target.value)} /></label>
      </div>
      <button type="submit" disabled={create.isPending || !name.trim()}>Add provider</button>
      {create.isError && <p className="notice error" role="alert">{errorMessage(create.error)}</p>}
    </form>
  );
}

/** One small request to the provider: does the key, the model and the address work? */
function ConnectionTest({ id, name }: { id: string; name: string }) {
  const test = useMutation({
    mutationFn: () => unwrap(assessment.POST("/v1/ai-configurations/{configuration_id}/test", { params: { path: { configuration_id: id } } })),
  });
  return (
    <span className="row">
      <button type="button" className="secondary" onClick={() => test.mutate()} disabled={test.isPending}>
        {test.isPending ? "Testing…" : "Test the connection"}<span className="visually-hidden"> of {name}</span>
      </button>
      {test.data && (
        <span role="status" className={test.data.ok ? "notice success" : "notice error"}>
          {test.data.ok ? `Works (${test.data.latency_ms} ms)` : test.data.detail ?? test.data.problem}
        </span>
      )}
      {test.isError && <span className="notice error" role="alert">{errorMessage(test.error)}</span>}
    </span>
  );
}
