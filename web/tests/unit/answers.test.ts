import { describe, expect, it } from "vitest";
import { emptyAnswer, fromServer, isComplete, moveItem, parseTemplate, toggleOption, type StudentContent } from "../../src/player/answers";

const choice: StudentContent = { type: "MULTIPLE_CHOICE", options: [{ id: "a", text: "A" }, { id: "b", text: "B" }], multiple_answers: true };
const matching: StudentContent = { type: "MATCHING", left: [{ id: "l1", text: "x" }, { id: "l2", text: "y" }], right: [{ id: "r1", text: "1" }, { id: "r2", text: "2" }] };

describe("answers", () => {
  it("single choice keeps one option, multiple toggles", () => {
    expect(toggleOption(["a"], "b", false)).toEqual(["b"]);
    expect(toggleOption(["a"], "b", true)).toEqual(["a", "b"]);
    expect(toggleOption(["a", "b"], "a", true)).toEqual(["b"]);
  });
  it("moves ordering items within bounds", () => {
    expect(moveItem(["s1", "s2", "s3"], 2, 1)).toEqual(["s1", "s3", "s2"]);
    expect(moveItem(["s1", "s2", "s3"], 0, -1)).toEqual(["s1", "s2", "s3"]);
    expect(moveItem(["s1", "s2", "s3"], 0, 2)).toEqual(["s2", "s3", "s1"]);
  });
  it("splits a fill-in template into text and blanks", () => {
    expect(parseTemplate("The {{b1}} absorbs {{b2}}.")).toEqual([
      { text: "The " }, { blank: "b1" }, { text: " absorbs " }, { blank: "b2" }, { text: "." },
    ]);
  });
  it("is complete only when every part is given", () => {
    expect(isComplete(choice, emptyAnswer(choice))).toBe(false);
    expect(isComplete(choice, { type: "MULTIPLE_CHOICE", option_ids: ["a"] })).toBe(true);
    expect(isComplete(matching, { type: "MATCHING", matches: { l1: "r1" } })).toBe(false);
    expect(isComplete(matching, { type: "MATCHING", matches: { l1: "r1", l2: "r2" } })).toBe(true);
    const tf: StudentContent = { type: "TRUE_FALSE" };
    expect(isComplete(tf, emptyAnswer(tf))).toBe(false);
    expect(isComplete(tf, { type: "TRUE_FALSE", value: false })).toBe(true);
    const fill: StudentContent = { type: "FILL_IN_THE_BLANK", template: "{{b1}} {{b2}}", blank_ids: ["b1", "b2"] };
    expect(isComplete(fill, { type: "FILL_IN_THE_BLANK", blanks: { b1: "x", b2: " " } })).toBe(false);
  });
  it("orders start as shown and previous answers come back as widget state", () => {
    const ordering: StudentContent = { type: "ORDERING", items: [{ id: "s2", text: "b" }, { id: "s1", text: "a" }] };
    expect(emptyAnswer(ordering)).toEqual({ type: "ORDERING", order: ["s2", "s1"] });
    expect(fromServer(ordering, { order: ["s1", "s2"] })).toEqual({ type: "ORDERING", order: ["s1", "s2"] });
    expect(fromServer(choice, null)).toEqual({ type: "MULTIPLE_CHOICE", option_ids: [] });
  });
});
