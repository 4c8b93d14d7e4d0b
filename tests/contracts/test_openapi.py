"""The HTTP contract of all five services: the web client's types are generated from their
OpenAPI documents (web/src/api/), so every route must say precisely what it answers — a typed
body for every success, timestamps as date-times, no "any" left where a client needs a type.
The documents are built in-process, as web/scripts/export_openapi.py builds them: no I/O."""

from __future__ import annotations

import importlib
import json
import logging
from functools import cache

import pytest

from cuepoint.contracts.topics import SERVICES
from cuepoint.runtime.service import ServiceContext, build_app

pytestmark = pytest.mark.unit

# Bodies that are not JSON but declared by media type: a client reads them as text.
TEXT_MEDIA_TYPES = {"text/csv", "text/vtt", "text/plain"}
# Fields that hold any JSON by design: an author's own metadata, a system config's value (a number,
# a string or an object, as the config says), an audit entry's details.
FREE_FORM = {"metadata", "data", "value", "default"}


@cache
def document(service: str) -> dict:
    logging.disable(logging.WARNING)  # the local development key's warning is not under test here
    try:
        spec = importlib.import_module(f"cuepoint.{service}.bootstrap").spec()
        return build_app(spec, ServiceContext(service, spec.settings())).openapi()
    finally:
        logging.disable(logging.NOTSET)


def _resolve(document: dict, schema: dict) -> dict:
    while isinstance(schema, dict) and "$ref" in schema:
        schema = document["components"]["schemas"][schema["$ref"].rsplit("/", 1)[-1]]
    return schema


def vague_parts(document: dict, schema: object, where: str, seen: set[str] | None = None) -> list[str]:
    """The places in ``schema`` a generated client could only type as "any"."""
    seen = set() if seen is None else seen
    if not isinstance(schema, dict):
        return [where]
    if "$ref" in schema:
        if schema["$ref"] in seen:
            return []
        seen = seen | {schema["$ref"]}
    schema = _resolve(document, schema)
    if not any(key in schema for key in ("type", "anyOf", "oneOf", "allOf", "enum", "const", "properties")):
        return [where]  # {} or only a title: "any"
    problems = []
    for option in schema.get("anyOf", []) + schema.get("oneOf", []):
        problems += vague_parts(document, option, where, seen)
    if schema.get("type") == "array":
        for index, item in enumerate(schema.get("prefixItems", [])):  # a tuple, e.g. [start, end]
            problems += vague_parts(document, item, f"{where}[{index}]", seen)
        if "prefixItems" not in schema:
            problems += vague_parts(document, schema.get("items"), f"{where}[]", seen)
    if schema.get("type") == "object" and not schema.get("properties") and not isinstance(
            schema.get("additionalProperties"), dict) and not schema.get("patternProperties"):
        problems.append(f"{where} (an object of unknown keys)")
    for name, field in schema.get("properties", {}).items():
        if name in FREE_FORM:
            continue
        problems += vague_parts(document, field, f"{where}.{name}", seen)
        if name.endswith("_at") and "date-time" not in json.dumps(_resolve(document, field)):
            problems.append(f"{where}.{name} is not a date-time")
    return problems


def undeclared(document: dict) -> list[str]:
    """Operations whose success answer a generated client could not type."""
    problems = []
    for path, operations in document["paths"].items():
        for method, operation in operations.items():
            where = f"{method.upper()} {path}"
            successes = {code: answer for code, answer in operation["responses"].items() if code.startswith("2")}
            if not successes:
                problems.append(f"{where}: no 2xx answer")
            for code, answer in successes.items():
                if code == "204":
                    continue
                content = answer.get("content") or {}
                if not content:
                    problems.append(f"{where} {code}: no body declared")
                for media_type, body in content.items():
                    if media_type == "text/event-stream":
                        data = body.get("itemSchema", {}).get("properties", {}).get("data", {})
                        problems += vague_parts(document, data.get("contentSchema"), f"{where} {code} event data")
                    elif media_type in TEXT_MEDIA_TYPES:
                        continue
                    else:
                        problems += vague_parts(document, body.get("schema"), f"{where} {code} body")
    return problems


@pytest.mark.parametrize("service", SERVICES)
def test_every_route_declares_what_it_answers(service: str) -> None:
    served = document(service)
    assert undeclared(served) == []
    assert len(served["paths"]) > 3, "the service's own routes are in the document"


@pytest.mark.parametrize("schema, vague", [
    ({"title": "Response A"}, True),
    ({"type": "object", "additionalProperties": True}, True),
    ({"type": "array", "items": {}}, True),
    ({"type": "object", "properties": {"created_at": {"type": "string"}}}, True),
    ({"type": "object", "properties": {"created_at": {"type": "string", "format": "date-time"}}}, False),
    ({"anyOf": [{"type": "integer"}, {"type": "null"}]}, False),
    ({"type": "object", "additionalProperties": {"type": "number"}}, False),
])
def test_the_check_tells_a_typed_schema_from_a_vague_one(schema: dict, vague: bool) -> None:
    assert bool(vague_parts({"components": {"schemas": {}}}, schema, "body")) is vague


def test_the_check_finds_undeclared_answers() -> None:
    untyped = {"paths": {"/a": {"get": {"responses": {"200": {"content": {"application/json": {"schema": {}}}}}}},
                         "/b": {"get": {"responses": {"200": {"content": {"text/event-stream": {}}}}}},
                         "/c": {"post": {"responses": {"422": {}}}},
                         "/d": {"delete": {"responses": {"204": {"description": "gone"}}}},
                         "/e": {"get": {"responses": {"200": {"content": {"text/csv": {}}}}}}}}
    assert [problem.split(":")[0].split(" ")[1] for problem in undeclared(untyped)] == ["/a", "/b", "/c"]
