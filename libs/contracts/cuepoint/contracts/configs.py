"""The typed system configuration keys: type, default and meaning of each.

identity stores overrides (per tenant, or platform-wide) and publishes them on the
compacted ``identity.system-configs`` topic; every service resolves a key as
tenant override → platform override → the default below.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Annotated, Any, Literal

from pydantic import Field, TypeAdapter


@dataclass(frozen=True)
class ConfigKey:
    key: str
    type: Any
    default: Any
    description: str

    def validate(self, value: Any) -> Any:
        """The value, coerced to the key's type; raises ``pydantic.ValidationError``."""
        return TypeAdapter(self.type).validate_python(value)

    def to_json(self, value: Any) -> Any:
        return TypeAdapter(self.type).dump_python(value, mode="json")


GiB = 1024**3

CONFIG_KEYS: dict[str, ConfigKey] = {
    entry.key: entry
    for entry in (
        ConfigKey("video.maxFileSize", Annotated[int, Field(ge=1024 * 1024, le=100 * GiB)], 2 * GiB,
                  "Largest video upload accepted, in bytes. Applies to uploads started from then on; videos "
                  "already stored stay."),
        ConfigKey("ai.defaultProvider", Literal["OFFLINE", "OPENAI"], "OFFLINE",
                  "Provider used for question generation when a request names none. Applies to jobs asked for "
                  "from then on; drafts already made stay."),
        ConfigKey("ai.monthlyBudgetUsd", Annotated[Decimal, Field(ge=0, le=1_000_000, decimal_places=2)], Decimal("50"),
                  "AI spend per tenant per calendar month; generation stops when it is reached. Applies before "
                  "each job: spend already logged is never undone."),
        ConfigKey("grading.passingThreshold", Annotated[float, Field(ge=0, le=100)], 70.0,
                  "Score in percent at or above which a lesson counts as passed. Applies to stored grades too: "
                  "changing it judges every grade it applies to again."),
        ConfigKey("grading.defaultMaxAttempts", Annotated[int, Field(ge=1, le=20)], 3,
                  "Attempts a question allows unless the teacher sets another limit. Applies to answers from "
                  "then on: attempts already made and their grades are not judged again."),
        ConfigKey("identity.requireEmailVerification", bool, True,
                  "Whether users must verify their email address before they can log in. Applies at each "
                  "sign-in: sessions already open go on."),
    )
}


def resolve(key: str, tenant_value: Any = None, platform_value: Any = None) -> Any:
    """tenant override → platform override → default (``None`` means no override)."""
    if tenant_value is not None:
        return tenant_value
    if platform_value is not None:
        return platform_value
    return CONFIG_KEYS[key].default
