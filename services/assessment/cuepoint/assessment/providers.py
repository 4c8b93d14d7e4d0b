"""AI providers: one call drafts questions for one milestone's transcript window.

A provider makes exactly one request per call and reports its token counts; retrying,
backoff, usage logging and budgets are a job's run's (use_cases/generation.py), so every
request, failed ones included, is logged once.
"""

from __future__ import annotations

import asyncio
import re
import time
from dataclasses import dataclass, field
from typing import Literal, Protocol

import openai
from openai.types.chat import ChatCompletion
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
        self.timeout = timeout
        self.where = base_url or "the OpenAI API"
        # Our own loop retries (so each request is logged); the SDK must not retry behind it. Strict validation:
        # a 200 that is not a chat completion (an HTML login page, a proxy's error page, some other JSON) is
        # refused by the SDK instead of coming back as a string.
        self.client = openai.AsyncOpenAI(api_key=api_key, base_url=base_url, max_retries=0, timeout=timeout,
                                         _strict_response_validation=True)

    async def draft(self, request: DraftRequest) -> Drafts:
        prompt = render(self.prompt_template, count=request.count, types=request.types, milestone=request.milestone,
                        window=request.window)
        try:
            # The SDK's timeout bounds each read; this bounds the whole request, so a provider that trickles
            # its answer a byte at a time is cut off too.
            async with asyncio.timeout(self.timeout):
                response = await self.client.chat.completions.create(
                    model=self.model, temperature=self.temperature, max_tokens=self.max_tokens,
                    messages=[{"role": "system", "content": SYSTEM_MESSAGE}, {"role": "user", "content": prompt}],
                    response_format={"type": "json_schema", "json_schema": {
                        "name": "cuepoint_questions", "schema": output_schema()}})
        except (TimeoutError, openai.APITimeoutError) as error:
            raise ProviderError(f"the provider did not answer in time (within {self.timeout:g} s in all)",
                                retryable=True) from error
        except openai.APIResponseValidationError as error:
            # Not what we asked for: most often a wrong base URL (a web page, not the API). Retrying would
            # get the same answer; the job fails at once, saying so.
            tokens_in, tokens_out = _usage_in(error.body)
            raise ProviderError(f"{self.where} answered {error.status_code} with something that is not a chat "
                                f"completion ({_content_type(error.response)}); is the base URL the API's "
                                "(often ending in /v1)?", retryable=False, tokens_in=tokens_in,
                                tokens_out=tokens_out) from error
        except ValueError as error:  # declared JSON that does not parse
            raise ProviderError(f"{self.where} answered with a body that is not valid JSON", retryable=False) \
                from error
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


# --- testing a configuration's connection -------------------------------------------------------

ConnectionProblem = Literal["NO_API_KEY", "AUTHENTICATION_REFUSED", "MODEL_NOT_FOUND", "UNREACHABLE", "TIMED_OUT",
                            "RATE_LIMITED", "PROVIDER_ERROR", "UNEXPECTED_ANSWER"]
PROBE_MESSAGE = "Reply with the single word OK."
PROBE_MAX_TOKENS = 5
# Keys in the shape providers use, should a provider's error message repeat one.
KEY_LIKE = re.compile(r"\b(sk|key|api)[-_][A-Za-z0-9_\-*.]{4,}", re.IGNORECASE)


@dataclass(frozen=True)
class ConnectionCheck:
    """One bounded request's outcome. ``problem``/``detail`` only when not ok; the detail never holds the key."""

    ok: bool
    latency_ms: int | None
    problem: ConnectionProblem | None = None
    detail: str | None = None
    tokens_in: int = 0
    tokens_out: int = 0


def check_offline() -> ConnectionCheck:
    """The built-in generator is always there: nothing to reach, nothing billed."""
    return ConnectionCheck(ok=True, latency_ms=0)


def no_api_key() -> ConnectionCheck:
    return ConnectionCheck(ok=False, latency_ms=None, problem="NO_API_KEY",
                           detail="this configuration has no API key: add one, then test again")


async def check_openai(*, model: str, api_key: str, base_url: str | None, deadline: float) -> ConnectionCheck:
    """One tiny chat completion within ``deadline`` seconds in all (connect, send, wait, read), classified."""
    # Strict validation: a 200 that is not a chat completion (an HTML login page, a proxy's error) is refused
    # by the SDK instead of passing through as text.
    client = openai.AsyncOpenAI(api_key=api_key, base_url=base_url, max_retries=0, timeout=deadline,
                                _strict_response_validation=True)
    where = base_url or "the OpenAI API"
    started = time.monotonic()

    def failed(problem: ConnectionProblem, detail: str) -> ConnectionCheck:
        return ConnectionCheck(ok=False, latency_ms=_elapsed_ms(started), problem=problem,
                               detail=_redacted(detail, api_key))

    try:
        async with asyncio.timeout(deadline):  # the SDK's timeout is per read; this bounds the whole request
            response = await client.chat.completions.create(
                model=model, max_tokens=PROBE_MAX_TOKENS, messages=[{"role": "user", "content": PROBE_MESSAGE}])
    except (TimeoutError, openai.APITimeoutError):
        return failed("TIMED_OUT", f"{where} did not answer within {deadline:g} s")
    except openai.APIConnectionError as error:
        cause = type(error.__cause__).__name__ if error.__cause__ else "connection error"
        return failed("UNREACHABLE", f"cannot reach {where} ({cause})")
    except openai.APIResponseValidationError as error:
        return failed("UNEXPECTED_ANSWER", f"{where} answered {error.status_code} with something that is not a "
                                           f"chat completion ({_content_type(error.response)}); is the base URL "
                                           "the API's (often ending in /v1)?")
    except ValueError:  # declared JSON that does not parse
        return failed("UNEXPECTED_ANSWER", f"{where} answered with something that is not valid JSON")
    except (openai.AuthenticationError, openai.PermissionDeniedError) as error:
        return failed("AUTHENTICATION_REFUSED", f"the provider refused the API key ({error.status_code}): "
                                                f"{_message(error)}")
    except openai.APIStatusError as error:
        code = _error_code(error)
        if error.status_code == 404 or code == "model_not_found":
            return failed("MODEL_NOT_FOUND", f"the provider does not know the model {model!r} "
                                             f"({error.status_code}): {_message(error)}")
        if error.status_code == 429:
            return failed("RATE_LIMITED", f"the provider is rate limiting or out of quota (429): {_message(error)}")
        if error.status_code >= 500:
            return failed("PROVIDER_ERROR", f"the provider failed ({error.status_code}): {_message(error)}")
        return failed("UNEXPECTED_ANSWER", f"the provider refused the request ({error.status_code}): "
                                           f"{_message(error)}")
    finally:
        await client.close()
    latency_ms = _elapsed_ms(started)
    if not isinstance(response, ChatCompletion):
        return ConnectionCheck(ok=False, latency_ms=latency_ms, problem="UNEXPECTED_ANSWER",
                               detail=f"{where} answered something that is not a chat completion")
    usage = response.usage
    tokens_in, tokens_out = (usage.prompt_tokens, usage.completion_tokens) if usage else (0, 0)
    if not response.choices:
        return ConnectionCheck(ok=False, latency_ms=latency_ms, problem="UNEXPECTED_ANSWER",
                               detail=f"{where} answered a chat completion without any choice",
                               tokens_in=tokens_in, tokens_out=tokens_out)
    return ConnectionCheck(ok=True, latency_ms=latency_ms, tokens_in=tokens_in, tokens_out=tokens_out)


def _usage_in(body: object) -> tuple[int, int]:
    """The token counts of an answer that was not a proper chat completion, if it said them: they were billed."""
    usage = body.get("usage") if isinstance(body, dict) else None
    if not isinstance(usage, dict):
        return 0, 0
    counts = (usage.get("prompt_tokens"), usage.get("completion_tokens"))
    return tuple(n if isinstance(n, int) and n >= 0 else 0 for n in counts)  # type: ignore[return-value]


def _elapsed_ms(started: float) -> int:
    return int((time.monotonic() - started) * 1000)


def _redacted(text: str, api_key: str) -> str:
    if api_key:
        text = text.replace(api_key, "[the key]")
    return KEY_LIKE.sub("[a key]", text)


def _content_type(response: object) -> str:
    headers = getattr(response, "headers", {}) or {}
    return headers.get("content-type", "no content type").split(";")[0] or "no content type"


def _error_code(error: openai.APIStatusError) -> str | None:
    body = error.body
    inner = body.get("error", body) if isinstance(body, dict) else None
    return str(inner.get("code")) if isinstance(inner, dict) and inner.get("code") else None


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

