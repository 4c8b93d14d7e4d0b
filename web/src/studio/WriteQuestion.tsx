// Write a question by hand, in any of the six types, approved at once for a milestone.
import { useMutation } from "@tanstack/react-query";
import { useState, type FormEvent } from "react";
import { assessment, unwrap } from "../api/client";
import { errorMessage } from "../api/problem";
import { blanksOf, buildContent, emptyDraft, type Draft, type QuestionType } from "./authoring";

const TYPES: { type: QuestionType; label: string }[] = [
  { type: "MULTIPLE_CHOICE", label: "Multiple choice" },
  { type: "TRUE_FALSE", label: "True or false" },
  { type: "SHORT_ANSWER", label: "Short answer" },
  { type: "FILL_IN_THE_BLANK", label: "Fill in the blanks" },
  { type: "MATCHING", label: "Matching" },
  { type: "ORDERING", label: "Ordering" },
];

export function WriteQuestion({ lessonId, milestones, onCreated }: { lessonId: string; milestones: { id: string; label: string }[]; onCreated: () => void }) {
  const [type, setType] = useState<QuestionType>("MULTIPLE_CHOICE");
  const [milestone, setMilestone] = useState(milestones[0]?.id ?? "");
  const [prompt, setPrompt] = useState("");
  const [explanation, setExplanation] = useState("");
  const [d, setD] = useState<Draft>(emptyDraft());
  const [problem, setProblem] = useState("");
  const create = useMutation({
    mutationFn: (content: Record<string, unknown>) =>
      unwrap(
        assessment.POST("/v1/questions", {
          body: { lesson_id: lessonId, milestone_id: milestone || null, prompt: prompt.trim(), explanation, content: content as never, approve: true, points: 1, difficulty: "MEDIUM" },
        }),
      ),
    onSuccess: () => {
      setPrompt("");
      setExplanation("");
      setD(emptyDraft());
      onCreated();
    },
  });
  const submit = (event: FormEvent) => {
    event.preventDefault();
    const built = buildContent(type, d);
    if ("problem" in built) {
      setProblem(built.problem);
      return;
    }
    setProblem("");
    create.mutate(built.content);
  };
  const set = (change: Partial<Draft>) => setD({ ...d, ...change });

  return (
    <form className="card form wide-form" onSubmit={submit} aria-labelledby="write-title">
      <h2 id="write-title">Write a question</h2>
      <div className="row">
        <label>Type
          <select value={type} onChange={(e) => setType(e.target.value as QuestionType)}>
            {TYPES.map((t) => <option key={t.type} value={t.type}>{t.label}</option>)}
          </select>
        </label>
        <label className="grow">Milestone
          <select value={milestone} onChange={(e) => setMilestone(e.target.value)}>
            {milestones.map((m) => <option key={m.id} value={m.id}>{m.label}</option>)}
          </select>
        </label>
      </div>
      <label>Question<textarea value={prompt} onChange={(e) => setPrompt(e.target.value)} rows={2} required maxLength={2000} /></label>
      {type === "MULTIPLE_CHOICE" && (
        <fieldset className="choices">
          <legend>Options (tick the right ones)</legend>
          {d.options.map((o, i) => (
            <div key={i} className="row">
              <input type="checkbox" aria-label={`Option ${i + 1} is right`} checked={o.correct} onChange={(e) => set({ options: d.options.map((x, j) => (j === i ? { ...x, correct: e.target.checked } : x)) })} />
              <input className="grow" aria-label={`Option ${i + 1}`} value={o.text} onChange={(e) => set({ options: d.options.map((x, j) => (j === i ? { ...x, text: e.target.value } : x)) })} />
            </div>
          ))}
          <button type="button" className="link" onClick={() => set({ options: [...d.options, { text: "", correct: false }] })}>Add an option</button>
        </fieldset>
      )}
      {type === "TRUE_FALSE" && (
        <label>The statement is
          <select value={String(d.correct)} onChange={(e) => set({ correct: e.target.value === "true" })}><option value="true">true</option><option value="false">false</option></select>
        </label>
      )}
      {type === "SHORT_ANSWER" && (
        <div className="row">
          <label className="grow">Accepted answers (one per line)<textarea rows={2} value={d.accepted} onChange={(e) => set({ accepted: e.target.value })} /></label>
          <label>Typos allowed<input type="number" min={0} max={3} value={d.tolerance} onChange={(e) => set({ tolerance: Number(e.target.value) })} /></label>
        </div>
      )}
      {type === "FILL_IN_THE_BLANK" && (
        <>
          <label>Sentence, each blank as {"{{1}}"}, {"{{2}}"}…<input value={d.template} onChange={(e) => set({ template: e.target.value })} placeholder="The green pigment {{1}} absorbs {{2}}." /></label>
          {blanksOf(d.template).map((name) => (
            <label key={name}>Blank {name}: accepted words (separate with /)<input value={d.blanks[name] ?? ""} onChange={(e) => set({ blanks: { ...d.blanks, [name]: e.target.value } })} /></label>
          ))}
        </>
      )}
      {type === "MATCHING" && (
        <fieldset className="choices">
          <legend>Pairs</legend>
          {d.pairs.map((p, i) => (
            <div key={i} className="row">
              <input className="grow" aria-label={`Pair ${i + 1}, left`} value={p.left} onChange={(e) => set({ pairs: d.pairs.map((x, j) => (j === i ? { ...x, left: e.target.value } : x)) })} />
              <span aria-hidden="true">→</span>
              <input className="grow" aria-label={`Pair ${i + 1}, right`} value={p.right} onChange={(e) => set({ pairs: d.pairs.map((x, j) => (j === i ? { ...x, right: e.target.value } : x)) })} />
            </div>
          ))}
          <button type="button" className="link" onClick={() => set({ pairs: [...d.pairs, { left: "", right: "" }] })}>Add a pair</button>
        </fieldset>
      )}
      {type === "ORDERING" && (
        <label>The steps in the right order, one per line (students see them shuffled)<textarea rows={4} value={d.order} onChange={(e) => set({ order: e.target.value })} /></label>
      )}
      <label>Explanation (shown once the question is settled)<textarea value={explanation} onChange={(e) => setExplanation(e.target.value)} rows={2} maxLength={4000} /></label>
      <button type="submit" disabled={create.isPending || !prompt.trim()}>Add the question (approved)</button>
      {(problem || create.isError) && <p className="notice error" role="alert">{problem || errorMessage(create.error)}</p>}
      {create.isSuccess && <p role="status" className="meta">Added and approved.</p>}
    </form>
  );
}
