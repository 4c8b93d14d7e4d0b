import { describe, expect, it } from "vitest";
import { EventStreamParser } from "../../src/api/stream";
import { describeProblem } from "../../src/api/problem";

describe("the event stream parser", () => {
  it("joins events split across chunks and skips keep-alive comments", () => {
    const parser = new EventStreamParser();
    expect(parser.push(": ping\n\nevent: progress\nda")).toEqual([]);
    expect(parser.push('ta: {"a":1}\n\n')).toEqual([{ event: "progress", data: '{"a":1}', id: undefined }]);
    expect(parser.push("data: one\r\ndata: two\r\n\r\n")).toEqual([{ event: "message", data: "one\ntwo", id: undefined }]);
  });
});

describe("problem messages", () => {
  it("shows the detail, with field errors", () => {
    expect(describeProblem({ detail: "wrong password" }, 401)).toBe("wrong password");
    expect(describeProblem({ title: "Invalid", errors: [{ loc: ["body", "email"], msg: "not an email" }] }, 422)).toBe(
      "Invalid (email: not an email)",
    );
    expect(describeProblem(undefined, 503)).toMatch(/server had a problem/);
  });
});
