"""Partial updates: a command field left UNSET keeps what the row has; None is a value (it empties
a clearable field)."""

from __future__ import annotations

from typing import Any


class _Unset:
    def __repr__(self) -> str:
        return "UNSET"


UNSET: Any = _Unset()


def changed(command: Any, *names: str) -> dict[str, Any]:
    """The fields of ``command`` among ``names`` that were given."""
    return {name: getattr(command, name) for name in names if getattr(command, name) is not UNSET}
