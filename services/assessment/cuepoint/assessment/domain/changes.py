"""What an edit changed, as the events that announce it say it (changed_fields, before, after)."""

from __future__ import annotations

import uuid
from decimal import Decimal
from typing import Any


def as_json(value: Any) -> Any:
    """A column's value as an event carries it: decimals as strings (no float rounding), ids as strings."""
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, uuid.UUID):
        return str(value)
    return value


def _same(old: Any, new: Any) -> bool:
    if isinstance(old, Decimal | int | float) and isinstance(new, Decimal | int | float) \
            and not isinstance(old, bool) and not isinstance(new, bool):
        return Decimal(str(old)) == Decimal(str(new))
    return old == new


def changes_of(current: Any, values: dict[str, Any], names: tuple[str, ...]) -> list[str]:
    """Which of ``names`` ``values`` sets to something other than ``current`` holds (a row or a dict), sorted."""
    read = current.get if isinstance(current, dict) else lambda name: getattr(current, name)
    return sorted(name for name in names if name in values and not _same(read(name), values[name]))
