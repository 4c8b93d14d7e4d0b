import { describe, expect, it } from "vitest";
import { addRange, clock, contiguousEnd, decideSeek, milestoneToPause, nextGate, type Mark } from "../../src/player/rules";

const marks: Mark[] = [
  { id: "m1", timestamp: 20, is_required: true, question_count: 3 },
  { id: "m2", timestamp: 30, is_required: false, question_count: 1 },
  { id: "m3", timestamp: 45, is_required: true, question_count: 2 },
  { id: "m0", timestamp: 10, is_required: true, question_count: 0 },
];

describe("when the player pauses", () => {
  it("pauses at a milestone crossed by playback", () => {
    expect(milestoneToPause(19.8, 20.1, marks, new Set())?.id).toBe("m1");
    expect(milestoneToPause(19.9, 20, marks, new Set())?.id).toBe("m1"); // landing exactly on it
  });
  it("does not pause before reaching it, nor after it is behind", () => {
    expect(milestoneToPause(19.0, 19.9, marks, new Set())).toBeNull();
    expect(milestoneToPause(20.0, 20.3, marks, new Set())).toBeNull();
  });
  it("does not pause at a settled milestone or one without questions", () => {
    expect(milestoneToPause(19.8, 20.1, marks, new Set(["m1"]))).toBeNull();
    expect(milestoneToPause(9.9, 10.1, marks, new Set())).toBeNull();
  });
  it("pauses at optional milestones too", () => {
    expect(milestoneToPause(29.9, 30.2, marks, new Set())?.id).toBe("m2");
  });
  it("treats a long forward jump as a seek, not playback", () => {
    expect(milestoneToPause(10, 25, marks, new Set())).toBeNull();
    expect(milestoneToPause(25, 20.1, marks, new Set())).toBeNull(); // backwards
  });
});

describe("where a person may seek", () => {
  const free = { seekPolicy: "FREE", furthestAllowed: 0, playedUpTo: 0, marks, settled: new Set<string>() };
  it("refuses a seek past an unanswered required milestone and says why", () => {
    const decision = decideSeek(50, { ...free, furthestAllowed: 50, playedUpTo: 50 });
    expect(decision).toMatchObject({ allowed: false, to: 20 });
    // under no-skip-ahead, back to where playback reached, not to the gate
    expect(decideSeek(50, { ...free, seekPolicy: "NO_SKIP_AHEAD", furthestAllowed: 2, playedUpTo: 0 })).toMatchObject({ allowed: false, to: 0 });
    expect(!decision.allowed && decision.reason).toMatch(/0:20.*required/);
  });
  it("allows seeking before the gate and past settled milestones", () => {
    expect(decideSeek(15, free).allowed).toBe(true);
    expect(decideSeek(40, { ...free, settled: new Set(["m1"]) }).allowed).toBe(true);
    expect(decideSeek(50, { ...free, settled: new Set(["m1"]) }).allowed).toBe(false);
  });
  it("under no-skip-ahead refuses going past what was watched, with tolerance", () => {
    const rules = { ...free, seekPolicy: "NO_SKIP_AHEAD", furthestAllowed: 8, playedUpTo: 12, settled: new Set(["m1", "m3"]) };
    expect(decideSeek(14, rules).allowed).toBe(true);
    expect(decideSeek(14.5, rules)).toMatchObject({ allowed: false, to: 12 });
    expect(decideSeek(5, rules).allowed).toBe(true);
  });
  it("sends a refused seek back to the watched edge, never to the server's slack past it", () => {
    // A fresh student: the server allows 2 s of slack, but a range starting at 2 s would not count.
    const decision = decideSeek(50, { ...free, seekPolicy: "NO_SKIP_AHEAD", furthestAllowed: 2, playedUpTo: 0, settled: new Set(["m1", "m3"]) });
    expect(decision).toMatchObject({ allowed: false, to: 0 });
  });
  it("reads the watched edge as progress does, across gaps shorter than half a second", () => {
    expect(contiguousEnd([])).toBe(0);
    expect(contiguousEnd([[0, 20], [20.3, 30], [40, 50]])).toBe(30);
    expect(contiguousEnd([[1, 5]])).toBe(0);
  });
  it("finds the first unsettled required gate in time order", () => {
    expect(nextGate(marks, new Set())?.id).toBe("m1");
    expect(nextGate(marks, new Set(["m1"]))?.id).toBe("m3");
    expect(nextGate(marks, new Set(["m1", "m3"]))).toBeNull();
  });
});

describe("timeline helpers", () => {
  it("formats clock times", () => {
    expect(clock(83)).toBe("1:23");
    expect(clock(3723)).toBe("1:02:03");
    expect(clock(-4)).toBe("0:00");
  });
  it("merges played ranges", () => {
    let ranges: [number, number][] = [];
    ranges = addRange(ranges, 0, 10);
    ranges = addRange(ranges, 20, 30);
    ranges = addRange(ranges, 8, 21);
    ranges = addRange(ranges, 40, 40);
    expect(ranges).toEqual([[0, 30]]);
    expect(addRange(ranges, 35, 36)).toEqual([[0, 30], [35, 36]]);
  });
});
