"""What a user or an event can make assessment do: one module per aggregate or workflow
(questions, attempts, policies, configurations, generation)."""

from typing import Any


class _Unset:
    def __repr__(self) -> str:
        return "UNSET"


UNSET: Any = _Unset()  # a field an edit command leaves as it is (None is a value: e.g. no milestone)
