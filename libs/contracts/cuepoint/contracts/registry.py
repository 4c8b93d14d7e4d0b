"""``event_type`` → payload model, for every event of the platform."""

from __future__ import annotations

from types import ModuleType

from . import analytics, assessment, content, identity, progress
from .envelope import Envelope, Event

_MODULES: tuple[ModuleType, ...] = (identity, content, assessment, progress, analytics)


def _collect() -> dict[str, type[Event]]:
    found: dict[str, type[Event]] = {}
    for module in _MODULES:
        for value in vars(module).values():
            if isinstance(value, type) and issubclass(value, Event) and "event_type" in value.__dict__:
                if value.event_type in found and found[value.event_type] is not value:
                    raise TypeError(f"two models claim {value.event_type}")
                found[value.event_type] = value
    return dict(sorted(found.items()))


EVENT_TYPES: dict[str, type[Event]] = _collect()


class UnknownEventType(LookupError):
    pass


def model_for(event_type: str) -> type[Event]:
    try:
        return EVENT_TYPES[event_type]
    except KeyError:
        raise UnknownEventType(f"no contract for event type {event_type!r}") from None


def parse_envelope(raw: bytes | str) -> Envelope[Event]:
    """Parses and validates a whole envelope, its ``data`` against the model of its type.

    Raises ``pydantic.ValidationError`` or ``UnknownEventType``.
    """
    header = Envelope[dict].model_validate_json(raw)  # type: ignore[type-var]
    model = model_for(header.event_type)
    return Envelope[model].model_validate_json(raw)  # type: ignore[valid-type]


def envelope_schema(event_type: str) -> dict:
    """The JSON Schema of a whole envelope of this type (the committed snapshot)."""
    model = model_for(event_type)
    schema = Envelope[model].model_json_schema(mode="serialization")  # type: ignore[valid-type]
    schema["title"] = event_type
    schema["description"] = (model.__doc__ or "").strip()
    schema["x-topic"] = model.topic
    schema["x-key"] = model.key_field
    return schema
