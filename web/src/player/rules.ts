// When the player must pause and where a person may seek. The server decides what counts
// (progress's `furthest_allowed` and the required milestones still to answer); the player only
// applies it between heartbeats, using what it has played since.

export interface Mark {
  id: string;
  timestamp: number;
  is_required: boolean;
  question_count: number;
}

export interface SeekRules {
  seekPolicy: "FREE" | "NO_SKIP_AHEAD" | string;
  furthestAllowed: number; // from the server (its watched edge plus a small slack)
  playedUpTo: number; // how far playback has run without a hole from the start, here included
  marks: Mark[];
  settled: ReadonlySet<string>; // milestones whose questions are all settled for this student
}

/** How far past the furthest point played a seek may still land (a heartbeat's rounding). */
export const SEEK_TOLERANCE = 2;
/** A forward jump longer than this is a seek, not playback: milestones inside it do not pause. */
const PLAYBACK_STEP = 1.5;

/** The milestone crossed by playing from `previous` to `current`, if playback must pause there. */
export function milestoneToPause(
  previous: number,
  current: number,
  marks: Mark[],
  settled: ReadonlySet<string>,
): Mark | null {
  if (current <= previous || current - previous > PLAYBACK_STEP) return null;
  return (
    marks.find(
      (mark) =>
        mark.question_count > 0 && !settled.has(mark.id) && mark.timestamp > previous && mark.timestamp <= current,
    ) ?? null
  );
}

/** The first required milestone with questions that this student has not settled. */
export function nextGate(marks: Mark[], settled: ReadonlySet<string>): Mark | null {
  return (
    [...marks]
      .sort((a, b) => a.timestamp - b.timestamp)
      .find((mark) => mark.is_required && mark.question_count > 0 && !settled.has(mark.id)) ?? null
  );
}

export type SeekDecision = { allowed: true } | { allowed: false; to: number; reason: string };

/** Whether a seek to `target` may happen; if not, where playback goes instead and why. */
export function decideSeek(target: number, rules: SeekRules): SeekDecision {
  const gate = nextGate(rules.marks, rules.settled);
  if (gate && target > gate.timestamp + 0.05) {
    return {
      allowed: false,
      to: Math.min(gate.timestamp, rules.seekPolicy === "NO_SKIP_AHEAD" ? rules.playedUpTo : target),
      reason: `Answer the questions at ${clock(gate.timestamp)} first: this milestone is required.`,
    };
  }
  if (rules.seekPolicy === "NO_SKIP_AHEAD" && target > furthest(rules)) {
    return {
      allowed: false,
      // Back to where playback really reached: the server ignores a range that starts past it.
      to: rules.playedUpTo,
      reason: "This lesson does not allow skipping ahead: you can go back, or forward to what you have watched.",
    };
  }
  return { allowed: true };
}

function furthest(rules: SeekRules): number {
  return Math.max(rules.furthestAllowed, rules.playedUpTo + SEEK_TOLERANCE);
}

/** Gaps shorter than this do not break continuous playback (progress's intervals.GAP). */
export const GAP = 0.5;

/** How far sorted ranges run without a hole from 0 (progress's contiguous_end). */
export function contiguousEnd(ranges: number[][]): number {
  let end = 0;
  for (const [start = 0, stop = 0] of [...ranges].sort((a, b) => (a[0] ?? 0) - (b[0] ?? 0))) {
    if (start > end + GAP) break;
    end = Math.max(end, stop);
  }
  return end;
}

/** 83 → "1:23", 3723 → "1:02:03". */
export function clock(seconds: number): string {
  const total = Math.max(0, Math.floor(seconds));
  const h = Math.floor(total / 3600);
  const m = Math.floor((total % 3600) / 60);
  const s = String(total % 60).padStart(2, "0");
  return h ? `${h}:${String(m).padStart(2, "0")}:${s}` : `${m}:${s}`;
}

/** Adds [start, end] to sorted, disjoint ranges. */
export function addRange(ranges: [number, number][], start: number, end: number): [number, number][] {
  if (end <= start) return ranges;
  const out: [number, number][] = [];
  let [s, e] = [start, end];
  for (const [a, b] of ranges) {
    if (b < s) out.push([a, b]);
    else if (a > e) out.push([a, b]);
    else [s, e] = [Math.min(a, s), Math.max(b, e)];
  }
  out.push([s, e]);
  return out.sort((x, y) => x[0] - y[0]);
}
