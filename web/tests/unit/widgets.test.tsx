import { fireEvent, render, screen } from "@testing-library/react";
import { useState } from "react";
import { describe, expect, it } from "vitest";
import { emptyAnswer, type Answer, type StudentContent } from "../../src/player/answers";
import { AnswerWidget } from "../../src/player/widgets";

function Harness({ content, seen }: { content: StudentContent; seen: Answer[] }) {
  const [answer, setAnswer] = useState(emptyAnswer(content));
  return (
    <AnswerWidget
      content={content}
      answer={answer}
      disabled={false}
      prompt="Question"
      onChange={(next) => {
        seen.push(next);
        setAnswer(next);
      }}
    />
  );
}

describe("answer widgets produce what the API takes", () => {
  it("multiple choice with several answers", () => {
    const seen: Answer[] = [];
    render(<Harness seen={seen} content={{ type: "MULTIPLE_CHOICE", options: [{ id: "a", text: "Oxygen" }, { id: "b", text: "Glucose" }], multiple_answers: true, answers_expected: 2 }} />);
    fireEvent.click(screen.getByLabelText("Oxygen"));
    fireEvent.click(screen.getByLabelText("Glucose"));
    expect(seen.at(-1)).toEqual({ type: "MULTIPLE_CHOICE", option_ids: ["a", "b"] });
    expect(screen.getByLabelText("Oxygen")).toHaveProperty("type", "checkbox");
  });
  it("true/false", () => {
    const seen: Answer[] = [];
    render(<Harness seen={seen} content={{ type: "TRUE_FALSE" }} />);
    fireEvent.click(screen.getByLabelText("False"));
    expect(seen.at(-1)).toEqual({ type: "TRUE_FALSE", value: false });
  });
  it("short answer", () => {
    const seen: Answer[] = [];
    render(<Harness seen={seen} content={{ type: "SHORT_ANSWER" }} />);
    fireEvent.change(screen.getByLabelText("Question"), { target: { value: "glucose" } });
    expect(seen.at(-1)).toEqual({ type: "SHORT_ANSWER", text: "glucose" });
  });
  it("fill in the blanks, inline", () => {
    const seen: Answer[] = [];
    render(<Harness seen={seen} content={{ type: "FILL_IN_THE_BLANK", template: "The {{b1}} absorbs {{b2}}.", blank_ids: ["b1", "b2"] }} />);
    fireEvent.change(screen.getByLabelText("Blank 1"), { target: { value: "chlorophyll" } });
    fireEvent.change(screen.getByLabelText("Blank 2"), { target: { value: "light" } });
    expect(seen.at(-1)).toEqual({ type: "FILL_IN_THE_BLANK", blanks: { b1: "chlorophyll", b2: "light" } });
  });
  it("matching", () => {
    const seen: Answer[] = [];
    render(<Harness seen={seen} content={{ type: "MATCHING", left: [{ id: "l1", text: "Stomata" }], right: [{ id: "r1", text: "Pores" }, { id: "r2", text: "Pigment" }] }} />);
    fireEvent.change(screen.getByLabelText("Match for Stomata"), { target: { value: "r1" } });
    expect(seen.at(-1)).toEqual({ type: "MATCHING", matches: { l1: "r1" } });
  });
  it("ordering with the keyboard's buttons", () => {
    const seen: Answer[] = [];
    render(<Harness seen={seen} content={{ type: "ORDERING", items: [{ id: "s2", text: "Second" }, { id: "s1", text: "First" }] }} />);
    expect(screen.getByRole("button", { name: "Move “Second” up" })).toHaveProperty("disabled", true);
    fireEvent.click(screen.getByRole("button", { name: "Move “First” up" }));
    expect(seen.at(-1)).toEqual({ type: "ORDERING", order: ["s1", "s2"] });
    expect(screen.getByText(/First moved to position 1 of 2/)).toBeTruthy();
  });
});
