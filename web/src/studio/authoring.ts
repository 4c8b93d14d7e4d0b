// What the hand-written question form sends for each of the six types, as assessment's
// domain/questions.py validates it. Option, item and pair ids are random: an id in answer order
// ("a", "s1"…) would tell a student the answer (issue 16).

export type QuestionType = "MULTIPLE_CHOICE" | "TRUE_FALSE" | "SHORT_ANSWER" | "FILL_IN_THE_BLANK" | "MATCHING" | "ORDERING";

export interface Draft {
  options: { text: string; correct: boolean }[]; // multiple choice
  correct: boolean; // true/false
  accepted: string; // short answer: alternatives, one per line
  tolerance: number;
  template: string; // fill in: "The {{1}} absorbs {{2}}." with alternatives per blank, "a / b"
  blanks: Record<string, string>;
  pairs: { left: string; right: string }[]; // matching
  order: string; // ordering: the items in the right order, one per line
}

export const emptyDraft = (): Draft => ({
  options: [{ text: "", correct: true }, { text: "", correct: false }],
  correct: true,
  accepted: "",
  tolerance: 1,
  template: "",
  blanks: {},
  pairs: [{ left: "", right: "" }, { left: "", right: "" }],
  order: "",
});

export function randomId(random: () => number = Math.random): string {
  return Array.from({ length: 8 }, () => "abcdefghijkmnpqrstuvwxyz23456789"[Math.floor(random() * 32)]).join("");
}

/** The blank names a template uses, in order: "{{1}} and {{x}}" → ["1", "x"]. */
export function blanksOf(template: string): string[] {
  return [...new Set([...template.matchAll(/\{\{([A-Za-z0-9_-]+)\}\}/g)].map((m) => m[1] as string))];
}

const lines = (text: string) => text.split(/\r?\n/).map((l) => l.trim()).filter(Boolean);

/** The question's content for the API, or the reason it cannot be sent yet. */
export function buildContent(type: QuestionType, d: Draft, newId: () => string = randomId): { content: Record<string, unknown> } | { problem: string } {
  switch (type) {
    case "MULTIPLE_CHOICE": {
      const options = d.options.filter((o) => o.text.trim()).map((o) => ({ id: newId(), text: o.text.trim(), correct: o.correct }));
      if (options.length < 2) return { problem: "Give at least two options." };
      if (!options.some((o) => o.correct)) return { problem: "Mark at least one option as right." };
      return { content: { type, options: options.map(({ id, text }) => ({ id, text })), correct_option_ids: options.filter((o) => o.correct).map((o) => o.id) } };
    }
    case "TRUE_FALSE":
      return { content: { type, correct: d.correct } };
    case "SHORT_ANSWER": {
      const accepted = lines(d.accepted);
      if (!accepted.length) return { problem: "Give at least one accepted answer." };
      return { content: { type, accepted_answers: accepted, tolerance: d.tolerance } };
    }
    case "FILL_IN_THE_BLANK": {
      const names = blanksOf(d.template);
      if (!names.length) return { problem: "Mark each blank in the sentence as {{1}}, {{2}}…" };
      const ids = Object.fromEntries(names.map((name) => [name, newId()]));
      const blanks = names.map((name) => ({ id: ids[name], accepted: (d.blanks[name] ?? "").split("/").map((a) => a.trim()).filter(Boolean) }));
      if (blanks.some((b) => !b.accepted.length)) return { problem: "Give the accepted words for every blank." };
      const template = d.template.replace(/\{\{([A-Za-z0-9_-]+)\}\}/g, (_, name: string) => `{{${ids[name]}}}`);
      return { content: { type, template, blanks } };
    }
    case "MATCHING": {
      const pairs = d.pairs.filter((p) => p.left.trim() && p.right.trim());
      if (pairs.length < 2) return { problem: "Give at least two pairs." };
      return { content: { type, pairs: pairs.map((p) => ({ left_id: newId(), left: p.left.trim(), right_id: newId(), right: p.right.trim() })) } };
    }
    case "ORDERING": {
      const items = lines(d.order).map((text) => ({ id: newId(), text }));
      if (items.length < 2) return { problem: "Give at least two steps, one per line, in the right order." };
      return { content: { type, items, correct_order: items.map((i) => i.id) } };
    }
  }
}
