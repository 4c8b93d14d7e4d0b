"""Errors use cases raise; the HTTP layer answers each as problem+json with its status.

Use cases stay free of HTTP: they raise ``NotFound("lesson …")`` and the app factory
turns it into a 404 ``application/problem+json``.
"""

from __future__ import annotations

from typing import Any


class DomainError(Exception):
    status = 400
    title = "Bad request"
    slug = "bad-request"

    def __init__(self, detail: str, **extensions: Any) -> None:
        super().__init__(detail)
        self.detail = detail
        self.extensions = extensions


class Invalid(DomainError):
    status, title, slug = 422, "Invalid request", "invalid"


class Unauthenticated(DomainError):
    status, title, slug = 401, "Unauthorized", "unauthorized"


class Forbidden(DomainError):
    status, title, slug = 403, "Forbidden", "forbidden"


class NotFound(DomainError):
    status, title, slug = 404, "Not found", "not-found"


class Conflict(DomainError):
    status, title, slug = 409, "Conflict", "conflict"


class Gone(DomainError):
    status, title, slug = 410, "Gone", "gone"


class TooLarge(DomainError):
    status, title, slug = 413, "Content too large", "too-large"


class UnsupportedType(DomainError):
    status, title, slug = 415, "Unsupported media type", "unsupported-media-type"


class TooManyRequests(DomainError):
    status, title, slug = 429, "Too many requests", "too-many-requests"

    def __init__(self, detail: str, *, retry_after: int, **extensions: Any) -> None:
        super().__init__(detail, retry_after=retry_after, **extensions)
        self.retry_after = retry_after


class Unavailable(DomainError):
    status, title, slug = 503, "Service unavailable", "unavailable"
