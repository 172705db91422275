"""Database plumbing: engine, the tables every service has (outbox, inbox, idempotency keys),
and the unit of work that commits a state change together with its events."""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any, TypeVar

from pydantic import TypeAdapter
from sqlalchemy import (
    BigInteger,
    Column,
    DateTime,
    Enum,
    Identity,
    Index,
    Integer,
    MetaData,
    Table,
    Text,
    TypeDecorator,
    event,
    func,
    insert,
    inspect,
    or_,
    select,
    text,
)
from sqlalchemy.dialects.postgresql import ARRAY, JSONB, UUID
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker, create_async_engine
from sqlalchemy.orm import registry
from sqlalchemy.orm.exc import StaleDataError

from ltc.shared.audit import AuditEntry
from ltc.shared.messages import EventPayload
from ltc.shared.observability import current_correlation_id
from ltc.shared.rules import ConcurrencyConflict
from ltc.shared.tracing import current_traceparent

T = TypeVar("T")

OUTBOX_CHANNEL = "ltc_outbox"

plumbing_metadata = MetaData()

outbox = Table(
    "outbox",
    plumbing_metadata,
    Column("seq", BigInteger, Identity(always=True), primary_key=True),
    Column("id", UUID(as_uuid=True), nullable=False, unique=True),
    Column("topic", Text, nullable=False),
    Column("key", Text, nullable=False),
    Column("type", Text, nullable=False),
    Column("payload", JSONB, nullable=False),
    Column("correlation_id", Text),
    Column("traceparent", Text),
    Column("created_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    Column("sent_at", DateTime(timezone=True)),
    # The relay reads only unsent rows in commit order; a partial index keeps that cheap as the
    # table grows.
    Index("ix_outbox_unsent", "seq", postgresql_where=text("sent_at IS NULL")),
)

inbox = Table(
    "inbox",
    plumbing_metadata,
    Column("consumer", Text, primary_key=True),
    Column("message_id", Text, primary_key=True),
    Column("type", Text, nullable=False),
    Column("topic", Text, nullable=False),
    Column("partition", Integer, nullable=False),
    Column("offset", BigInteger, nullable=False),
    Column("processed_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
)

idempotency_keys = Table(
    "idempotency_keys",
    plumbing_metadata,
    Column("principal", Text, primary_key=True),
    Column("key", Text, primary_key=True),
    Column("endpoint", Text, nullable=False),
    Column("request_hash", Text, nullable=False),
    Column("resource_id", Text, nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
)


# The audit trail (entries: ltc.shared.audit.AuditEntry), one shape in every service. Its own
# metadata: it ships in a later migration of each service than the plumbing tables.
AUDIT_TABLE = "audit_trail"

audit_metadata = MetaData()

audit_trail = Table(
    AUDIT_TABLE,
    audit_metadata,
    Column("seq", BigInteger, Identity(always=True), primary_key=True),
    Column("id", UUID(as_uuid=True), nullable=False, unique=True),
    Column("at", DateTime(timezone=True), nullable=False),
    Column("actor", Text, nullable=False),
    Column("action", Text, nullable=False),
    Column("object_type", Text, nullable=False),
    Column("object_id", UUID(as_uuid=True), nullable=False),
    # The aggregates whose history also shows this entry (besides object_id itself).
    Column("filed_under", ARRAY(UUID(as_uuid=True)), nullable=False, server_default="{}"),
    Column("changes", JSONB, nullable=False, server_default="{}"),
    Column("correlation_id", Text),
    Index("ix_audit_trail_object", "object_id", "seq"),
    Index("ix_audit_trail_filed_under", "filed_under", postgresql_using="gin"),
)


def create_audit_trail(op: Any) -> None:
    """Called from each service's migration that introduces the shared audit trail."""
    audit_metadata.create_all(op.get_bind())


def drop_audit_trail(op: Any) -> None:
    audit_trail.drop(op.get_bind())



async def audit_history(session: AsyncSession, ident: uuid.UUID, *, object_types: Iterable[str] | None = None) -> list[Any]:
    """Every entry about `ident` or filed under it, oldest first."""
    stmt = select(audit_trail).where(or_(audit_trail.c.object_id == ident, audit_trail.c.filed_under.contains([ident])))
    if object_types is not None:
        stmt = stmt.where(audit_trail.c.object_type.in_(list(object_types)))
    return list(await session.execute(stmt.order_by(audit_trail.c.seq)))



def create_plumbing_tables(op: Any) -> None:
    """Called from each service's first Alembic migration: the plumbing schema, version 1.

    A later change to these tables ships as a new function here, called from a new migration of
    every service, so that history stays reproducible.
    """
    plumbing_metadata.create_all(op.get_bind())


# Plumbing version 2: the outbox wakes its relay itself. A statement-level trigger NOTIFYs once per
# INSERT into the outbox; PostgreSQL delivers it only when the transaction commits (and folds
# repeats within one transaction), exactly as the NOTIFY the unit of work used to send, but
# without a round trip of its own in every transaction that writes events.
OUTBOX_NOTIFY_DDL = (
    f"""CREATE FUNCTION ltc_outbox_notify() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
        PERFORM pg_notify('{OUTBOX_CHANNEL}', '');
        RETURN NULL;
    END $$""",
    "CREATE TRIGGER outbox_notify AFTER INSERT ON outbox FOR EACH STATEMENT EXECUTE FUNCTION ltc_outbox_notify()",
)
OUTBOX_NOTIFY_DROP = (
    "DROP TRIGGER IF EXISTS outbox_notify ON outbox",
    "DROP FUNCTION IF EXISTS ltc_outbox_notify()",
)


def create_outbox_notify_trigger(op: Any) -> None:
    """Called from each service's migration 0003 (plumbing version 2)."""
    for statement in OUTBOX_NOTIFY_DDL:
        op.execute(statement)


def drop_outbox_notify_trigger(op: Any) -> None:
    for statement in OUTBOX_NOTIFY_DROP:
        op.execute(statement)


def map_aggregate(mapper_registry: registry, cls: type, table: Table, *, versioned: bool = True,
                  properties: dict[str, Any] | None = None) -> None:
    """Map an aggregate root imperatively (the domain class stays plain Python).

    A versioned aggregate gets optimistic locking on its `version` column, so two writers of one
    aggregate cannot silently overwrite each other; a loaded aggregate starts with no pending
    events (its constructor, which sets them, does not run on load).
    """
    mapper_registry.map_imperatively(cls, table, properties=properties or {},
                                     version_id_col=table.c.version if versioned else None)
    event.listen(cls, "load", _no_pending_events)


def _no_pending_events(aggregate: Any, _context: object) -> None:
    aggregate.events = []


class JsonDocument(TypeDecorator[Any]):
    """A value object (or a tuple of them) kept as JSONB, typed on the way in and out.

    The domain only ever replaces these values (they are frozen), so plain equality is enough for
    the session to see a change.
    """

    impl = JSONB
    cache_ok = True

    def __init__(self, document_type: Any) -> None:
        super().__init__()
        self.document_type = document_type
        self._adapter = TypeAdapter(document_type)

    def process_bind_param(self, value: Any, dialect: Any) -> Any:
        return None if value is None else self._adapter.dump_python(value, mode="json")

    def process_result_value(self, value: Any, dialect: Any) -> Any:
        return None if value is None else self._adapter.validate_python(value)


def str_enum(cls: type) -> Enum:
    """A column storing a StrEnum's values as plain strings (no native PostgreSQL enum to migrate)."""
    return Enum(cls, native_enum=False, length=40, values_callable=lambda e: [m.value for m in e])


def make_engine(url: str, *, pool_size: int = 10, pre_ping: bool = False) -> AsyncEngine:
    # A statement not in the connection's prepared-statement cache costs an extra round trip to
    # prepare; the ORM issues a few hundred distinct statements, more than the default 100.
    return create_async_engine(url, pool_size=pool_size, max_overflow=pool_size, pool_pre_ping=pre_ping,
                               pool_recycle=1800, connect_args={"prepared_statement_cache_size": 1000})


def make_session_factory(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    return async_sessionmaker(engine, expire_on_commit=False)


async def current(session: AsyncSession, cls: type[T], ident: Any) -> T | None:
    """`ident` as this session last wrote or read it, for the answer to the request that changed it.

    No query when the object is in the session's identity map and fully loaded (objects stay
    loaded after a commit here: expire_on_commit=False); anything expired, e.g. a column the
    database filled in, is re-read, never lazily loaded later outside the session.
    """
    obj = await session.get(cls, ident)
    if obj is not None and inspect(obj).expired_attributes:
        await session.refresh(obj)
    return obj


class UnitOfWork:
    """One transaction: the state change, its outbox rows and any inbox/idempotency record.

    Aggregates collect events in their `events` list; `commit()` turns every pending event of
    every object the session knows into an outbox row, so a handler cannot forget to publish
    and never talks to Kafka itself.
    """

    def __init__(self, session_factory: async_sessionmaker[AsyncSession], source: str,
                 *, correlation_id: str | None = None, traceparent: str | None = None) -> None:
        self._session_factory = session_factory
        self.source = source
        self.correlation_id = correlation_id
        self.traceparent = traceparent
        self._extra_events: list[EventPayload] = []
        self._audit: list[AuditEntry] = []
        self.session: AsyncSession

    async def __aenter__(self) -> UnitOfWork:
        self.session = self._session_factory()
        # The identity map holds clean objects weakly; an aggregate whose events are still
        # pending must not be garbage-collected before commit() reads them, so keep every
        # object this unit of work adds or loads.
        self._seen: list[Any] = []
        # A block that failed before commit() must not leave its events to the next block's.
        self._extra_events = []
        self._audit = []
        sync_session = self.session.sync_session
        event.listen(sync_session, "transient_to_pending", lambda _s, obj: self._seen.append(obj))
        event.listen(sync_session, "loaded_as_persistent", lambda _s, obj: self._seen.append(obj))
        await self.session.begin()
        return self

    async def __aexit__(self, *exc_info: Any) -> None:
        # close() rolls back whatever was not committed; unlike rollback() it leaves the loaded
        # objects readable (detached, not expired) for the response that follows.
        await self.session.close()

    def publish(self, event: EventPayload) -> None:
        """An event not owned by an aggregate (rare: most come from `aggregate.events`)."""
        self._extra_events.append(event)

    def audit(self, entry: AuditEntry) -> None:
        """Record a change in the audit trail; written at commit, with the change and its events."""
        self._audit.append(entry)

    def _pending_events(self) -> list[EventPayload]:
        events: list[EventPayload] = []
        for obj in self._seen:
            pending = getattr(obj, "events", None)
            if pending:
                events.extend(pending)
                pending.clear()
        events.extend(self._extra_events)
        self._extra_events.clear()
        return sorted(events, key=lambda e: e.raised_order)

    async def commit(self) -> None:
        try:
            await self.session.flush()
            events = self._pending_events()
            if events:
                correlation_id = self.correlation_id or current_correlation_id()
                traceparent = self.traceparent or current_traceparent()
                await self.session.execute(
                    insert(outbox),
                    [
                        {
                            "id": uuid.uuid4(),
                            "topic": event.topic,
                            "key": event.subject(),
                            "type": event.ce_type(),
                            "payload": event.model_dump(mode="json"),
                            "correlation_id": correlation_id,
                            "traceparent": traceparent,
                            "created_at": datetime.now(UTC),
                        }
                        for event in events
                    ],
                )
                # No NOTIFY here: the outbox's trigger sends it, delivered only if this commits.
            if self._audit:
                correlation_id = self.correlation_id or current_correlation_id()
                await self.session.execute(insert(audit_trail), [e.row(correlation_id) for e in self._audit])
                self._audit.clear()
            await self.session.commit()
        except StaleDataError as exc:
            await self.session.rollback()
            raise ConcurrencyConflict("the object was changed by someone else; read it again") from exc
        except IntegrityError:
            await self.session.rollback()
            raise
