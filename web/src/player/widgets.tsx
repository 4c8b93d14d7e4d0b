// The six answer widgets. Each is built from native form controls (radio, checkbox, text,
// select, buttons), so mouse, touch and keyboard alone all work and screen readers name them.
import { useId, useState, type DragEvent } from "react";
import { moveItem, parseTemplate, toggleOption, type Answer, type StudentContent } from "./answers";

interface WidgetProps {
  content: StudentContent;
  answer: Answer;
  onChange: (answer: Answer) => void;
  disabled: boolean;
  prompt: string;
}

export function AnswerWidget(props: WidgetProps) {
  const { content, answer } = props;
  if (content.type === "MULTIPLE_CHOICE" && answer.type === "MULTIPLE_CHOICE") return <Choice {...props} content={content} answer={answer} />;
  if (content.type === "TRUE_FALSE" && answer.type === "TRUE_FALSE") return <TrueFalse {...props} answer={answer} />;
  if (content.type === "SHORT_ANSWER" && answer.type === "SHORT_ANSWER") return <Short {...props} answer={answer} />;
  if (content.type === "FILL_IN_THE_BLANK" && answer.type === "FILL_IN_THE_BLANK") return <Blanks {...props} content={content} answer={answer} />;
  if (content.type === "MATCHING" && answer.type === "MATCHING") return <Matching {...props} content={content} answer={answer} />;
  if (content.type === "ORDERING" && answer.type === "ORDERING") return <Ordering {...props} content={content} answer={answer} />;
  return <p>This question type cannot be shown.</p>;
}

type Of<T extends StudentContent["type"]> = {
  content: Extract<StudentContent, { type: T }>;
  answer: Extract<Answer, { type: T }>;
  onChange: (answer: Answer) => void;
  disabled: boolean;
  prompt: string;
};

function Choice({ content, answer, onChange, disabled, prompt }: Of<"MULTIPLE_CHOICE">) {
  const name = useId();
  const multiple = content.multiple_answers;
  return (
    <fieldset className="choices" disabled={disabled}>
      <legend className="visually-hidden">{prompt}</legend>
      {multiple && <p className="hint">Choose {content.answers_expected ?? "all"} answers that apply.</p>}
      {content.options.map((option) => (
        <label key={option.id} className="choice">
          <input
            type={multiple ? "checkbox" : "radio"}
            name={name}
            value={option.id}
            checked={answer.option_ids.includes(option.id)}
            onChange={() => onChange({ ...answer, option_ids: toggleOption(answer.option_ids, option.id, multiple) })}
          />
          <span>{option.text}</span>
        </label>
      ))}
    </fieldset>
  );
}

function TrueFalse({ answer, onChange, disabled, prompt }: Omit<Of<"TRUE_FALSE">, "content"> & { content: StudentContent }) {
  const name = useId();
  return (
    <fieldset className="choices inline" disabled={disabled}>
      <legend className="visually-hidden">{prompt}</legend>
      {[true, false].map((value) => (
        <label key={String(value)} className="choice">
          <input type="radio" name={name} checked={answer.value === value} onChange={() => onChange({ ...answer, value })} />
          <span>{value ? "True" : "False"}</span>
        </label>
      ))}
    </fieldset>
  );
}

function Short({ answer, onChange, disabled, prompt }: Omit<Of<"SHORT_ANSWER">, "content"> & { content: StudentContent }) {
  return (
    <label className="short">
      <span className="visually-hidden">{prompt}</span>
      <input
        type="text"
        value={answer.text}
        disabled={disabled}
        maxLength={1000}
        placeholder="Your answer"
        onChange={(e) => onChange({ ...answer, text: e.target.value })}
      />
    </label>
  );
}

function Blanks({ content, answer, onChange, disabled }: Of<"FILL_IN_THE_BLANK">) {
  const parts = parseTemplate(content.template);
  let count = 0;
  return (
    <p className="blanks">
      {parts.map((part, index) => {
        if ("text" in part) return <span key={index}>{part.text}</span>;
        count += 1;
        return (
          <input
            key={index}
            type="text"
            className="blank"
            aria-label={`Blank ${count}`}
            value={answer.blanks[part.blank] ?? ""}
            disabled={disabled}
            maxLength={200}
            size={Math.max(8, (answer.blanks[part.blank] ?? "").length + 1)}
            onChange={(e) => onChange({ ...answer, blanks: { ...answer.blanks, [part.blank]: e.target.value } })}
          />
        );
      })}
    </p>
  );
}

function Matching({ content, answer, onChange, disabled }: Of<"MATCHING">) {
  return (
    <table className="matching">
      <tbody>
        {content.left.map((left) => (
          <tr key={left.id}>
            <th scope="row">{left.text}</th>
            <td>
              <select
                aria-label={`Match for ${left.text}`}
                value={answer.matches[left.id] ?? ""}
                disabled={disabled}
                onChange={(e) => onChange({ ...answer, matches: { ...answer.matches, [left.id]: e.target.value } })}
              >
                <option value="">Choose…</option>
                {content.right.map((right) => (
                  <option key={right.id} value={right.id}>
                    {right.text}
                  </option>
                ))}
              </select>
            </td>
          </tr>
        ))}
      </tbody>
    </table>
  );
}

function Ordering({ content, answer, onChange, disabled }: Of<"ORDERING">) {
  const [dragging, setDragging] = useState<number | null>(null);
  const [announce, setAnnounce] = useState("");
  const text = new Map(content.items.map((item) => [item.id, item.text]));
  const move = (index: number, to: number) => {
    const order = moveItem(answer.order, index, to);
    onChange({ ...answer, order });
    const id = answer.order[index] as string;
    setAnnounce(`${text.get(id)} moved to position ${order.indexOf(id) + 1} of ${order.length}`);
  };
  const drop = (event: DragEvent, to: number) => {
    event.preventDefault();
    if (dragging !== null) move(dragging, to);
    setDragging(null);
  };
  return (
    <>
      <p className="hint">Drag the steps into order, or use the arrow buttons.</p>
      <ol className="ordering">
        {answer.order.map((id, index) => (
          <li
            key={id}
            draggable={!disabled}
            onDragStart={() => setDragging(index)}
            onDragOver={(e) => e.preventDefault()}
            onDrop={(e) => drop(e, index)}
            className={dragging === index ? "dragging" : undefined}
          >
            <span className="grip" aria-hidden="true">⠿</span>
            <span className="item-text">{text.get(id)}</span>
            <button type="button" className="icon" disabled={disabled || index === 0} onClick={() => move(index, index - 1)} aria-label={`Move “${text.get(id)}” up`}>
              ↑
            </button>
            <button
              type="button"
              className="icon"
              disabled={disabled || index === answer.order.length - 1}
              onClick={() => move(index, index + 1)}
              aria-label={`Move “${text.get(id)}” down`}
            >
              ↓
            </button>
          </li>
        ))}
      </ol>
      <p className="visually-hidden" aria-live="polite">
        {announce}
      </p>
    </>
  );
}
