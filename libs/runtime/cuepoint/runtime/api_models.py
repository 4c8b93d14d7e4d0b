"""Building blocks of every service's request and response models, so the five APIs speak one
format that the web client's generated types can rely on:

- timestamps are ``datetime`` fields: Pydantic writes an aware UTC value as RFC 3339 with ``Z``
  (``str(datetime)`` would write ``2026-12-02 07:42:49+00:00``);
- scores, percentages, seconds and money are JSON numbers, rounded where a person reads them
  (a ``Decimal`` from PostgreSQL would otherwise be written as a string such as ``"0E-20"``);
- every list answers a ``Page`` with its total, so a client can paginate (``page_limit``, ``Offset``);
- request text is bounded and holds no NUL (``Strict``, ``Text``).
"""

from __future__ import annotations

from typing import Annotated, Any, Generic, TypeVar

from fastapi import Query
from pydantic import AfterValidator, BaseModel, ConfigDict, Field, PlainSerializer, model_validator

T = TypeVar("T")


def _rounded(digits: int) -> PlainSerializer:
    return PlainSerializer(lambda value: None if value is None else round(float(value), digits),
                           return_type=float, when_used="json")


Percent = Annotated[float, _rounded(2)]
"""0–100, two decimals."""
Score = Annotated[float, _rounded(4)]
"""A score as the grading computes it (0–1 or points), four decimals."""
Seconds = Annotated[float, _rounded(3)]
"""A duration or a position in a video, milliseconds kept."""
Money = Annotated[float, _rounded(6)]
"""US dollars; AI costs are fractions of a cent."""


MAX_TEXT = 10_000
"""Characters of a request's text field unless the field says otherwise (``Field(max_length=…)``)."""
MAX_OFFSET = 1_000_000
"""How far a list can be paged: beyond PostgreSQL's bigint an offset was a 500; no list here is that long."""


def _no_nul(value: Any) -> Any:
    if isinstance(value, str) and "\x00" in value:
        raise ValueError("text may not contain the NUL character (\\u0000): it cannot be stored")
    if isinstance(value, dict):
        for key, item in value.items():
            _no_nul(key)
            _no_nul(item)
    elif isinstance(value, list | tuple):
        for item in value:
            _no_nul(item)
    return value


Text = Annotated[str, AfterValidator(_no_nul), Field(max_length=MAX_TEXT)]
"""Text from a client outside a request body model (a model's own ``str`` fields get the same through Strict)."""


def page_limit(maximum: int) -> Any:
    """``limit: page_limit(100) = 20``: 1 to ``maximum`` items a page."""
    return Annotated[int, Query(ge=1, le=maximum, description=f"Items per page, at most {maximum}")]


Offset = Annotated[int, Query(ge=0, le=MAX_OFFSET, description=f"Items to skip, at most {MAX_OFFSET:,}")]


class Strict(BaseModel):
    """A request body: an unknown field is a client's mistake and answers 422. The one validation layer
    for text of every service's requests: no NUL anywhere in it (PostgreSQL cannot store one), and no
    ``str`` field longer than ``MAX_TEXT`` unless the field allows more."""

    model_config = ConfigDict(extra="forbid", str_max_length=MAX_TEXT)

    @model_validator(mode="before")
    @classmethod
    def _text_holds_no_nul(cls, data: Any) -> Any:
        return _no_nul(data)


class Out(BaseModel):
    """A response body, read from a row or a dict (``model_validate(row)``)."""

    model_config = ConfigDict(from_attributes=True)


class Page(Out, Generic[T]):
    items: list[T]
    total: int
    limit: int
    offset: int
