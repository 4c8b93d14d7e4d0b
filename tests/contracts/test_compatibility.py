"""Properties of the compatibility rule: only optional additions pass."""

from __future__ import annotations

import copy
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from cuepoint.contracts.compatibility import breaking_changes
from cuepoint.contracts.registry import EVENT_TYPES, envelope_schema

pytestmark = pytest.mark.unit

SCHEMAS = [envelope_schema(event_type) for event_type in sorted(EVENT_TYPES)]


def _objects(schema: dict[str, Any]) -> list[dict[str, Any]]:
    """Every object schema with properties: the envelope and its $defs."""
    found = [schema]
    found += [d for d in schema.get("$defs", {}).values() if d.get("properties")]
    return found


schema_and_object = st.sampled_from(SCHEMAS).flatmap(
    lambda schema: st.tuples(st.just(schema), st.integers(0, len(_objects(schema)) - 1))
)
field_name = st.text(alphabet="abcdefghijklmnopqrstuvwxyz_", min_size=3, max_size=12).map(lambda s: "zz_" + s)
json_types = st.sampled_from([{"type": "string"}, {"type": "integer"}, {"type": "boolean"},
                              {"type": "string", "format": "uuid"}, {"anyOf": [{"type": "string"}, {"type": "null"}]}])


@settings(max_examples=150, deadline=None)
@given(schema_and_object, field_name, json_types)
def test_adding_an_optional_field_is_compatible(picked: tuple, name: str, type_schema: dict) -> None:
    schema, index = picked
    new = copy.deepcopy(schema)
    _objects(new)[index]["properties"][name] = {**type_schema, "description": "new"}
    assert breaking_changes(schema, new) == []


@settings(max_examples=150, deadline=None)
@given(schema_and_object, field_name, json_types)
def test_adding_a_required_field_breaks(picked: tuple, name: str, type_schema: dict) -> None:
    schema, index = picked
    new = copy.deepcopy(schema)
    target = _objects(new)[index]
    target["properties"][name] = type_schema
    target.setdefault("required", []).append(name)
    assert any(name in problem and "required" in problem for problem in breaking_changes(schema, new))


@settings(max_examples=150, deadline=None)
@given(schema_and_object, st.data())
def test_removing_or_renaming_a_field_breaks(picked: tuple, data: st.DataObject) -> None:
    schema, index = picked
    new = copy.deepcopy(schema)
    target = _objects(new)[index]
    name = data.draw(st.sampled_from(sorted(target["properties"])))
    moved = target["properties"].pop(name)
    if data.draw(st.booleans()):
        target["properties"][name + "_renamed"] = moved
    assert any(name in problem and "removed" in problem for problem in breaking_changes(schema, new))


@settings(max_examples=150, deadline=None)
@given(schema_and_object, st.data())
def test_retyping_a_field_breaks(picked: tuple, data: st.DataObject) -> None:
    schema, index = picked
    new = copy.deepcopy(schema)
    target = _objects(new)[index]
    name = data.draw(st.sampled_from(sorted(target["properties"])))
    target["properties"][name] = {"type": "array", "items": {"type": "number"}}
    assert breaking_changes(schema, new), f"retyping {name} went unnoticed"


@settings(max_examples=100, deadline=None)
@given(schema_and_object, st.data())
def test_making_an_optional_field_required_breaks(picked: tuple, data: st.DataObject) -> None:
    schema, index = picked
    new = copy.deepcopy(schema)
    target = _objects(new)[index]
    optional = sorted(set(target["properties"]) - set(target.get("required", [])))
    if not optional:
        return
    name = data.draw(st.sampled_from(optional))
    target.setdefault("required", []).append(name)
    assert any("became required" in problem for problem in breaking_changes(schema, new))


def test_rewording_descriptions_is_compatible() -> None:
    schema = SCHEMAS[0]
    new = copy.deepcopy(schema)
    for obj in _objects(new):
        for prop in obj["properties"].values():
            prop["description"] = "reworded"
    assert breaking_changes(schema, new) == []
