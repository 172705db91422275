"""Migration 0003 of every service: the outbox wakes its relay from a trigger, only on commit."""

from __future__ import annotations

import asyncio
import importlib
import uuid

import asyncpg
import pytest
from alembic import command

from ltc.shared.db import OUTBOX_CHANNEL
from ltc.shared.migrations import alembic_config, upgrade_to_head
from ltc.shared.outbox import asyncpg_dsn

pytestmark = pytest.mark.integration

INSERT = "INSERT INTO outbox (id, topic, key, type, payload) VALUES ($1, 't', 'k', 'x', '{}'::jsonb)"


async def _notifications_after(dsn: str, *, commit: bool) -> int:
    heard: list[str] = []
    listener = await asyncpg.connect(dsn)
    writer = await asyncpg.connect(dsn)
    try:
        await listener.add_listener(OUTBOX_CHANNEL, lambda *args: heard.append(args[2]))
        transaction = writer.transaction()
        await transaction.start()
        await writer.execute(INSERT, uuid.uuid4())
        await writer.execute(INSERT, uuid.uuid4())
        await asyncio.sleep(0.2)
        assert heard == [], "a notification before the commit would wake the relay for nothing"
        await (transaction.commit() if commit else transaction.rollback())
        await asyncio.sleep(0.3)
        return len(heard)
    finally:
        await writer.close()
        await listener.close()


@pytest.mark.parametrize("service", ["leads", "opportunities", "contracts", "finance"])
async def test_an_outbox_insert_notifies_the_relay_once_per_commit_and_only_then(make_database, service):
    spec = importlib.import_module(f"ltc.{service}.bootstrap").SPEC
    url = await make_database(f"{service}_notify")
    await asyncio.to_thread(upgrade_to_head, spec.service_dir, url)
    dsn = asyncpg_dsn(url)

    assert await _notifications_after(dsn, commit=True) == 1  # two rows, one transaction: one wake-up
    assert await _notifications_after(dsn, commit=False) == 0

    config = alembic_config(spec.service_dir, url)
    await asyncio.to_thread(command.downgrade, config, "0002")
    assert await _notifications_after(dsn, commit=True) == 0
    await asyncio.to_thread(command.upgrade, config, "head")
    assert await _notifications_after(dsn, commit=True) == 1
