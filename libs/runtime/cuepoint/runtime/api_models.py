"""Building blocks of every service's request and response models, so the five APIs speak one
format that the web client's generated types can rely on:

- timestamps are ``datetime`` fields: Pydantic writes an aware UTC value as RFC 3339 with ``Z``
  (``str(datetime)`` would write ``2026-12-02 07:42:49+00:00``);
- scores, percentages, seconds and money are JSON numbers, rounded where a person reads them
  (a ``Decimal`` from PostgreSQL would otherwise be written as a string such as ``"0E-20"``);
- every list answers a ``Page`` with its total, so a client can paginate.
"""

from __future__ import annotations

from typing import Annotated, Generic, TypeVar

from pydantic import BaseModel, ConfigDict, PlainSerializer

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


class Strict(BaseModel):
    """A request body: an unknown field is a client's mistake and answers 422."""

    model_config = ConfigDict(extra="forbid")


class Out(BaseModel):
    """A response body, read from a row or a dict (``model_validate(row)``)."""

    model_config = ConfigDict(from_attributes=True)


class Page(Out, Generic[T]):
    items: list[T]
    total: int
    limit: int
    offset: int
