"""System configuration: which keys exist, what values they take, and which value applies."""

from __future__ import annotations

from typing import Any

from pydantic import ValidationError

from cuepoint.contracts.configs import CONFIG_KEYS
from cuepoint.runtime.errors import Invalid, NotFound


def validated(key: str, value: Any) -> Any:
    """The value as stored (JSON); raises NotFound for an unknown key, Invalid for a wrong value."""
    entry = CONFIG_KEYS.get(key)
    if entry is None:
        raise NotFound(f"no config key {key!r}; known keys: {', '.join(CONFIG_KEYS)}")
    try:
        return entry.to_json(entry.validate(value))
    except ValidationError as error:
        raise Invalid(f"{key}: {error.errors()[0]['msg']}") from error


def stored_value(key: str, value: Any) -> Any:
    """What a change stores: None (back to the platform value or default) for None, of a known key."""
    if value is None:
        if key not in CONFIG_KEYS:
            validated(key, None)  # raises NotFound
        return None
    return validated(key, value)


def effective(tenant: dict[str, Any], platform: dict[str, Any]) -> list[dict[str, Any]]:
    """Every key's value: the tenant's, else the platform's, else the default; and where it came from."""
    result = []
    for key, entry in CONFIG_KEYS.items():
        source = "tenant" if key in tenant else "platform" if key in platform else "default"
        value = tenant.get(key, platform.get(key, entry.to_json(entry.default)))
        result.append({"key": key, "value": value, "source": source, "default": entry.to_json(entry.default),
                       "description": entry.description})
    return result
