"""The OpenAPI document assessment serves: the student's view of a question must have no room for a key.
(That every route describes its answer is checked for all services in tests/contracts/test_openapi.py.)"""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.integration

# What a question's answer key is made of (domain/questions.py): none of it in a student's view.
KEY_FIELDS = {"correct_option_ids", "correct", "accepted_answers", "tolerance", "blanks", "accepted", "pairs",
              "correct_order"}


def _resolve(schema: dict, document: dict) -> dict:
    while "$ref" in schema:
        schema = document["components"]["schemas"][schema["$ref"].rsplit("/", 1)[-1]]
    return schema


def _properties(schema: dict, document: dict, seen: set[int] | None = None) -> set[str]:
    """Every property name reachable from ``schema``."""
    seen = set() if seen is None else seen
    schema = _resolve(schema, document)
    if id(schema) in seen:
        return set()
    seen.add(id(schema))
    names = set(schema.get("properties", {}))
    children = [*schema.get("properties", {}).values(), *schema.get("oneOf", []), *schema.get("anyOf", [])]
    if isinstance(schema.get("items"), dict):
        children.append(schema["items"])
    for child in children:
        names |= _properties(child, document, seen)
    return names


async def test_a_students_view_of_a_question_has_no_room_for_its_key(api):
    document = (await api.get("/openapi.json")).json()
    schemas = document["components"]["schemas"]
    student = schemas["StudentQuestion"]
    content = _properties(student["properties"]["content"], document)
    assert content >= {"type", "options", "multiple_answers", "template", "blank_ids", "left", "right", "items"}
    assert not content & KEY_FIELDS
    for variant in student["properties"]["content"]["oneOf"]:
        assert _resolve(variant, document)["additionalProperties"] is False  # an extra field is refused, not sent
    # The key and the explanation are there only once settled: optional, never required.
    assert {"correct_answer", "explanation"} & set(student["required"]) == set()
    for name in ("AttemptResult", "QuestionAttempts"):
        assert {"correct_answer", "explanation"} <= set(schemas[name]["properties"])
        assert {"correct_answer", "explanation"} & set(schemas[name]["required"]) == set()
        assert "settled" in schemas[name]["required"]
    milestone = _resolve(schemas["MilestoneQuestions"]["properties"]["questions"]["items"], document)
    assert milestone is student
