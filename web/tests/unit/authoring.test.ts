import { describe, expect, it } from "vitest";
import { blanksOf, buildContent, emptyDraft } from "../../src/studio/authoring";

const ids = () => {
  let n = 0;
  return () => `id${++n}`;
};

describe("hand-written questions", () => {
  it("multiple choice marks the right options by random ids", () => {
    const built = buildContent("MULTIPLE_CHOICE", { ...emptyDraft(), options: [{ text: "Magma", correct: true }, { text: "Ice", correct: false }, { text: " ", correct: true }] }, ids());
    expect(built).toEqual({ content: { type: "MULTIPLE_CHOICE", options: [{ id: "id1", text: "Magma" }, { id: "id2", text: "Ice" }], correct_option_ids: ["id1"] } });
    expect(buildContent("MULTIPLE_CHOICE", { ...emptyDraft(), options: [{ text: "A", correct: false }, { text: "B", correct: false }] })).toEqual({ problem: "Mark at least one option as right." });
  });
  it("fill in the blanks renames the teacher's blank names to random ids", () => {
    expect(blanksOf("The {{1}} absorbs {{2}}, {{1}} again")).toEqual(["1", "2"]);
    const built = buildContent("FILL_IN_THE_BLANK", { ...emptyDraft(), template: "The {{1}} absorbs {{2}}.", blanks: { "1": "chlorophyll", "2": "light / sunlight" } }, ids());
    expect(built).toEqual({ content: { type: "FILL_IN_THE_BLANK", template: "The {{id1}} absorbs {{id2}}.", blanks: [{ id: "id1", accepted: ["chlorophyll"] }, { id: "id2", accepted: ["light", "sunlight"] }] } });
  });
  it("ordering keeps the order given, matching the pairs, short answers the lines", () => {
    expect(buildContent("ORDERING", { ...emptyDraft(), order: "first\nsecond\n\nthird" }, ids())).toEqual({
      content: { type: "ORDERING", items: [{ id: "id1", text: "first" }, { id: "id2", text: "second" }, { id: "id3", text: "third" }], correct_order: ["id1", "id2", "id3"] },
    });
    expect(buildContent("MATCHING", { ...emptyDraft(), pairs: [{ left: "Lava", right: "surface" }, { left: "Magma", right: "below" }] }, ids())).toEqual({
      content: { type: "MATCHING", pairs: [{ left_id: "id1", left: "Lava", right_id: "id2", right: "surface" }, { left_id: "id3", left: "Magma", right_id: "id4", right: "below" }] },
    });
    expect(buildContent("SHORT_ANSWER", { ...emptyDraft(), accepted: "magma\nmolten rock", tolerance: 1 })).toEqual({ content: { type: "SHORT_ANSWER", accepted_answers: ["magma", "molten rock"], tolerance: 1 } });
    expect(buildContent("TRUE_FALSE", { ...emptyDraft(), correct: false })).toEqual({ content: { type: "TRUE_FALSE", correct: false } });
  });
});
