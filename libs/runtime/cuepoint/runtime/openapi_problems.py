"""Every route's OpenAPI says which 4xx answers it can give, each as ``application/problem+json``
(issue 16, finding 5): 422 where it takes parameters or a body (FastAPI's own 422 described a body we
never send), 401 and 403 where it needs a token, 404 where the path names something, 409 where it
changes something. A route's own, more precise description of a status is kept."""

from __future__ import annotations

import json
from typing import Any

from fastapi import FastAPI
from fastapi.routing import APIRoute

SCHEMA_NAME = "ProblemDetails"
PROBLEM_SCHEMA: dict[str, Any] = {
    "type": "object", "title": SCHEMA_NAME, "required": ["type", "title", "status"],
    "description": "An RFC 9457 problem.",
    "properties": {
        "type": {"type": "string"}, "title": {"type": "string"}, "status": {"type": "integer"},
        "detail": {"type": "string"}, "instance": {"type": "string"}, "request_id": {"type": "string"},
        "errors": {"type": "array", "description": "422: each invalid field", "items": {
            "type": "object", "required": ["location", "message"],
            "properties": {"location": {"type": "string"}, "message": {"type": "string"}, "type": {"type": "string"}}}},
    },
}
ANSWERS = {
    "401": "No valid access token (problem+json; `WWW-Authenticate: Bearer`)",
    "403": "The token's role or this user may not do this (problem+json)",
    "404": "Not found, or not visible to this user (problem+json)",
    "409": "Conflicts with the current state (problem+json)",
    "422": "Invalid request: each field's problem under `errors` (problem+json)",
}


def _authenticated(dependant: Any) -> bool:
    return any(getattr(d.call, "__name__", "") == "authenticated" or _authenticated(d) for d in dependant.dependencies)


def _api_routes(routes: Any) -> Any:
    """The app's routes, through included routers (FastAPI keeps those as routers of their own)."""
    for route in routes:
        if isinstance(route, APIRoute):
            yield route
        elif (included := getattr(route, "original_router", None)) is not None:
            yield from _api_routes(included.routes)


def document_problems(app: FastAPI) -> None:
    build = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is not None:
            return app.openapi_schema
        document = build()
        guarded = {(method.lower(), route.path) for route in _api_routes(app.routes)
                   if _authenticated(route.dependant) for method in route.methods}
        document.setdefault("components", {}).setdefault("schemas", {})[SCHEMA_NAME] = PROBLEM_SCHEMA
        content = {"application/problem+json": {"schema": {"$ref": f"#/components/schemas/{SCHEMA_NAME}"}}}
        for path, operations in document.get("paths", {}).items():
            for method, operation in operations.items():
                codes = []
                if operation.get("parameters") or operation.get("requestBody"):
                    codes.append("422")
                if (method, path) in guarded:
                    codes += ["401", "403"]
                if "{" in path:
                    codes.append("404")
                if method in ("post", "put", "patch", "delete") and (method, path) in guarded:
                    codes.append("409")
                responses = operation.setdefault("responses", {})
                if "application/json" in responses.get("422", {}).get("content", {}):
                    del responses["422"]  # FastAPI's HTTPValidationError: our 422 is a problem
                for code in codes:
                    responses.setdefault(code, {"description": ANSWERS[code], "content": content})
        schemas = document["components"]["schemas"]
        for unused in ("HTTPValidationError", "ValidationError"):  # FastAPI's, referenced by nothing now
            if unused in schemas and f"#/components/schemas/{unused}" not in json.dumps(
                    {**document, "components": {**document["components"],
                                                "schemas": {k: v for k, v in schemas.items() if k != unused}}}):
                del schemas[unused]
        app.openapi_schema = document
        return document

    app.openapi = openapi  # type: ignore[method-assign]
