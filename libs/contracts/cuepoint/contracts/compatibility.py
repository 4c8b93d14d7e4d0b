"""Is a new JSON Schema of an event a compatible evolution of the committed one?

Events are read in both directions: old consumers read new events (they ignore unknown
fields), and new consumers replay old events from offset 0. So the only change allowed
within one ``.vN`` is *adding an optional field* (and rewording descriptions). Removing,
renaming or retyping a field, making one required, or changing an enum or union is a
breaking change and needs a new ``.vN`` event type.
"""

from __future__ import annotations

from typing import Any

# Annotations that do not change which documents validate.
_ANNOTATIONS = {"title", "description", "examples", "default", "deprecated", "readOnly", "writeOnly"}
# Keys that _compare descends into instead of comparing whole.
_STRUCTURE = {"properties", "required", "items", "anyOf", "oneOf", "allOf", "additionalProperties", "prefixItems", "$ref", "$defs"}


def breaking_changes(old: dict[str, Any], new: dict[str, Any]) -> list[str]:
    """Human-readable reasons why ``new`` breaks readers of ``old``; empty if compatible."""
    problems: list[str] = []
    _compare(old, new, old, new, "$", problems)
    return problems


def _resolve(node: Any, root: dict[str, Any]) -> Any:
    seen = 0
    while isinstance(node, dict) and "$ref" in node:
        ref = node["$ref"]
        if not ref.startswith("#/"):
            raise ValueError(f"only local $refs are supported, got {ref}")
        target: Any = root
        for part in ref[2:].split("/"):
            target = target[part]
        extra = {k: v for k, v in node.items() if k != "$ref"}
        node = {**target, **extra}
        seen += 1
        if seen > 50:
            raise ValueError(f"$ref cycle at {ref}")
    return node


def _assertions(node: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in node.items() if k not in _ANNOTATIONS and k not in _STRUCTURE and not k.startswith("x-")}


def _compare(old: Any, new: Any, old_root: dict, new_root: dict, path: str, problems: list[str]) -> None:
    old = _resolve(old, old_root)
    new = _resolve(new, new_root)
    if not isinstance(old, dict) or not isinstance(new, dict):
        if old != new:
            problems.append(f"{path}: schema changed from {old!r} to {new!r}")
        return

    old_rules, new_rules = _assertions(old), _assertions(new)
    if old_rules != new_rules:
        problems.append(f"{path}: type or constraints changed from {old_rules} to {new_rules}")

    old_props: dict[str, Any] = old.get("properties", {})
    new_props: dict[str, Any] = new.get("properties", {})
    old_required, new_required = set(old.get("required", [])), set(new.get("required", []))
    for name, old_prop in old_props.items():
        if name not in new_props:
            problems.append(f"{path}.{name}: field removed or renamed")
            continue
        _compare(old_prop, new_props[name], old_root, new_root, f"{path}.{name}", problems)
    for name in sorted(new_required - old_required):
        if name in old_props:
            problems.append(f"{path}.{name}: optional field became required")
        else:
            problems.append(f"{path}.{name}: new field is required (new fields must be optional)")

    for key in ("items", "additionalProperties"):
        if key in old or key in new:
            if (key in old) != (key in new):
                problems.append(f"{path}: `{key}` added or removed")
            else:
                _compare(old[key], new[key], old_root, new_root, f"{path}[{key}]", problems)

    for key in ("anyOf", "oneOf", "allOf", "prefixItems"):
        old_branches, new_branches = old.get(key), new.get(key)
        if old_branches is None and new_branches is None:
            continue
        if old_branches is None or new_branches is None or len(old_branches) != len(new_branches):
            problems.append(f"{path}: `{key}` alternatives changed")
            continue
        for index, (old_branch, new_branch) in enumerate(zip(old_branches, new_branches, strict=True)):
            _compare(old_branch, new_branch, old_root, new_root, f"{path}<{key}[{index}]>", problems)
