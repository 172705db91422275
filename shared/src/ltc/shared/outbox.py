"""The outbox relay: publishes committed outbox rows to Kafka, in commit order, then marks them sent.

One relay per service database publishes at a time (a PostgreSQL advisory lock elects it), so
events of one aggregate leave in the order they were committed even with several replicas. The
relay is woken by NOTIFY from the committing transaction and polls only as a fallback.
"""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime

import asyncpg
import structlog
from aiokafka import AIOKafkaProducer
from sqlalchemy.ext.asyncio import AsyncEngine

from ltc.shared.db import OUTBOX_CHANNEL
from ltc.shared.messages.envelope import Envelope
from ltc.shared.metrics import record_published

log = structlog.get_logger()

_RELAY_LOCK_KEY = 0x17C0_0B0C  # any constant: one relay per database holds it


def asyncpg_dsn(sqlalchemy_url: str) -> str:
    return sqlalchemy_url.replace("postgresql+asyncpg://", "postgresql://", 1)


class OutboxRelay:
    def __init__(self, engine: AsyncEngine, producer: AIOKafkaProducer, *, source: str,
                 poll_seconds: float = 1.0, batch_size: int = 500) -> None:
        self._engine = engine
        self._producer = producer
        self._source = source
        self._poll_seconds = poll_seconds
        self._batch_size = batch_size
        self._wake = asyncio.Event()

    async def run(self) -> None:
        """Publish until cancelled; reconnects after database or broker failures."""
        while True:
            try:
                await self._run_as_leader()
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("outbox relay failed; retrying")
                await asyncio.sleep(self._poll_seconds)

    async def _connect(self) -> asyncpg.Connection:
        conn = await asyncpg.connect(asyncpg_dsn(self._engine.url.render_as_string(hide_password=False)))
        await conn.set_type_codec("jsonb", encoder=json.dumps, decoder=json.loads, schema="pg_catalog")
        return conn

    async def _run_as_leader(self) -> None:
        conn = await self._connect()
        try:
            while not await conn.fetchval("SELECT pg_try_advisory_lock($1)", _RELAY_LOCK_KEY):
                await asyncio.sleep(self._poll_seconds)
            await conn.add_listener(OUTBOX_CHANNEL, lambda *_: self._wake.set())
            while True:
                self._wake.clear()
                published = await self.publish_pending(conn)
                if published >= self._batch_size:
                    continue
                try:
                    await asyncio.wait_for(self._wake.wait(), self._poll_seconds)
                except TimeoutError:
                    pass
        finally:
            await conn.close()

    async def publish_pending(self, conn: asyncpg.Connection | None = None) -> int:
        """Publish one batch of unsent rows; returns how many were sent.

        The leader works on the connection that holds its lock, in plain asyncpg: on the hand-over
        path, with no pool checkout, transaction or ORM layer between the wake-up and the send.
        No transaction is needed: only the lock holder reads or marks these rows.
        """
        if conn is None:
            conn = await self._connect()
            try:
                return await self.publish_pending(conn)
            finally:
                await conn.close()
        rows = await conn.fetch(_UNSENT, self._batch_size)
        if not rows:
            return 0
        deliveries = []
        for row in rows:
            envelope = Envelope(
                id=str(row["id"]), type=row["type"], source=self._source, subject=row["key"],
                time=row["created_at"], data=row["payload"], correlation_id=row["correlation_id"],
                traceparent=row["traceparent"],
            )
            key, value, headers = envelope.to_kafka()
            deliveries.append(await self._producer.send(row["topic"], value=value, key=key, headers=headers))
        # Marked sent only once the broker acknowledged every record (acks=all); a crash in
        # between re-sends them, and consumers drop the duplicates by message id.
        await asyncio.gather(*deliveries)
        await conn.execute(_MARK_SENT, [row["seq"] for row in rows], datetime.now(UTC))
        for row in rows:
            record_published(self._source, row["type"], row["payload"])
        return len(rows)


_UNSENT = ("SELECT seq, id, topic, key, type, payload, correlation_id, traceparent, created_at FROM outbox "
           "WHERE sent_at IS NULL ORDER BY seq LIMIT $1")
_MARK_SENT = "UPDATE outbox SET sent_at = $2 WHERE seq = ANY($1::bigint[])"
