"""JSON logs on stderr, one object a line, for a log pipeline to index.

Every line carries the service and the process (api, worker, relay or a command), the current
correlation id, and the fields of the current log context: an API request adds its caller's
tenant and user once the token is verified, a consumer the tenant, id and type of the event it
handles. An API writes one ``request`` line per request, a consumer one ``event handled`` line
per event and one ``batch handled`` line per batch.
"""

from __future__ import annotations

import json
import logging
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from datetime import UTC, datetime
from typing import Any

correlation_id: ContextVar[str | None] = ContextVar("correlation_id", default=None)
_log_context: ContextVar[dict[str, str] | None] = ContextVar("log_context", default=None)


@contextmanager
def log_context(**fields: Any) -> Iterator[dict[str, str]]:
    """Fields every log line written inside the block carries (None values left out); an inner
    block adds to the outer one's. The dict it yields may be added to later (see add_to_log_context)."""
    context = {**(_log_context.get() or {}), **{k: str(v) for k, v in fields.items() if v is not None}}
    token = _log_context.set(context)
    try:
        yield context
    finally:
        _log_context.reset(token)


def add_to_log_context(**fields: Any) -> None:
    """Adds fields to the current block's context, for the lines written after, up to its end
    (the request's own line included): e.g. the tenant, once a request's token is verified."""
    context = _log_context.get()
    if context is not None:
        context.update({k: str(v) for k, v in fields.items() if v is not None})

_RESERVED = set(vars(logging.LogRecord("", 0, "", 0, "", None, None))) | {"message", "asctime", "color_message"}


class JsonFormatter(logging.Formatter):
    def __init__(self, service: str, process: str | None = None) -> None:
        super().__init__()
        self.service = service
        self.process = process

    def format(self, record: logging.LogRecord) -> str:
        line = {
            "ts": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "service": self.service,
            "logger": record.name,
            "msg": record.getMessage(),
        }
        if self.process is not None:
            line["process"] = self.process
        if (cid := correlation_id.get()) is not None:
            line["correlation_id"] = cid
        line.update(_log_context.get() or {})
        for key, value in vars(record).items():
            if key not in _RESERVED and not key.startswith("_"):
                line[key] = value
        if record.exc_info:
            line["exc"] = self.formatException(record.exc_info)
        return json.dumps(line, default=str)


def configure_logging(service: str, level: str = "INFO", process: str | None = None) -> None:
    handler = logging.StreamHandler(sys.stderr)  # stdout stays for command output
    handler.setFormatter(JsonFormatter(service, process))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    # aiokafka logs every reconnect attempt at ERROR during a broker outage; the relay
    # and consumers report outages themselves, once, with context.
    logging.getLogger("aiokafka").setLevel(logging.CRITICAL if level.upper() != "DEBUG" else logging.DEBUG)
    for noisy in ("uvicorn.access",):
        logging.getLogger(noisy).setLevel(logging.WARNING)
