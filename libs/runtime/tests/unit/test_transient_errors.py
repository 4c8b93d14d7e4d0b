"""Which failures a consumer retries for ever (the infrastructure's) and which it counts towards a dead
letter (the message's): a database away must never dead-letter an event, whichever layer reports it."""

from __future__ import annotations

import psycopg
import pytest
from sqlalchemy.exc import IntegrityError, OperationalError

from cuepoint.runtime.consumer import is_transient


@pytest.mark.parametrize("error", [
    OperationalError("SELECT 1", {}, psycopg.OperationalError("server closed the connection")),  # through SQLAlchemy
    psycopg.OperationalError("server closed the connection unexpectedly"),  # from the driver (db.pipelined, ReadPool)
    psycopg.InterfaceError("the connection is closed"),
    ConnectionResetError(),
])
def test_a_database_or_network_away_is_transient(error: BaseException) -> None:
    assert is_transient(error)


@pytest.mark.parametrize("error", [
    IntegrityError("INSERT", {}, psycopg.errors.UniqueViolation("duplicate key")),
    psycopg.errors.UniqueViolation("duplicate key"),
    ValueError("a bug"),
])
def test_a_failure_of_the_message_or_the_code_is_not(error: BaseException) -> None:
    assert not is_transient(error)
