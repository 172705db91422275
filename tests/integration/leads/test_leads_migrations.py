"""The migrations build exactly the schema the ORM maps (no drift between the migrations and the
code), and 0004 moves the old `audit_log` into the shared audit trail without changing a history."""

from __future__ import annotations

import asyncio
import json
import uuid
from datetime import UTC, datetime, timedelta

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import text
from sqlalchemy.ext.asyncio import create_async_engine

from ltc.leads.adapters.orm import metadata
from ltc.leads.bootstrap import SPEC
from ltc.shared.db import audit_metadata, plumbing_metadata
from ltc.shared.migrations import alembic_config, upgrade_to_head
from ltc.shared.testing.apps import auth, service_client

pytestmark = pytest.mark.integration

AR = auth("ar-li", "ar")
AT = datetime(2026, 11, 20, 9, 0, tzinfo=UTC)


async def test_migrated_schema_matches_the_mapped_tables(make_database):
    url = await make_database("leads_schema")
    await asyncio.to_thread(upgrade_to_head, SPEC.service_dir, url)
    engine = create_async_engine(url)
    try:
        async with engine.connect() as conn:
            diff = await conn.run_sync(lambda sync: compare_metadata(
                MigrationContext.configure(sync, opts={"compare_type": True}),
                [metadata, plumbing_metadata, audit_metadata]))
    finally:
        await engine.dispose()
    assert diff == []


def _old_entries(account: uuid.UUID, lead: uuid.UUID) -> list[dict]:
    """audit_log rows as the service wrote them before 0004, in no particular order."""
    contact, visit, call = uuid.uuid4(), uuid.uuid4(), uuid.uuid4()
    same_time = sorted((uuid.uuid4(), uuid.uuid4()))

    def entry(entity, entity_id, action, minutes, *, lead_id=None, ident=None, changes=None):
        return {"id": ident or uuid.uuid4(), "entity": entity, "entity_id": entity_id, "lead_id": lead_id,
                "account_id": account, "action": action, "actor": "ar-li", "at": AT + timedelta(minutes=minutes),
                "changes": changes or {}}

    return [
        entry("activity", call, "activity_planned", 5, changes={"kind": "routine_visit"}),
        entry("lead", lead, "captured", 2, lead_id=lead, changes={"title": "Core upgrade"}),
        entry("account", account, "created", 0, changes={"name": "ACME"}),
        # The same instant: the old history broke the tie by id.
        entry("activity", visit, "activity_done", 4, lead_id=lead, ident=same_time[1]),
        entry("activity", visit, "activity_planned", 4, lead_id=lead, ident=same_time[0]),
        entry("contact", contact, "created", 1, changes={"name": "Li"}),
    ]


def _shown(entries: list[dict]) -> list[dict]:
    """The history endpoints' answer before 0004: by time, then id."""
    return [{"id": str(e["id"]), "entity": e["entity"], "entity_id": str(e["entity_id"]), "action": e["action"],
             "actor": e["actor"], "at": e["at"], "changes": e["changes"]}
            for e in sorted(entries, key=lambda e: (e["at"], e["id"]))]


def _parsed(history: list[dict]) -> list[dict]:
    return [{**h, "at": datetime.fromisoformat(h["at"])} for h in history]


async def _insert_account_and_lead(conn, account: uuid.UUID, lead: uuid.UUID) -> None:
    await conn.execute(text(
        "INSERT INTO accounts (id, name, industry, owner, created_at, version, tier, updated_at) "
        "VALUES (:id, 'ACME', 'telecom', 'ar-li', :at, 1, 'normal', :at)"), {"id": account, "at": AT})
    await conn.execute(text(
        "INSERT INTO leads (id, account_id, title, need, channel, self_generated, tier, owner, contact_ids, pains, "
        "grade, evidence, grade_history, created_at, updated_at, version) VALUES (:id, :account, 'Core upgrade', "
        "'5G', 'tender', false, 'key', 'ar-li', '[]', '[]', 'initial', '[]', '[]', :at, :at, 1)"),
        {"id": lead, "account": account, "at": AT})


async def _insert_old_entries(conn, entries: list[dict]) -> None:
    for e in entries:
        await conn.execute(text(
            "INSERT INTO audit_log (id, entity, entity_id, lead_id, account_id, action, actor, at, changes) "
            "VALUES (:id, :entity, :entity_id, :lead_id, :account_id, :action, :actor, :at, CAST(:changes AS jsonb))"),
            {**e, "changes": json.dumps(e["changes"])})


async def test_0004_moves_the_old_audit_log_into_the_shared_trail_and_the_histories_read_the_same(
        make_database, kafka_bootstrap):
    url = await make_database("leads_audit_move")
    config = alembic_config(SPEC.service_dir, url)
    await asyncio.to_thread(command.upgrade, config, "0003")
    account, lead = uuid.uuid4(), uuid.uuid4()
    entries = _old_entries(account, lead)
    engine = create_async_engine(url)
    try:
        async with engine.begin() as conn:
            await _insert_account_and_lead(conn, account, lead)
            await _insert_old_entries(conn, entries)

        async with service_client(SPEC, url, kafka_bootstrap) as client:  # migrates to head
            account_history = (await client.get(f"/api/v1/accounts/{account}/history", headers=AR)).json()
            lead_history = (await client.get(f"/api/v1/leads/{lead}/history", headers=AR)).json()

        async with engine.connect() as conn:
            moved = (await conn.execute(text(
                "SELECT id, object_type, object_id, filed_under, actor, action, at, changes, correlation_id "
                "FROM audit_trail ORDER BY seq"))).all()
            old_table = (await conn.execute(text("SELECT to_regclass('audit_log')"))).scalar()
    finally:
        await engine.dispose()

    assert _parsed(account_history) == _shown([e for e in entries if e["account_id"] == account])
    assert _parsed(lead_history) == _shown([e for e in entries if lead in (e["lead_id"], e["entity_id"])])
    assert len(lead_history) == 3
    in_order = sorted(entries, key=lambda e: (e["at"], e["id"]))
    assert [(r.id, r.object_type, r.object_id, r.actor, r.action, r.at, r.changes, r.correlation_id) for r in moved] == [
        (e["id"], e["entity"], e["entity_id"], e["actor"], e["action"], e["at"], e["changes"], None) for e in in_order]
    assert [r.filed_under for r in moved] == [
        [i for i in (e["lead_id"], e["account_id"]) if i is not None and i != e["entity_id"]] for e in in_order]
    assert old_table is None


async def test_0004_downgrades_to_the_old_audit_log_entry_for_entry(make_database):
    url = await make_database("leads_audit_back")
    config = alembic_config(SPEC.service_dir, url)
    await asyncio.to_thread(command.upgrade, config, "0003")
    entries = _old_entries(uuid.uuid4(), uuid.uuid4())
    columns = "id, entity, entity_id, lead_id, account_id, action, actor, at, changes"
    engine = create_async_engine(url)
    try:
        async with engine.begin() as conn:
            await _insert_old_entries(conn, entries)
        await asyncio.to_thread(command.upgrade, config, "0004")
        await asyncio.to_thread(command.downgrade, config, "0003")
        async with engine.connect() as conn:
            back = (await conn.execute(text(f"SELECT {columns} FROM audit_log ORDER BY at, id"))).all()
            trail = (await conn.execute(text("SELECT to_regclass('audit_trail')"))).scalar()
    finally:
        await engine.dispose()
    assert [tuple(r) for r in back] == [tuple(e[c] for c in columns.split(", "))
                                        for e in sorted(entries, key=lambda e: (e["at"], e["id"]))]
    assert trail is None


async def test_0004_is_not_undone_when_an_entry_is_filed_beyond_what_audit_log_can_hold(make_database):
    url = await make_database("leads_audit_refuse")
    config = alembic_config(SPEC.service_dir, url)
    await asyncio.to_thread(upgrade_to_head, SPEC.service_dir, url)
    engine = create_async_engine(url)
    try:
        async with engine.begin() as conn:
            await conn.execute(text(
                "INSERT INTO audit_trail (id, at, actor, action, object_type, object_id, filed_under) "
                "VALUES (:id, now(), 'x', 'updated', 'lead', :lead, ARRAY[:a, :b]::uuid[])"),
                {"id": uuid.uuid4(), "lead": uuid.uuid4(), "a": uuid.uuid4(), "b": uuid.uuid4()})
        with pytest.raises(RuntimeError, match="not undone"):
            await asyncio.to_thread(command.downgrade, config, "0003")
        async with engine.connect() as conn:
            assert (await conn.execute(text("SELECT count(*) FROM audit_trail"))).scalar() == 1
    finally:
        await engine.dispose()


async def test_0006_adds_the_billing_identity_and_its_downgrade_drops_it(make_database):
    url = await make_database("leads_billing_migration")
    config = alembic_config(SPEC.service_dir, url)
    await asyncio.to_thread(command.upgrade, config, "0006")
    engine = create_async_engine(url)

    async def columns() -> set[str]:
        async with engine.connect() as conn:
            rows = await conn.execute(text(
                "SELECT column_name FROM information_schema.columns WHERE table_name = 'accounts'"))
            return {r[0] for r in rows}

    try:
        assert "billing" in await columns()
        await asyncio.to_thread(command.downgrade, config, "0005")
        assert "billing" not in await columns()
        await asyncio.to_thread(command.upgrade, config, "0006")
        assert "billing" in await columns()
    finally:
        await engine.dispose()
