// The questions of a milestone, over the paused video: one at a time, graded by the server at
// once; after each attempt the score, the attempts left and the retry penalty; once a
// question is settled, its explanation and the right answer.
import { useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import { useEffect, useMemo, useRef, useState } from "react";
import { assessment, unwrap } from "../api/client";
import { keys, milestoneQuestionsQuery, myAttemptsQuery } from "../api/queries";
import type { AttemptResult, QuestionAttempts, StudentQuestion } from "../api/types";
import { errorMessage } from "../api/problem";
import { track } from "../telemetry";
import { ErrorNotice, Loading } from "../ui/states";
import { emptyAnswer, fromServer, isComplete, toRequest, type Answer, type StudentContent } from "./answers";
import { clock, type Mark } from "./rules";
import { AnswerWidget } from "./widgets";

interface Props {
  lessonId: string;
  milestone: Mark & { title?: string };
  onSettled: (milestoneId: string) => void;
  onClose: () => void;
  review: boolean; // opened from the list to look at answers, not by playback
}

export function QuestionPanel({ lessonId, milestone, onSettled, onClose, review }: Props) {
  const questions = useQuery(milestoneQuestionsQuery(milestone.id));
  const attempts = useQuery(myAttemptsQuery(milestone.id));
  const items = questions.data?.questions ?? [];
  const given = new Map((attempts.data?.items ?? []).map((attempt) => [attempt.question_id, attempt]));
  const allSettled = items.length > 0 && items.every((q) => q.settled);
  const [index, setIndex] = useState(0);
  const heading = useRef<HTMLHeadingElement>(null);

  useEffect(() => heading.current?.focus(), []);
  useEffect(() => {
    // Open on the first question still to answer.
    if (questions.isSuccess && !review) {
      const first = items.findIndex((q) => !q.settled);
      setIndex(first < 0 ? 0 : first);
    }
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [questions.isSuccess]);
  useEffect(() => {
    if (allSettled) onSettled(milestone.id);
  }, [allSettled, milestone.id, onSettled]);

  const question = items[index];
  return (
    <div className="overlay" role="dialog" aria-modal="false" aria-labelledby="milestone-title">
      <div className="panel">
        <header>
          <p className="meta">
            Milestone at {clock(milestone.timestamp)}
            {milestone.is_required ? " · required" : " · optional"}
          </p>
          <h2 id="milestone-title" tabIndex={-1} ref={heading}>
            {questions.data?.title ?? milestone.title ?? "Questions"}
          </h2>
        </header>
        {questions.isPending && <Loading label="Loading the questions…" />}
        {questions.isError && <ErrorNotice error={questions.error} retry={() => void questions.refetch()} />}
        {question && (
          <>
            <p className="meta" aria-live="polite">
              Question {index + 1} of {items.length}
            </p>
            <QuestionCard
              key={`${question.id}-${attempts.isSuccess}`}
              lessonId={lessonId}
              milestoneId={milestone.id}
              question={question}
              previous={given.get(question.id)}
            />
          </>
        )}
        <footer className="row">
          <div className="row">
            <button type="button" className="secondary" disabled={index === 0} onClick={() => setIndex(index - 1)}>
              Previous question
            </button>
            <button type="button" className="secondary" disabled={index >= items.length - 1} onClick={() => setIndex(index + 1)}>
              Next question
            </button>
          </div>
          {allSettled || !milestone.is_required || review ? (
            <button type="button" onClick={onClose}>
              {allSettled ? "Continue the video" : review ? "Close" : "Skip for now"}
            </button>
          ) : (
            <p className="hint">Answer every question to continue.</p>
          )}
        </footer>
      </div>
    </div>
  );
}

function number(value: unknown): number {
  const n = typeof value === "number" ? value : Number(value);
  return Number.isFinite(n) ? n : 0;
}

interface CardProps {
  lessonId: string;
  milestoneId: string;
  question: StudentQuestion;
  previous?: QuestionAttempts;
}

function QuestionCard({ lessonId, milestoneId, question, previous }: CardProps) {
  const content = question.content as StudentContent;
  const queryClient = useQueryClient();
  const initial = useMemo(
    () => (previous ? fromServer(content, previous.answer) : emptyAnswer(content)),
    // eslint-disable-next-line react-hooks/exhaustive-deps
    [question.id],
  );
  const [answer, setAnswer] = useState<Answer>(initial);
  const [result, setResult] = useState<AttemptResult | null>(null);
  const shownAt = useRef(Date.now());
  const idempotency = useRef(crypto.randomUUID());

  useEffect(() => {
    track({ type: "question.shown", lesson_id: lessonId, question_id: question.id, milestone_id: milestoneId });
    shownAt.current = Date.now();
  }, [lessonId, milestoneId, question.id]);

  const submit = useMutation({
    mutationFn: () =>
      unwrap(
        assessment.POST("/v1/questions/{question_id}/attempts", {
          params: { path: { question_id: question.id }, header: { "idempotency-key": idempotency.current } },
          body: { answer: toRequest(answer), time_taken_ms: Date.now() - shownAt.current },
        }),
      ),
    onSuccess: (graded) => {
      setResult(graded);
      idempotency.current = crypto.randomUUID(); // the next attempt is a new one; a retry of this one reuses the key
      track({ type: "question.answered", lesson_id: lessonId, question_id: question.id, time_to_answer_ms: Date.now() - shownAt.current });
      void queryClient.invalidateQueries({ queryKey: keys.milestoneQuestions(milestoneId) });
      void queryClient.invalidateQueries({ queryKey: ["assessment", "attempts", milestoneId] });
      void queryClient.invalidateQueries({ queryKey: ["progress"] });
    },
  });

  const settled = result?.settled ?? question.settled;
  const explanation = result?.explanation ?? question.explanation;
  const correct = result?.correct_answer ?? question.correct_answer;
  const attemptsLeft = result?.attempts_left ?? question.attempts_left;
  const penalty = number(result?.retry_penalty ?? question.retry_penalty);

  return (
    <form
      className="question"
      onSubmit={(event) => {
        event.preventDefault();
        if (isComplete(content, answer) && !settled) submit.mutate();
      }}
    >
      <h3 className="prompt">{question.prompt}</h3>
      <AnswerWidget content={content} answer={answer} onChange={setAnswer} disabled={settled || submit.isPending} prompt={question.prompt} />
      <div aria-live="polite" className="feedback">
        {result && (
          <p className={result.is_correct ? "notice success" : "notice warn"}>
            {result.is_correct ? "Correct! " : number(result.score) > 0 ? "Partly right. " : "Not quite. "}
            Score {formatScore(result.score)} of {formatScore(result.max_score)}.
            {!result.settled && (
              <>
                {" "}
                {attemptsLeft} {attemptsLeft === 1 ? "attempt" : "attempts"} left
                {penalty > 0 && <> · each retry costs {Math.round(penalty * 100)}% of the points</>}.
              </>
            )}
          </p>
        )}
        {!result && question.attempts_used > 0 && (
          <p className="meta">
            {settled ? "Answered" : `Tried ${question.attempts_used} of ${question.max_attempts} times`}
            {question.best_score != null && <> · best score {formatScore(question.best_score)}</>}
          </p>
        )}
        {submit.isError && (
          <p className="notice error" role="alert">
            {errorMessage(submit.error)}
          </p>
        )}
      </div>
      {settled && (explanation || correct != null) && (
        <div className="reveal">
          {correct != null && <p><strong>Right answer:</strong> {describeAnswer(content, correct)}</p>}
          {explanation && <p><strong>Why:</strong> {explanation}</p>}
        </div>
      )}
      {!settled && (
        <div className="row">
          <button type="submit" disabled={!isComplete(content, answer) || submit.isPending}>
            {submit.isPending ? "Checking…" : result ? "Try again" : "Submit answer"}
          </button>
          {!submit.isPending && attemptsLeft > 0 && !result && question.attempts_used === 0 && (
            <span className="hint">
              {question.max_attempts} {question.max_attempts === 1 ? "attempt" : "attempts"}
            </span>
          )}
        </div>
      )}
    </form>
  );
}

function formatScore(value: unknown): string {
  const n = number(value);
  return Number.isInteger(n) ? String(n) : n.toFixed(2).replace(/0$/, "");
}

/** The answer key in words, from the ids the server sends. */
export function describeAnswer(content: StudentContent, key: unknown): string {
  const k = (key ?? {}) as Record<string, unknown>;
  switch (content.type) {
    case "MULTIPLE_CHOICE": {
      const ids = (k.option_ids as string[]) ?? [];
      return content.options.filter((o) => ids.includes(o.id)).map((o) => o.text).join(", ");
    }
    case "TRUE_FALSE":
      return k.value ? "True" : "False";
    case "SHORT_ANSWER":
      return ((k.accepted_answers as string[]) ?? []).join(" or ");
    case "FILL_IN_THE_BLANK": {
      const blanks = (k.blanks as Record<string, string[]>) ?? {};
      return content.blank_ids.map((id) => (blanks[id] ?? []).join(" / ")).join("; ");
    }
    case "MATCHING": {
      const matches = (k.matches as Record<string, string>) ?? {};
      const right = new Map(content.right.map((r) => [r.id, r.text]));
      return content.left.map((l) => `${l.text} → ${right.get(matches[l.id] ?? "") ?? "?"}`).join("; ");
    }
    case "ORDERING": {
      const text = new Map(content.items.map((i) => [i.id, i.text]));
      return ((k.order as string[]) ?? []).map((id) => text.get(id)).join(" → ");
    }
  }
}
