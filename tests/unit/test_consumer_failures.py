"""Which handler failures the consumer retries (the world is down) and which it dead-letters."""

from __future__ import annotations

import pytest
from sqlalchemy.exc import IntegrityError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeout

from ltc.shared.consumer import _is_transient
from ltc.shared.errors import ConcurrencyConflict


@pytest.mark.parametrize("failure", [
    PoolTimeout("QueuePool limit of size 3 overflow 3 reached, connection timed out, timeout 30.00"),
    OperationalError("SELECT 1", {}, Exception("the database system is starting up")),
    ConnectionRefusedError(111, "Connection refused"),
    TimeoutError(),
    ConcurrencyConflict("the object was changed by someone else"),
])
def test_waiting_for_the_database_is_retried_not_dead_lettered(failure):
    assert _is_transient(failure)


@pytest.mark.parametrize("failure", [
    ValueError("a defect in the handler"),
    KeyError("missing"),
    IntegrityError("INSERT", {}, Exception("violates check constraint")),
])
def test_a_defect_is_not_retried_forever(failure):
    assert not _is_transient(failure)
