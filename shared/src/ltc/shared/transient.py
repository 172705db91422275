"""Which failures are transient: the database or the network, not the request, said no.

One rule, two users. The event consumer retries a transient failure with back-off and never
dead-letters it (the event is fine, the world is not); the API answers it 503
`database-unavailable` with `Retry-After`, never a 500. Anything else is a defect or the input's
fault and keeps its own handling (dead letter, 4xx, 500).

Transient:

- SQLSTATE class 08, connection exception: the connection failed, was refused or was lost.
  asyncpg gives its own client-side connection errors class-08 codes too
  (`ConnectionDoesNotExistError` is 08003, "connection was closed in the middle of operation").
- SQLSTATE class 53, insufficient resources, the whole class: 53300 too_many_connections and
  also 53000, 53100 disk_full, 53200 out_of_memory, 53400 configuration_limit_exceeded. Each is
  the server running short of something; retrying the same data can succeed once an operator or
  the load frees it, while dead-lettering would drain a topic into its dead-letter topic for as
  long as the shortage lasts. A consumer stalled on one is visible (logged at every retry).
- 57P01 admin_shutdown, 57P02 crash_shutdown, 57P03 cannot_connect_now (starting up, shutting
  down, in recovery). Not the rest of class 57: 57014 query_canceled is a statement timeout or
  a cancel that would recur, 57P04 database_dropped is final. 57P05 idle_session_timeout needs
  no entry: the server closes the connection, and its next use fails as a lost connection.
- 40001 serialization_failure and 40P01 deadlock_detected: the transaction lost to another one
  and the same work succeeds when run again. The API answers these 503 as well, not 409: the
  client did nothing wrong and should send the same request again after `Retry-After`, whereas
  this API's 409s mean "re-read, your view is stale" or "this conflicts with existing data".
- 55P03 lock_not_available: a lock (or `lock_timeout`) held by someone else; retry later.
- A SQLAlchemy error with `connection_invalidated`: the driver found its connection closed.
- `OperationalError` without a SQLSTATE: PEP 249's class for failures of the database's
  operation rather than of the statement. The asyncpg dialect never raises it; other drivers and
  tests do. With a SQLSTATE, the code decides.
- `OSError`, whole: connection refused or reset, no route to host, asyncio's "Multiple
  exceptions" when every address of a host refuses, a missing Unix socket while the server is
  down, and `TimeoutError` (asyncio's too), which asyncpg raises when connecting takes too long.
- SQLAlchemy's pool `TimeoutError` (no connection free in time: a stuck or overloaded database)
  and `DisconnectionError` (a pool check found the connection dead).

Not here: `ltc.shared.errors.ConcurrencyConflict`, an optimistic-lock loss. The consumer retries
it too (its retry re-reads the winner), but it is the caller's stale view, not the world: the
API answers it 409, since the same request with the same If-Match would fail again.

Not transient: every other SQLSTATE (23xxx integrity, 22xxx data, 42xxx syntax or undefined
objects, 28xxx authentication...), a value asyncpg cannot encode (its client-side 22000, or an
`InterfaceError` from a codec: a 422 in the API), and any other driver misuse.

Where the SQLSTATE is: asyncpg's `PostgresError` has `.sqlstate`; SQLAlchemy's asyncpg dialect
wraps it in its own DB-API error, which copies `.sqlstate` and has the asyncpg error as
`__cause__`, and SQLAlchemy's `DBAPIError` holds that as `.orig`. The dialect maps only a few
asyncpg classes to DB-API subclasses (integrity, syntax or access, interface); a refused
connection, a shutdown or a lost serialization arrives as a plain `DBAPIError`, never an
`OperationalError`, so only the code tells them apart.
"""

from __future__ import annotations

from sqlalchemy.exc import DBAPIError, DisconnectionError, OperationalError, StatementError
from sqlalchemy.exc import TimeoutError as PoolTimeout

TRANSIENT_SQLSTATE_CLASSES: dict[str, str] = {
    "08": "connection_exception",
    "53": "insufficient_resources",
}

TRANSIENT_SQLSTATES: dict[str, str] = {
    "57P01": "admin_shutdown",
    "57P02": "crash_shutdown",
    "57P03": "cannot_connect_now",
    "40001": "serialization_failure",
    "40P01": "deadlock_detected",
    "55P03": "lock_not_available",
}

# TimeoutError and ConnectionError (refused, reset, aborted) are OSErrors.
_TRANSIENT_TYPES: tuple[type[BaseException], ...] = (OSError, PoolTimeout, DisconnectionError)


def _layers(exc: BaseException) -> list[BaseException]:
    """The error, and for a SQLAlchemy error the DB-API error it wraps and that one's driver error."""
    layers = [exc]
    if isinstance(exc, StatementError) and isinstance(exc.orig, BaseException):
        layers.append(exc.orig)
        if exc.orig.__cause__ is not None:
            layers.append(exc.orig.__cause__)
    return layers


def sqlstate_of(exc: BaseException) -> str | None:
    """The SQLSTATE PostgreSQL (or asyncpg) gave the failure, wrapped or raw; None if it has none."""
    for layer in _layers(exc):
        code = getattr(layer, "sqlstate", None)
        if isinstance(code, str) and code:
            return code
    return None


def is_transient_sqlstate(code: str) -> bool:
    return code in TRANSIENT_SQLSTATES or code[:2] in TRANSIENT_SQLSTATE_CLASSES


def is_transient(exc: BaseException) -> bool:
    """Whether the same work may succeed if simply tried again later: retry it, answer 503."""
    if isinstance(exc, DBAPIError) and exc.connection_invalidated:
        return True
    code = sqlstate_of(exc)
    if code is not None:
        return is_transient_sqlstate(code)
    if isinstance(exc, OperationalError):
        return True
    return any(isinstance(layer, _TRANSIENT_TYPES) for layer in _layers(exc))
