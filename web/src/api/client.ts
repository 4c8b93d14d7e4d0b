// One typed client per service, generated from its OpenAPI document (src/api/generated/), all
// behind the gateway at /api/<service>. Requests carry the access token; a 401 refreshes it once
// through the rotating refresh token and retries, so a person never notices the 15-minute expiry.
import createClient, { type Client } from "openapi-fetch";
import type { paths as AnalyticsPaths } from "./generated/analytics";
import type { paths as AssessmentPaths } from "./generated/assessment";
import type { paths as ContentPaths } from "./generated/content";
import type { paths as IdentityPaths } from "./generated/identity";
import type { paths as ProgressPaths } from "./generated/progress";
import { ApiError, type Problem } from "./problem";
import { session } from "../auth/session";

export { API_BASE } from "./base";
import { API_BASE } from "./base";

/** fetch with the bearer token, and one refresh-and-retry on 401. */
export async function authorizedFetch(input: Request): Promise<Response> {
  const retry = input.clone();
  const token = await session.accessToken();
  if (token) input.headers.set("Authorization", `Bearer ${token}`);
  const response = await fetch(input);
  if (response.status !== 401 || !token) return response;
  const renewed = await session.refresh(token);
  if (!renewed) return response;
  retry.headers.set("Authorization", `Bearer ${renewed}`);
  return fetch(retry);
}

function client<Paths extends {}>(service: string): Client<Paths> {
  return createClient<Paths>({ baseUrl: `${API_BASE}/${service}`, fetch: authorizedFetch });
}

export const identity = client<IdentityPaths>("identity");
export const content = client<ContentPaths>("content");
export const assessment = client<AssessmentPaths>("assessment");
export const progress = client<ProgressPaths>("progress");
export const analytics = client<AnalyticsPaths>("analytics");

/** The data of a call, or an ApiError carrying the problem the service answered. */
export async function unwrap<T>(
  call: Promise<{ data?: T; error?: unknown; response: Response }>,
): Promise<T> {
  let result;
  try {
    result = await call;
  } catch (error) {
    throw error instanceof ApiError ? error : new ApiError(0, {});
  }
  const { data, error, response } = result;
  if (!response.ok) throw new ApiError(response.status, (error ?? {}) as Problem);
  return data as T;
}

/** The JSON variant of a route that can also answer CSV (`format=csv`): its types allow both. */
export function jsonOnly<T extends object>(data: T | string): T {
  if (typeof data === "string") throw new Error("expected JSON, got CSV");
  return data;
}
