"""AI providers: one call drafts questions for one milestone's transcript window.

A provider makes exactly one request per call and reports its token counts; retrying,
backoff, usage logging and budgets are the job runner's (generation.py), so every
request, failed ones included, is logged once.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Protocol

import openai
from pydantic import ValidationError

from .domain import offline_generator
from .domain.offline_generator import NotEnoughTranscript, TimedText
from .domain.prompting import (
    PROMPT_VERSION,
    SYSTEM_MESSAGE,
    DraftedQuestion,
    DraftedQuestions,
    OutputProblem,
    accept,
    output_schema,
    render,
)


@dataclass(frozen=True)
class DraftRequest:
    milestone: str
    window: list[TimedText]
    count: int
    types: list[str]


@dataclass(frozen=True)
class Drafts:
    questions: list[DraftedQuestion]
    tokens_in: int
    tokens_out: int


@dataclass
class ProviderError(Exception):
    """A request failed. ``retryable``: worth another try (rate limit, 5xx, timeout, bad output)."""

    message: str
    retryable: bool
    tokens_in: int = 0
    tokens_out: int = 0
    retry_after: float | None = field(default=None)

    def __str__(self) -> str:
        return self.message


class Provider(Protocol):
    name: str
    model: str
    prompt_version: str

    async def draft(self, request: DraftRequest) -> Drafts: ...


class OfflineProvider:
    """The built-in generator: no network, no cost, the same questions for the same text."""

    name = offline_generator.PROVIDER
    model = offline_generator.MODEL
    prompt_version = offline_generator.PROMPT_VERSION

    async def draft(self, request: DraftRequest) -> Drafts:
        try:
            drafts = offline_generator.generate(request.window, count=request.count, types=request.types)
        except NotEnoughTranscript as error:
            raise ProviderError(str(error), retryable=False) from error
        questions = [DraftedQuestion(prompt=d.prompt, explanation=d.explanation, difficulty=d.difficulty,
                                     content=d.content) for d in drafts]
        words_out = sum(len(q.model_dump_json().split()) for q in questions)
        return Drafts(questions, tokens_in=sum(len(s.text.split()) for s in request.window), tokens_out=words_out)


class OpenAIProvider:
    """Any OpenAI-compatible chat completions endpoint, with JSON-schema structured output
    validated against the same Pydantic models as every other question."""

    name = "OPENAI"
    prompt_version = PROMPT_VERSION

    def __init__(self, *, model: str, api_key: str, base_url: str | None, temperature: float, max_tokens: int,
                 prompt_template: str, timeout: float) -> None:
        self.model = model
        self.temperature = temperature
        self.max_tokens = max_tokens
        self.prompt_template = prompt_template
        # Our own loop retries (so each request is logged); the SDK must not retry behind it.
        self.client = openai.AsyncOpenAI(api_key=api_key, base_url=base_url, max_retries=0, timeout=timeout)

    async def draft(self, request: DraftRequest) -> Drafts:
        prompt = render(self.prompt_template, count=request.count, types=request.types, milestone=request.milestone,
                        window=request.window)
        try:
            response = await self.client.chat.completions.create(
                model=self.model, temperature=self.temperature, max_tokens=self.max_tokens,
                messages=[{"role": "system", "content": SYSTEM_MESSAGE}, {"role": "user", "content": prompt}],
                response_format={"type": "json_schema", "json_schema": {
                    "name": "cuepoint_questions", "schema": output_schema()}})
        except openai.APITimeoutError as error:
            raise ProviderError("the provider did not answer in time", retryable=True) from error
        except openai.APIConnectionError as error:
            raise ProviderError(f"cannot reach the provider: {error}", retryable=True) from error
        except openai.RateLimitError as error:
            raise ProviderError("the provider is rate limiting (429)", retryable=True,
                                retry_after=_retry_after(error)) from error
        except openai.APIStatusError as error:
            retryable = error.status_code >= 500
            raise ProviderError(f"the provider answered {error.status_code}: {_message(error)}",
                                retryable=retryable) from error
        usage = response.usage
        tokens_in = usage.prompt_tokens if usage else 0
        tokens_out = usage.completion_tokens if usage else 0
        text = response.choices[0].message.content if response.choices else None
        try:
            batch = DraftedQuestions.model_validate_json(text or "")
            questions = accept(batch, count=request.count, types=request.types)
        except ValidationError as error:
            raise ProviderError(f"the provider's output does not fit the question schema: {_first_problem(error)}",
                                retryable=True, tokens_in=tokens_in, tokens_out=tokens_out) from error
        except OutputProblem as error:
            raise ProviderError(str(error), retryable=True, tokens_in=tokens_in, tokens_out=tokens_out) from error
        return Drafts(questions, tokens_in=tokens_in, tokens_out=tokens_out)


def _retry_after(error: openai.APIStatusError) -> float | None:
    try:
        return float(error.response.headers.get("retry-after", ""))
    except ValueError:
        return None


def _message(error: openai.APIStatusError) -> str:
    body = error.body
    if isinstance(body, dict):
        inner = body.get("error", body)
        if isinstance(inner, dict) and inner.get("message"):
            return str(inner["message"])[:300]
    return str(error)[:300]


def _first_problem(error: ValidationError) -> str:
    problems = error.errors()
    if not problems:
        return str(error)[:300]
    first = problems[0]
    where = ".".join(str(part) for part in first.get("loc", ())) or "the top level"
    if first.get("type") == "json_invalid":
        return "it is not valid JSON"
    return f"{where}: {first.get('msg')}" + (f" (and {len(problems) - 1} more)" if len(problems) > 1 else "")

