"""RFC 9457 problem+json rendering of every error the API can meet.

The domain raises `ltc.shared.rules.DomainError` naming the rule it protects and its kind; here
the kind becomes a status and every error becomes `application/problem+json`, so a client never
sees a bare 500 for bad input. The domain's error classes are re-exported for the API layer.
"""

from __future__ import annotations

from typing import Any

import structlog
from asyncpg import PostgresError
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from sqlalchemy.exc import DBAPIError, IntegrityError
from sqlalchemy.exc import TimeoutError as PoolTimeout
from starlette.exceptions import HTTPException as StarletteHTTPException

from ltc.shared.money import MoneyError
from ltc.shared.rules import (
    ConcurrencyConflict,
    DomainError,
    Forbidden,
    InvalidInput,
    Kind,
    NotFound,
    RuleViolation,
    StaleVersion,
)
from ltc.shared.transient import is_transient, sqlstate_of

PROBLEM_JSON = "application/problem+json"
PROBLEM_BASE = "https://ltc.example/problems/"

log = structlog.get_logger()

__all__ = ["PROBLEM_JSON", "ConcurrencyConflict", "DomainError", "Forbidden", "NotFound", "ProblemError",
           "RuleViolation", "StaleVersion", "install_problem_handlers", "problem", "status_of"]


# The one place a domain refusal's kind becomes an HTTP status.
STATUS_OF_KIND = {Kind.CONFLICT: 409, Kind.RULE_UNMET: 422, Kind.FORBIDDEN: 403, Kind.STALE: 412}
_TITLE_OF_KIND = {Kind.CONFLICT: "Business rule violated", Kind.RULE_UNMET: "Business rule violated",
                  Kind.FORBIDDEN: "Forbidden", Kind.STALE: "Precondition failed"}


def status_of(error: DomainError) -> int:
    """The HTTP status a domain error is answered with."""
    return STATUS_OF_KIND[error.kind]


class ProblemError(Exception):
    """Raised by API plumbing (auth, idempotency, preconditions) to answer with a problem."""

    def __init__(self, status: int, problem_type: str, title: str, detail: str, **extra: Any) -> None:
        super().__init__(detail)
        self.status = status
        self.problem_type = problem_type
        self.title = title
        self.detail = detail
        self.extra = extra


def problem(status: int, problem_type: str, title: str, detail: str, **extra: Any) -> JSONResponse:
    body = {"type": PROBLEM_BASE + problem_type, "title": title, "status": status, "detail": detail}
    body.update(extra)
    headers = {"WWW-Authenticate": "Bearer"} if status == 401 else None
    return JSONResponse(body, status_code=status, media_type=PROBLEM_JSON, headers=headers)


def _field_name(loc: tuple[Any, ...]) -> str:
    parts = [str(p) for p in loc if p not in ("body", "query", "path", "header")]
    return ".".join(parts) or "body"


def _validation_problem(request: Request, exc: RequestValidationError) -> JSONResponse:
    errors = exc.errors()
    if any(e.get("type") == "json_invalid" for e in errors):
        return problem(400, "malformed-json", "Malformed JSON", "the request body is not valid JSON")
    listed = [
        {"field": _field_name(tuple(e.get("loc", ()))), "message": e.get("msg", ""), "type": e.get("type", "")}
        for e in errors
    ]
    detail = "; ".join(f"{item['field']}: {item['message']}" for item in listed)
    return problem(422, "validation-error", "Invalid request", detail, errors=listed)


_STATUS_TITLES = {
    400: "Bad request",
    401: "Unauthorized",
    403: "Forbidden",
    404: "Not found",
    405: "Method not allowed",
    406: "Not acceptable",
    409: "Conflict",
    412: "Precondition failed",
    415: "Unsupported media type",
    428: "Precondition required",
}


def install_problem_handlers(app: FastAPI) -> None:
    """Render every error the API can meet as problem+json."""

    @app.exception_handler(RequestValidationError)
    async def _validation(request: Request, exc: RequestValidationError) -> JSONResponse:
        return _validation_problem(request, exc)

    @app.exception_handler(DomainError)
    async def _domain(request: Request, exc: DomainError) -> JSONResponse:
        extra: dict[str, Any] = {"rule": exc.rule}
        if exc.errors:
            extra["errors"] = exc.errors
        return problem(status_of(exc), exc.rule, _TITLE_OF_KIND[exc.kind], exc.detail, **extra)

    @app.exception_handler(InvalidInput)
    async def _invalid(request: Request, exc: InvalidInput) -> JSONResponse:
        return problem(422, "validation-error", "Invalid request", str(exc),
                       errors=[{"field": exc.field, "message": exc.message, "type": "value_error"}])

    @app.exception_handler(NotFound)
    async def _not_found(request: Request, exc: NotFound) -> JSONResponse:
        return problem(404, "not-found", "Not found", str(exc))

    @app.exception_handler(ConcurrencyConflict)
    async def _conflict(request: Request, exc: ConcurrencyConflict) -> JSONResponse:
        return problem(409, "concurrent-modification", "Conflict", str(exc) or "the object was changed concurrently; read it again")

    @app.exception_handler(ProblemError)
    async def _problem(request: Request, exc: ProblemError) -> JSONResponse:
        return problem(exc.status, exc.problem_type, exc.title, exc.detail, **exc.extra)

    @app.exception_handler(IntegrityError)
    async def _integrity(request: Request, exc: IntegrityError) -> JSONResponse:
        # Constraints are the last line of defence behind the domain checks (e.g. two concurrent
        # creations of the same thing): a conflict, not a server fault.
        log.warning("constraint violated", path=request.url.path, error=str(exc.orig))
        return problem(409, "constraint-violation", "Conflict", "the change conflicts with existing data")

    @app.exception_handler(MoneyError)
    async def _money(request: Request, exc: MoneyError) -> JSONResponse:
        # The services check currencies and minor units where they take money in; this is the
        # net under those checks: mixing currencies or sub-cent amounts is the caller's input.
        return problem(422, "money-invalid", "Invalid amount", str(exc), rule="money-invalid")

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        if exc.status_code == 400:  # the body could not be read as JSON at all (not even as text)
            return problem(400, "malformed-json", "Malformed JSON", "the request body is not valid JSON")
        title = _STATUS_TITLES.get(exc.status_code, "Error")
        slug = title.lower().replace(" ", "-")
        return problem(exc.status_code, slug, title, str(exc.detail))

    @app.exception_handler(OverflowError)
    async def _overflow(request: Request, exc: OverflowError) -> JSONResponse:
        # The net under the input bounds: a date near year 9999 plus a due period, a timestamp
        # whose UTC form leaves the calendar. The caller's input, not a server fault.
        log.warning("value out of range", path=request.url.path, error=str(exc))
        return problem(422, "out-of-range", "Value out of range",
                       "a date or number in the request is outside the range this service works with",
                       rule="out-of-range")

    @app.exception_handler(DBAPIError)
    async def _database(request: Request, exc: Exception) -> JSONResponse:
        if is_transient(exc):
            return _unavailable(request, exc)
        if _bad_value(exc):
            log.warning("value refused by the database", path=request.url.path,
                        error=str(getattr(exc, "orig", None) or exc))
            return problem(422, "out-of-range", "Value out of range",
                           "a value in the request does not fit what the service stores", rule="out-of-range")
        return _internal(request)

    # The same rule for what reaches the app unwrapped: a driver error (e.g. while connecting),
    # the pool's timeout, the socket layer (connection refused while the database restarts).
    for failure in (PostgresError, PoolTimeout, OSError):
        app.add_exception_handler(failure, _database)

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
        if is_transient(exc):  # wrapped in a class no handler above names
            return _unavailable(request, exc)
        return _internal(request)


def _bad_value(exc: Exception) -> bool:
    """A value the driver could not encode, or SQLSTATE class 22 (data exception: numeric
    overflow, string too long, a date out of range): the request's values, not the server."""
    orig = exc.orig if isinstance(exc, DBAPIError) else None
    cause = orig.__cause__ if orig is not None else None
    return isinstance(cause, ValueError) or (sqlstate_of(exc) or "").startswith("22")


def _unavailable(request: Request, exc: BaseException) -> JSONResponse:
    # A transient failure (ltc.shared.transient) rolled the transaction back, or it never began:
    # nothing is half-written. Only a connection lost during COMMIT leaves the outcome unknown,
    # which the Idempotency-Key of a retry settles.
    log.warning("database unavailable", path=request.url.path, error=str(exc), sqlstate=sqlstate_of(exc))
    response = problem(503, "database-unavailable", "Service unavailable",
                       "the database could not serve the request just now; retry it with the same Idempotency-Key")
    response.headers["Retry-After"] = "1"
    return response


def _internal(request: Request) -> JSONResponse:
    log.exception("unhandled error", path=request.url.path)
    return problem(500, "internal-error", "Internal error", "an unexpected error occurred; it has been logged")
