// What each of the six answer widgets produces, as the assessment API takes it
// (POST /v1/questions/{id}/attempts {"answer": …}), and when an answer is complete enough to send.

export type StudentContent =
  | { type: "MULTIPLE_CHOICE"; options: { id: string; text: string }[]; multiple_answers: boolean; answers_expected?: number }
  | { type: "TRUE_FALSE" }
  | { type: "SHORT_ANSWER" }
  | { type: "FILL_IN_THE_BLANK"; template: string; blank_ids: string[] }
  | { type: "MATCHING"; left: { id: string; text: string }[]; right: { id: string; text: string }[] }
  | { type: "ORDERING"; items: { id: string; text: string }[] };

export type Answer =
  | { type: "MULTIPLE_CHOICE"; option_ids: string[] }
  | { type: "TRUE_FALSE"; value: boolean | null }
  | { type: "SHORT_ANSWER"; text: string }
  | { type: "FILL_IN_THE_BLANK"; blanks: Record<string, string> }
  | { type: "MATCHING"; matches: Record<string, string> }
  | { type: "ORDERING"; order: string[] };

export function emptyAnswer(content: StudentContent): Answer {
  switch (content.type) {
    case "MULTIPLE_CHOICE":
      return { type: content.type, option_ids: [] };
    case "TRUE_FALSE":
      return { type: content.type, value: null };
    case "SHORT_ANSWER":
      return { type: content.type, text: "" };
    case "FILL_IN_THE_BLANK":
      return { type: content.type, blanks: Object.fromEntries(content.blank_ids.map((id) => [id, ""])) };
    case "MATCHING":
      return { type: content.type, matches: {} };
    case "ORDERING":
      return { type: content.type, order: content.items.map((item) => item.id) };
  }
}

/** Whether the answer can be sent: every part the question asks for is given. */
export function isComplete(content: StudentContent, answer: Answer): boolean {
  switch (answer.type) {
    case "MULTIPLE_CHOICE":
      return answer.option_ids.length > 0;
    case "TRUE_FALSE":
      return answer.value !== null;
    case "SHORT_ANSWER":
      return answer.text.trim().length > 0;
    case "FILL_IN_THE_BLANK":
      return Object.values(answer.blanks).every((value) => value.trim().length > 0);
    case "MATCHING":
      return content.type === "MATCHING" && content.left.every((item) => Boolean(answer.matches[item.id]));
    case "ORDERING":
      return answer.order.length > 0;
  }
}

/** The choice list after clicking `id`: one option for single-answer questions, toggled for several. */
export function toggleOption(selected: string[], id: string, multiple: boolean): string[] {
  if (!multiple) return [id];
  return selected.includes(id) ? selected.filter((x) => x !== id) : [...selected, id];
}

/** The order with the item at `index` moved by `delta` places (keyboard) or to `to` (drag). */
export function moveItem(order: string[], index: number, to: number): string[] {
  if (index < 0 || index >= order.length) return order;
  const target = Math.max(0, Math.min(order.length - 1, to));
  const next = [...order];
  const [item] = next.splice(index, 1);
  next.splice(target, 0, item as string);
  return next;
}

export type TemplatePart = { text: string } | { blank: string };

/** "The {{b1}} absorbs {{b2}}." → text, blank b1, text, blank b2, text. */
export function parseTemplate(template: string): TemplatePart[] {
  const parts: TemplatePart[] = [];
  const pattern = /\{\{([A-Za-z0-9_-]+)\}\}/g;
  let last = 0;
  for (const match of template.matchAll(pattern)) {
    if (match.index > last) parts.push({ text: template.slice(last, match.index) });
    parts.push({ blank: match[1] as string });
    last = match.index + match[0].length;
  }
  if (last < template.length) parts.push({ text: template.slice(last) });
  return parts;
}

/** The body the API takes (TRUE_FALSE's null never reaches it: isComplete refuses it). */
export function toRequest(answer: Answer): Record<string, unknown> {
  return answer as unknown as Record<string, unknown>;
}

/** A previous answer from the server, as the widget's state (so a second device shows it). */
export function fromServer(content: StudentContent, given: unknown): Answer {
  const empty = emptyAnswer(content);
  if (!given || typeof given !== "object") return empty;
  return { ...empty, ...(given as object), type: content.type } as Answer;
}
