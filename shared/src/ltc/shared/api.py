"""HTTP conventions shared by every service: the one way a route runs a command (`run`, `Once`),
If-Match parsed into an expected version, ETags, idempotency keys and page models."""

from __future__ import annotations

import hashlib
import inspect
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import date
from typing import Annotated, Generic, TypeVar
from uuid import UUID

from fastapi import Depends, Header, Query
from pydantic import BaseModel, Field, StringConstraints, computed_field
from sqlalchemy import inspect as sa_inspect
from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import InstanceState

from ltc.shared.controls import DATE_IN_FUTURE, FUTURE_TOLERANCE
from ltc.shared.db import UnitOfWork, idempotency_keys
from ltc.shared.errors import ProblemError
from ltc.shared.roles import Principal

T = TypeVar("T")
A = TypeVar("A")  # what a handler returns: the object it created or changed
C = TypeVar("C")  # a command
R = TypeVar("R")  # a route's answer

# Text fields as the services' columns hold them (VARCHAR(300), and 200 for a user id).
Text300 = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=300)]
UserId = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]

# A date saying something happened (signing, acceptance, a value date, the day a run judges by):
# the OpenAPI states the rule the domain applies (ltc.shared.controls.require_happened).
Happened = Annotated[date, Field(description=(
    f"the day it happened: not after today + {FUTURE_TOLERANCE.days} day (rule `{DATE_IN_FUTURE}`); an earlier "
    "day may be recorded and is kept as given"))]

IdempotencyKey = Annotated[str | None, Header(alias="Idempotency-Key", max_length=200)]
Limit = Annotated[int, Query(ge=1, le=200, description="page size (default 50, max 200)")]
Cursor = Annotated[str | None, Query(max_length=200, description="opaque cursor from the previous page's next_cursor")]


class NoBody(BaseModel):
    """The body of an action that takes none, for its idempotency record."""


class Versioned(BaseModel):
    """A representation of a versioned object: its version and the ETag that names it, in a list
    as well as alone, so a client can act on an item without reading it again."""

    version: int

    @computed_field(description="the ETag of this version: send it as If-Match to change the object")  # type: ignore[prop-decorator]
    @property
    def etag(self) -> str:
        return etag(self.version)


class Page(BaseModel, Generic[T]):
    items: list[T]
    next_cursor: str | None


def etag(version: int) -> str:
    return f'"{version}"'


def expected_version(if_match: str | None, *, required: bool) -> int | None:
    """The version an If-Match names, for the command (`expected_version`): 428 when a change that
    needs it comes without one; `*` and an absent optional header name none. An ETag that is not
    one this API issued matches no version: 412."""
    if if_match is None:
        if required:
            raise ProblemError(428, "if-match-required", "Precondition required",
                               "send If-Match with the ETag from your last read")
        return None
    tag = if_match.strip()
    if tag == "*":
        return None
    tag = tag.removeprefix("W/")
    # A version is an int column: more than 18 digits cannot name one (and a few thousand would
    # make int() itself refuse the string).
    if 3 <= len(tag) <= 20 and tag[0] == tag[-1] == '"' and tag[1:-1].isdigit() and tag[1:-1].isascii():
        return int(tag[1:-1])
    raise ProblemError(412, "stale-etag", "Precondition failed",
                       "the If-Match names no version of this object; read it again before changing it")


async def _required_if_match(if_match: Annotated[str | None, Header(alias="If-Match")] = None) -> int | None:
    return expected_version(if_match, required=True)


_required_if_match.ltc_if_match_required = True  # type: ignore[attr-defined]  # read by ltc.shared.openapi

# The version a change to an existing object is based on: If-Match is required (428 without it,
# 412 when stale), the same on every change; `*` says "whatever it is now" and checks nothing.
ExpectedVersion = Annotated[int | None, Depends(_required_if_match)]


def request_hash(body: BaseModel) -> str:
    """Of the body's JSON: a retry with the same key and another body is refused. A field added to
    a body later is left out of this while unset (`ADDED_LATER`), so a key sent before still replays."""
    added_later = getattr(type(body), "ADDED_LATER", ())
    unset = {name for name in added_later if getattr(body, name) is None}
    return hashlib.sha256(body.model_dump_json(exclude=unset or None).encode()).hexdigest()


async def claim_idempotency_key(session: AsyncSession, *, principal: str, key: str | None, endpoint: str,
                                body: BaseModel, resource_id: UUID) -> str | None:
    """Remember (caller, Idempotency-Key) → `resource_id` in the current transaction, or return the
    resource id an earlier request under this key produced; the same key with another body is a 422.

    One statement on the usual path. A concurrent request with the same key waits on the key's
    row until the first one commits or rolls back, then sees its result: no unique-violation race
    to retry, and the key can never outlive (or be missing from) the change it guards.
    """
    if key is None:
        return None
    claimed = (
        await session.execute(
            pg_insert(idempotency_keys)
            .values(principal=principal, key=key, endpoint=endpoint, request_hash=request_hash(body),
                    resource_id=str(resource_id))
            .on_conflict_do_nothing(index_elements=[idempotency_keys.c.principal, idempotency_keys.c.key])
            .returning(idempotency_keys.c.key)
        )
    ).first()
    if claimed is not None:
        return None
    row = (
        await session.execute(
            select(idempotency_keys).where(idempotency_keys.c.principal == principal, idempotency_keys.c.key == key)
        )
    ).one()
    if row.endpoint != endpoint or row.request_hash != request_hash(body):
        raise ProblemError(422, "idempotency-key-reused", "Idempotency key reused",
                           "this Idempotency-Key was used for a different request")
    return row.resource_id


@dataclass(frozen=True)
class Once(Generic[A]):
    """Run a command once per (caller, Idempotency-Key): a retry after a lost answer is answered
    from the object the first run produced, loaded by `load`, and does not run the command again.

    `resource_id` is the object the command creates (its new id) or acts on.
    """

    key: str | None
    endpoint: str
    body: BaseModel
    resource_id: UUID
    load: Callable[[AsyncSession, UUID], Awaitable[A]]


Handler = Callable[[UnitOfWork, C, Principal], Awaitable[A]]


async def run(uow: UnitOfWork, handler: Handler[C, A], command: C, principal: Principal, *,
              answer: Callable[[A], R | Awaitable[R]], once: Once[A] | None = None) -> R:
    """The one way a route runs a command: in one unit of work, `handler(uow, command, principal)`
    changes and commits, and the route answers from what it returned, in the same unit of work
    (no second transaction to read it again). With `once`, the Idempotency-Key is claimed in that
    transaction, so a change and its key commit together or not at all.
    """
    async with uow:
        result: A | None = None
        if once is not None:
            earlier = await claim_idempotency_key(uow.session, principal=principal.sub, key=once.key,
                                                  endpoint=once.endpoint, body=once.body,
                                                  resource_id=once.resource_id)
            if earlier is not None:
                result = await once.load(uow.session, UUID(earlier))
        if result is None:
            result = await handler(uow, command, principal)
        await _fresh(uow.session, result)
        answered = answer(result)
        return await answered if inspect.isawaitable(answered) else answered  # type: ignore[return-value]


async def _fresh(session: AsyncSession, obj: object) -> None:
    """Re-read what the database filled in on commit (server defaults), never lazily later."""
    state = sa_inspect(obj, raiseerr=False)
    if isinstance(state, InstanceState) and state.persistent and state.expired_attributes:
        await session.refresh(obj)
