// Every API error is RFC 9457 problem+json; the person sees its `detail` in words.
export interface Problem {
  type?: string;
  title?: string;
  status?: number;
  detail?: string;
  errors?: { field?: string; loc?: (string | number)[]; message?: string; msg?: string }[];
  [extension: string]: unknown;
}

export class ApiError extends Error {
  readonly status: number;
  readonly problem: Problem;

  constructor(status: number, problem: Problem) {
    super(describeProblem(problem, status));
    this.name = "ApiError";
    this.status = status;
    this.problem = problem;
  }
}

/** A sentence for a person: the detail, else the title, else what the status means, plus field errors. */
export function describeProblem(problem: Problem | undefined, status: number): string {
  const fields = (problem?.errors ?? [])
    .map((e) => {
      const where = e.field ?? e.loc?.filter((part) => part !== "body").join(".");
      const what = e.message ?? e.msg;
      return what ? (where ? `${where}: ${what}` : what) : undefined;
    })
    .filter(Boolean);
  const main = problem?.detail || problem?.title || statusText(status);
  return fields.length && !fields.some((f) => main.includes(f as string)) ? `${main} (${fields.join("; ")})` : main;
}

function statusText(status: number): string {
  if (status === 0) return "The server could not be reached. Check your connection and try again.";
  if (status === 401) return "Please sign in again.";
  if (status === 403) return "You do not have access to this.";
  if (status === 404) return "This was not found.";
  if (status === 429) return "Too many requests: wait a moment and try again.";
  if (status >= 500) return "The server had a problem. Try again in a moment.";
  return `The request failed (${status}).`;
}

/** The message to show for anything thrown while talking to the API. */
export function errorMessage(error: unknown): string {
  if (error instanceof ApiError) return error.message;
  if (error instanceof TypeError) return statusText(0); // fetch rejects with TypeError when offline
  if (error instanceof Error) return error.message;
  return "Something went wrong.";
}
