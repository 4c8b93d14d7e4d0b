"""What no route can take, refused before any route sees it (issue 16, finding 5).

- NUL (U+0000) in the path or the query: PostgreSQL's text and jsonb cannot store it, so it would
  surface as a 500 wherever it reached the database (in a body, ``api_models.Strict`` refuses it field
  by field, and the event ingest event by event, keeping the rest of its batch);
- JSON nested deeper than ``MAX_JSON_DEPTH``: Python's parser recurses, and a body nested ~1,000 deep
  raised RecursionError (a 500) instead of a validation error.

Each answers 422 problem+json. Plain ASGI (no per-request cost beyond a scan of the JSON body's bytes,
in C, and a bracket count only when the body has that many brackets at all); the body is buffered and
replayed to the route unchanged.
"""

from __future__ import annotations

import re
from typing import Any

MAX_JSON_DEPTH = 32
_STRING = re.compile(rb'"(?:[^"\\]|\\.)*"', re.DOTALL)
_BRACKET = re.compile(rb"[\[\]{}]")
_BODY_METHODS = {"POST", "PUT", "PATCH", "DELETE"}


def json_depth(body: bytes) -> int:
    """The deepest nesting of objects and arrays in a JSON text (strings skipped)."""
    depth = deepest = 0
    for match in _BRACKET.finditer(_STRING.sub(b'""', body)):
        if match.group() in (b"[", b"{"):
            depth += 1
            deepest = max(deepest, depth)
        else:
            depth -= 1
    return deepest


def refusal(path: str, query: bytes, content_type: bytes, body: bytes | None) -> str | None:
    """Why the request cannot be taken, or None."""
    if "\x00" in path or b"%00" in query or b"\x00" in query:
        return "the URL contains a NUL character (%00), which no text field can hold"
    if body is None or b"json" not in content_type:
        return None
    if body.count(b"[") + body.count(b"{") > MAX_JSON_DEPTH and json_depth(body) > MAX_JSON_DEPTH:
        return f"the body nests objects and arrays more than {MAX_JSON_DEPTH} deep"
    return None


class RequestLimits:
    def __init__(self, app: Any) -> None:
        self.app = app

    async def __call__(self, scope: dict, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = dict(scope.get("headers") or ())
        content_type = headers.get(b"content-type", b"").lower()
        body: bytes | None = None
        if scope["method"] in _BODY_METHODS and b"json" in content_type:
            chunks = []
            while True:
                message = await receive()
                if message["type"] == "http.disconnect":
                    return
                chunks.append(message.get("body", b""))
                if not message.get("more_body"):
                    break
            body = b"".join(chunks)
            receive = _replay(body, receive)
        reason = refusal(scope.get("path", ""), scope.get("query_string", b""), content_type, body)
        if reason is not None:
            from .http import problem_response  # http installs this middleware

            response = problem_response(422, "Invalid request", reason, instance=scope.get("path"),
                                        errors=[{"location": "request", "message": reason, "type": "value_error"}])
            await response(scope, receive, send)
            return
        await self.app(scope, receive, send)


def _replay(body: bytes, receive: Any) -> Any:
    sent = False

    async def replayed() -> dict[str, Any]:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}
        return await receive()  # after the body: the disconnect, when it comes

    return replayed
