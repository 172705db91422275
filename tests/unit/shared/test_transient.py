"""The transient-failure rule: each listed SQLSTATE and driver error, raw and as SQLAlchemy hands it on;
the consumer retries exactly what the API answers 503."""

from __future__ import annotations

import httpx
import pytest
from asyncpg import exceptions as pg
from asyncpg.exceptions import _base as pg_base
from fastapi import FastAPI
from sqlalchemy.dialects.postgresql.asyncpg import AsyncAdapt_asyncpg_connection, PGDialect_asyncpg
from sqlalchemy.exc import DBAPIError, DisconnectionError, IntegrityError, InterfaceError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeout

from ltc.shared.errors import ConcurrencyConflict, install_problem_handlers
from ltc.shared.transient import is_transient, sqlstate_of

_DBAPI = PGDialect_asyncpg.import_dbapi()


def wrapped(error: Exception, *, invalidated: bool = False) -> Exception:
    """`error` from asyncpg as SQLAlchemy's asyncpg dialect hands it to the application."""
    try:
        AsyncAdapt_asyncpg_connection._handle_exception_no_connection(_DBAPI, error)
    except _DBAPI.Error as translated:
        return DBAPIError.instance("SELECT 1", {}, translated, _DBAPI.Error, connection_invalidated=invalidated,
                                   dialect=PGDialect_asyncpg())
    except Exception as untranslated:  # not an asyncpg error: the dialect lets it through
        return untranslated
    raise AssertionError("the dialect raised nothing")


TRANSIENT_SQLSTATES = [
    pg.PostgresConnectionError("connection error"),                                    # 08000
    pg.ClientCannotConnectError("cannot connect"),                                     # 08001
    pg.ConnectionDoesNotExistError("connection was closed in the middle of operation"),  # 08003
    pg.ConnectionRejectionError("rejected"),                                           # 08004
    pg.ConnectionFailureError("connection failure"),                                   # 08006
    pg.AdminShutdownError("terminating connection due to administrator command"),      # 57P01
    pg.CrashShutdownError("terminating connection because of crash of another server process"),  # 57P02
    pg.CannotConnectNowError("the database system is starting up"),                    # 57P03
    pg.TooManyConnectionsError('too many connections for database "x"'),               # 53300
    pg.InsufficientResourcesError("insufficient resources"),                           # 53000
    pg.DiskFullError("could not extend file: No space left on device"),                # 53100
    pg.OutOfMemoryError("out of memory"),                                              # 53200
    pg.ConfigurationLimitExceededError("configuration limit exceeded"),                # 53400
    pg.SerializationError("could not serialize access due to concurrent update"),      # 40001
    pg.DeadlockDetectedError("deadlock detected"),                                     # 40P01
    pg.LockNotAvailableError("canceling statement due to lock timeout"),               # 55P03
]

NOT_TRANSIENT_SQLSTATES = [
    pg.UniqueViolationError("duplicate key value violates unique constraint"),  # 23505
    pg.NumericValueOutOfRangeError("numeric field overflow"),                 # 22003
    pg.DataError("invalid input for query argument $1: 3000000000"),          # 22000, asyncpg's encode failure
    pg.UndefinedTableError('relation "nope" does not exist'),                 # 42P01
    pg.InvalidPasswordError("password authentication failed"),               # 28P01
    pg.QueryCanceledError("canceling statement due to statement timeout"),  # 57014
    pg.DatabaseDroppedError("database dropped"),                            # 57P04
    pg.TransactionIntegrityConstraintViolationError("deferred constraint"),  # 40002
]


def _code(error: Exception) -> str:
    return type(error).sqlstate


@pytest.mark.parametrize("error", TRANSIENT_SQLSTATES, ids=_code)
def test_each_listed_sqlstate_is_transient_raw_and_wrapped(error):
    assert is_transient(error)
    assert is_transient(wrapped(error))
    assert type(wrapped(error)) is DBAPIError  # not OperationalError: the wrapper's class says nothing


@pytest.mark.parametrize("error", NOT_TRANSIENT_SQLSTATES, ids=_code)
def test_other_sqlstates_are_not_transient_raw_or_wrapped(error):
    assert not is_transient(error)
    assert not is_transient(wrapped(error))


def test_the_sqlstate_is_found_wherever_the_dialect_put_it():
    error = pg.CannotConnectNowError("the database system is shutting down")
    assert sqlstate_of(error) == "57P03"
    assert sqlstate_of(wrapped(error)) == "57P03"
    assert sqlstate_of(wrapped(pg.UniqueViolationError("dup"))) == "23505"
    assert sqlstate_of(ValueError("no")) is None


def test_a_unique_violation_stays_an_integrity_error():
    assert isinstance(wrapped(pg.UniqueViolationError("dup")), IntegrityError)


DRIVER_FAILURES = [
    ConnectionRefusedError(111, "Connect call failed ('127.0.0.1', 5432)"),
    ConnectionResetError(104, "Connection reset by peer"),
    OSError("Multiple exceptions: [Errno 111] Connect call failed, [Errno 99] Cannot assign requested address"),
    OSError(113, "No route to host"),
    TimeoutError(),  # asyncio's too, since Python 3.11
    PoolTimeout("QueuePool limit of size 3 overflow 3 reached, connection timed out, timeout 30.00"),
    DisconnectionError("connection is dead"),
    wrapped(pg_base.InterfaceError("cannot call Connection.fetch(): connection is closed"), invalidated=True),
    OperationalError("SELECT 1", {}, Exception("server closed the connection unexpectedly")),
]


def _name(failure: BaseException) -> str:
    return f"{type(failure).__module__.split('.')[0]}.{type(failure).__name__}"


@pytest.mark.parametrize("failure", DRIVER_FAILURES, ids=_name)
def test_driver_and_network_failures_are_transient(failure):
    assert is_transient(failure)


def test_os_errors_pass_the_dialect_unwrapped_and_stay_transient():
    failure = wrapped(ConnectionRefusedError(111, "Connect call failed"))
    assert isinstance(failure, ConnectionRefusedError) and is_transient(failure)


NOT_TRANSIENT_FAILURES = [
    ValueError("a defect in the handler"),
    KeyError("missing"),
    ZeroDivisionError(),
    IntegrityError("INSERT", {}, Exception("violates check constraint")),
    # A value asyncpg cannot encode: an interface error on a healthy connection (a 422 in the API).
    wrapped(pg_base.DataError("invalid input for query argument $1: 3000000000 (value out of int32 range)")),
    wrapped(pg_base.InterfaceError("cannot perform operation: another operation is in progress")),
    pg_base.InterfaceError("cannot perform operation: another operation is in progress"),
    pg_base.ProtocolError("unexpected message"),
    # With a SQLSTATE, the code decides, whatever the wrapper's class.
    OperationalError("SELECT 1", {}, pg.QueryCanceledError("canceling statement due to statement timeout")),
]


@pytest.mark.parametrize("failure", NOT_TRANSIENT_FAILURES, ids=_name)
def test_defects_and_bad_input_are_not_transient(failure):
    assert not is_transient(failure)


def test_an_encode_failure_reaches_the_application_as_an_interface_error():
    failure = wrapped(pg_base.DataError("invalid input for query argument $1"))
    assert isinstance(failure, InterfaceError) and not failure.connection_invalidated
    assert isinstance(failure.orig.__cause__, pg_base.DataError)


async def _answer(failure: BaseException) -> httpx.Response:
    app = FastAPI()
    install_problem_handlers(app)

    @app.post("/fail")
    async def fail() -> None:
        raise failure

    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
        return await client.post("/fail")


API_TRANSIENT = [
    *TRANSIENT_SQLSTATES,
    *[wrapped(error) for error in TRANSIENT_SQLSTATES],
    *DRIVER_FAILURES,
]


@pytest.mark.parametrize("failure", API_TRANSIENT, ids=lambda f: f"{_name(f)}-{sqlstate_of(f)}")
async def test_the_api_answers_503_with_retry_after_for_what_the_consumer_retries(failure):
    assert is_transient(failure)
    response = await _answer(failure)
    assert response.status_code == 503
    assert response.headers["content-type"] == "application/problem+json"
    assert response.headers["Retry-After"] == "1"
    assert response.json()["type"].endswith("/database-unavailable")


@pytest.mark.parametrize(("failure", "status"), [
    (wrapped(pg.UniqueViolationError("duplicate key value violates unique constraint")), 409),
    (wrapped(pg.NumericValueOutOfRangeError("numeric field overflow")), 422),
    (wrapped(pg.DataError("invalid input for query argument $1: 3000000000")), 422),
    (wrapped(pg_base.DataError("invalid input for query argument $1: 3000000000")), 422),
    (pg.NumericValueOutOfRangeError("numeric field overflow"), 422),
    (wrapped(pg.UndefinedTableError('relation "nope" does not exist')), 500),
    (wrapped(pg.QueryCanceledError("canceling statement due to statement timeout")), 500),
    (pg.UndefinedTableError('relation "nope" does not exist'), 500),
    (ValueError("a defect"), 500),
], ids=lambda f: f"{_name(f)}-{sqlstate_of(f)}" if isinstance(f, BaseException) else str(f))
async def test_the_api_keeps_its_answers_for_what_the_consumer_dead_letters(failure, status):
    assert not is_transient(failure)
    response = await _answer(failure)
    assert response.status_code == status
    assert "Retry-After" not in response.headers


async def test_a_lost_optimistic_lock_is_the_callers_stale_view_a_409_not_a_503():
    # (The consumer retries it all the same: tests/unit/test_consumer_failures.py.)
    failure = ConcurrencyConflict("the object was changed by someone else")
    assert not is_transient(failure)
    response = await _answer(failure)
    assert response.status_code == 409 and "Retry-After" not in response.headers
