"""The migrations build exactly the schema the ORM maps, 0002 carries contracts drafted under 0001
over (their schedule in money and their first version), 0005 moves the contract's audit trail
and the policy's versions into the shared tables, and back on a downgrade, and 0006 numbers the
contracts there in the order they were drafted, per year, the count going on from there."""

from __future__ import annotations

import asyncio
import json
import uuid
from datetime import UTC, datetime, timedelta, timezone

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import text
from sqlalchemy.ext.asyncio import create_async_engine

from ltc.contracts import handlers
from ltc.contracts.adapters.orm import metadata
from ltc.contracts.bootstrap import SPEC
from ltc.contracts.domain.policy import DEFAULT_POLICY
from ltc.shared.db import audit_metadata, plumbing_metadata
from ltc.shared.migrations import alembic_config, upgrade_to_head
from ltc.shared.policy import policy_metadata
from ltc.shared.testing.apps import auth, service_client

pytestmark = pytest.mark.integration


async def test_migrated_schema_matches_the_mapped_tables(make_database):
    url = await make_database("contracts_schema")
    await asyncio.to_thread(upgrade_to_head, SPEC.service_dir, url)
    engine = create_async_engine(url)
    try:
        async with engine.connect() as conn:
            diff = await conn.run_sync(lambda sync: compare_metadata(
                MigrationContext.configure(sync, opts={"compare_type": True}),
                [metadata, plumbing_metadata, audit_metadata, policy_metadata]))
    finally:
        await engine.dispose()
    assert diff == []


async def _draft_under_0001(url: str, created_at: datetime | None = None) -> uuid.UUID:
    await asyncio.to_thread(command.upgrade, alembic_config(SPEC.service_dir, url), "0001")
    contract_id = uuid.uuid4()
    engine = create_async_engine(url)
    try:
        async with engine.begin() as conn:
            await conn.execute(text(
                "INSERT INTO contracts (id, opportunity_id, account_name, title, owner, value_amount, value_currency,"
                " payment_terms, milestones, status, signatories, fully_paid, created_at, version) VALUES"
                " (:id, :opportunity_id, 'ACME', 'Core', 'ar-1', 100.01, 'EUR', CAST(:terms AS jsonb),"
                " CAST(:milestones AS jsonb), 'draft', '[]'::jsonb, false, :now, 1)"), {
                "id": contract_id, "opportunity_id": uuid.uuid4(), "now": created_at or datetime.now(UTC),
                "terms": json.dumps([{"name": "advance", "percent": "30", "trigger": "signing", "milestone": None,
                                      "due_days": 30},
                                     {"name": "rest", "percent": "70", "trigger": "milestone", "milestone": "PAC",
                                      "due_days": 30}]),
                "milestones": json.dumps([{"milestone_id": str(uuid.uuid4()), "name": "PAC",
                                           "planned_date": "2027-03-01", "acceptance_type": "final",
                                           "status": "planned", "accepted_on": None, "certificate_ref": None}]),
            })
    finally:
        await engine.dispose()
    return contract_id


async def test_a_contract_drafted_before_0002_keeps_working(make_database, kafka_bootstrap):
    url = await make_database("contracts_upgrade")
    contract_id = await _draft_under_0001(url)

    async with service_client(SPEC, url, kafka_bootstrap) as client:  # migrates to head
        owner = auth("ar-1", "ar")
        contract = (await client.get(f"/api/v1/contracts/{contract_id}", headers=owner)).json()
        versions = (await client.get(f"/api/v1/contracts/{contract_id}/versions", headers=owner)).json()

    assert [t["amount"]["amount"] for t in contract["payment_terms"]] == ["30.00", "70.01"]
    assert (contract["contract_version"], contract["review"]["status"], contract["legal_terms"]["governing_law"]) == (
        1, "pending", None)
    assert contract["milestones"][0]["owner"] is None
    [version] = versions
    assert (version["contract_version"], version["change"], version["terms"]["value"]["amount"]) == (
        1, "drafted", "100.01")


# What 0004 left: a contract's trail (seq order is not `at` order: the trail is kept as written)
# and two versions of the policy.
AUDIT_ROWS = [
    ("drafted", "opportunities:ltc.opportunity.won.v1", datetime(2026, 11, 2, 9, 30, tzinfo=UTC),
     {"event_id": "e-1"}),
    ("reviewed", "legal-reviewer", datetime(2026, 11, 3, 10, 0, tzinfo=UTC),
     {"function": "legal", "outcome": "passed", "contract_version": 1, "items": [
         {"item": "liability", "verdict": "pass", "comment": None}]}),
    ("signed", "ar-1", datetime(2026, 11, 3, 9, 0, tzinfo=UTC),
     {"signatories": ["A", "B"], "signed_on": "2026-11-03", "approved_by": None}),
]
POLICY_1 = {**DEFAULT_POLICY.to_json(), "at_risk_days": 7}
POLICY_2 = {**DEFAULT_POLICY.to_json(), "at_risk_days": 21}
POLICY_ROWS = [(1, POLICY_1, "admin-1", datetime(2026, 11, 10, 8, 0, tzinfo=UTC)),
               (2, POLICY_2, "admin-2", datetime(2026, 11, 11, 8, 0, tzinfo=UTC))]


async def _trail_and_policy_under_0004(url: str) -> uuid.UUID:
    contract_id = await _draft_under_0001(url)
    await asyncio.to_thread(command.upgrade, alembic_config(SPEC.service_dir, url), "0004")
    engine = create_async_engine(url)
    try:
        async with engine.begin() as conn:
            for action, actor, at, details in AUDIT_ROWS:
                await conn.execute(text("INSERT INTO contract_audit (contract_id, action, actor, at, details) VALUES"
                                        " (:id, :action, :actor, :at, CAST(:details AS jsonb))"),
                                   {"id": contract_id, "action": action, "actor": actor, "at": at,
                                    "details": json.dumps(details)})
            for version, document, by, at in POLICY_ROWS:
                await conn.execute(text("INSERT INTO contract_policy (version, document, updated_by, updated_at) VALUES"
                                        " (:version, CAST(:document AS jsonb), :by, :at)"),
                                   {"version": version, "document": json.dumps(document), "by": by, "at": at})
    finally:
        await engine.dispose()
    return contract_id


async def _rows(url: str, sql: str) -> list:
    engine = create_async_engine(url)
    try:
        async with engine.connect() as conn:
            return list((await conn.execute(text(sql))).all())
    finally:
        await engine.dispose()


async def test_0005_moves_the_audit_trail_and_the_policy_versions_into_the_shared_tables(make_database,
                                                                                        kafka_bootstrap):
    url = await make_database("contracts_audit_policy")
    contract_id = await _trail_and_policy_under_0004(url)

    async with service_client(SPEC, url, kafka_bootstrap) as client:  # migrates to head
        trail = (await client.get(f"/api/v1/contracts/{contract_id}/audit", headers=auth("ar-1", "ar"))).json()
        read = await client.get("/api/v1/contract-policy", headers=auth("admin-1", "admin"))
        history = (await client.get("/api/v1/contract-policy/history", headers=auth("admin-1", "admin"))).json()
        policy = {name: value for name, value in read.json().items() if name not in ("version", "etag")}
        stale = await client.put("/api/v1/contract-policy", json=policy,
                                 headers={**auth("admin-1", "admin"), "If-Match": '"1"'})
        saved = await client.put("/api/v1/contract-policy", json=policy,
                                 headers={**auth("admin-1", "admin"), "If-Match": read.headers["ETag"]})

    assert trail == [{"action": action, "actor": actor, "at": at.isoformat().replace("+00:00", "Z"),
                      "details": details} for action, actor, at, details in AUDIT_ROWS]
    stored = await _rows(url, "SELECT object_type, object_id, action, filed_under, correlation_id FROM audit_trail"
                              " ORDER BY seq")
    assert stored == [("contract", contract_id, action, [], None) for action, *_ in AUDIT_ROWS]
    assert (read.headers["ETag"], read.json()["at_risk_days"]) == ('"2"', 21)
    assert [(v["version"], v["updated_by"], v["updated_at"], v["policy"]["at_risk_days"]) for v in history] == [
        (1, "admin-1", "2026-11-10T08:00:00Z", 7), (2, "admin-2", "2026-11-11T08:00:00Z", 21)]
    assert (stale.status_code, stale.json()["type"].rsplit("/", 1)[1]) == (412, "stale-etag")
    assert (saved.status_code, saved.headers["ETag"]) == (200, '"3"')
    assert await _rows(url, "SELECT to_regclass('contract_audit'), to_regclass('contract_policy')") == [(None, None)]


async def test_0005_downgrades_to_the_old_tables_with_every_row(make_database):
    url = await make_database("contracts_audit_policy_down")
    contract_id = await _trail_and_policy_under_0004(url)
    await asyncio.to_thread(upgrade_to_head, SPEC.service_dir, url)
    await asyncio.to_thread(command.downgrade, alembic_config(SPEC.service_dir, url), "0004")

    audit = await _rows(url, "SELECT contract_id, action, actor, at, details FROM contract_audit ORDER BY seq")
    assert audit == [(contract_id, action, actor, at, details) for action, actor, at, details in AUDIT_ROWS]
    policy = await _rows(url, "SELECT version, document, updated_by, updated_at FROM contract_policy ORDER BY version")
    assert policy == POLICY_ROWS
    assert await _rows(url, "SELECT to_regclass('audit_trail'), to_regclass('policy_versions')") == [(None, None)]


# Drafted out of the order they were inserted in; the third at 23:30 on New Year's Eve an hour west
# of UTC, which is already 2026 where the service numbers (UTC).
DRAFTED_AT = [datetime(2026, 3, 1, 9, 0, tzinfo=UTC), datetime(2025, 6, 1, 9, 0, tzinfo=UTC),
              datetime(2025, 12, 31, 23, 30, tzinfo=timezone(timedelta(hours=-1))),
              datetime(2026, 7, 1, 9, 0, tzinfo=UTC)]
NUMBERED = ["CON-2026-000002", "CON-2025-000001", "CON-2026-000001", "CON-2026-000003"]


async def test_0006_numbers_the_contracts_there_in_drafting_order_and_the_count_goes_on(make_database,
                                                                                      kafka_bootstrap, monkeypatch):
    url = await make_database("contracts_numbers")
    ids = [await _draft_under_0001(url, created_at=at) for at in DRAFTED_AT]
    await asyncio.to_thread(command.upgrade, alembic_config(SPEC.service_dir, url), "0005")
    monkeypatch.setattr(handlers, "clock", lambda: datetime(2026, 12, 5, 10, 0, tzinfo=UTC))

    async with service_client(SPEC, url, kafka_bootstrap) as client:  # migrates to head
        admin = auth("admin-1", "admin")
        numbers = [(await client.get(f"/api/v1/contracts/{i}", headers=admin)).json()["number"] for i in ids]
        found = (await client.get("/api/v1/contracts", params={"number": "CON-2026-000002"}, headers=admin)).json()
        drafted = await client.post("/api/v1/contracts", headers=auth("ar-1", "ar"), json={
            "account_name": "Globex", "title": "Renewal", "value": {"amount": "100.00", "currency": "EUR"},
            "payment_terms": [{"name": "all", "percent": "100", "trigger": "signing", "due_days": 30}]})

    assert numbers == NUMBERED
    assert [c["id"] for c in found["items"]] == [str(ids[0])]
    assert (drafted.status_code, drafted.json()["number"]) == (201, "CON-2026-000004")
    assert await _rows(url, "SELECT year, last_number FROM contract_sequences ORDER BY year") == [(2025, 1), (2026, 4)]


async def test_0006_downgrades_without_the_numbers(make_database):
    url = await make_database("contracts_numbers_down")
    await _draft_under_0001(url)
    await asyncio.to_thread(upgrade_to_head, SPEC.service_dir, url)
    await asyncio.to_thread(command.downgrade, alembic_config(SPEC.service_dir, url), "0005")
    assert await _rows(url, "SELECT to_regclass('contract_sequences'), count(*) FROM information_schema.columns"
                            " WHERE table_name = 'contracts' AND column_name = 'number'") == [(None, 0)]
    await asyncio.to_thread(upgrade_to_head, SPEC.service_dir, url)
    assert [number for (number,) in await _rows(url, "SELECT number FROM contracts")] == [
        f"CON-{datetime.now(UTC).year}-000001"]


# Lines as they were stored before they were the shared sales lines: no currency, no position, no
# unit; the cable's price is finer than a cent (only the line's amount had to be whole cents).
FIRST_LINES = [{"description": "switch", "quantity": "2", "unit_price": "40.00"},
               {"description": "cable", "quantity": "1000", "unit_price": "0.02001"}]


async def _lines_under_0006(url: str) -> uuid.UUID:
    contract_id = await _draft_under_0001(url)  # 100.01 EUR
    await asyncio.to_thread(command.upgrade, alembic_config(SPEC.service_dir, url), "0006")
    engine = create_async_engine(url)
    try:
        async with engine.begin() as conn:
            lines = json.dumps(FIRST_LINES)
            await conn.execute(text("UPDATE contracts SET line_items = CAST(:lines AS jsonb) WHERE id = :id"),
                               {"lines": lines, "id": contract_id})
            await conn.execute(text("UPDATE contract_versions SET terms = jsonb_set(terms, '{line_items}',"
                                    " CAST(:lines AS jsonb)) WHERE contract_id = :id"),
                               {"lines": lines, "id": contract_id})
    finally:
        await engine.dispose()
    return contract_id


async def test_0007_gives_the_lines_stored_before_their_contracts_currency_and_they_read_as_sales_lines(
        make_database, kafka_bootstrap):
    url = await make_database("contracts_lines_upgrade")
    contract_id = await _lines_under_0006(url)

    async with service_client(SPEC, url, kafka_bootstrap) as client:  # migrates to head
        owner = auth("ar-1", "ar")
        contract = (await client.get(f"/api/v1/contracts/{contract_id}", headers=owner)).json()
        [version] = (await client.get(f"/api/v1/contracts/{contract_id}/versions", headers=owner)).json()

    expected = [
        {"position": 1, "code": None, "description": "switch", "quantity": "2", "unit": "C62", "unit_price": "40.00",
         "discount": None, "amount": "80.00", "net": "80.00", "supply": "services", "vat": None, "milestone": None},
        # a price finer than the currency reads as the line's amount for one lump sum
        {"position": 2, "code": None, "description": "cable", "quantity": "1", "unit": "LS", "unit_price": "20.01",
         "discount": None, "amount": "20.01", "net": "20.01", "supply": "services", "vat": None, "milestone": None},
    ]
    assert contract["line_items"] == expected
    assert version["terms"]["line_items"] == expected
    [(stored,)] = await _rows(url, f"SELECT line_items FROM contracts WHERE id = '{contract_id}'")
    assert stored == [{**line, "currency": "EUR"} for line in FIRST_LINES]
    assert await _rows(url, "SELECT count(*) FROM invoiced_lines") == [(0,)]


async def test_0007_downgrades_without_the_invoiced_lines_and_the_lines_still_read_there(make_database):
    url = await make_database("contracts_lines_down")
    contract_id = await _lines_under_0006(url)
    await asyncio.to_thread(upgrade_to_head, SPEC.service_dir, url)
    await asyncio.to_thread(command.downgrade, alembic_config(SPEC.service_dir, url), "0006")
    assert await _rows(url, "SELECT to_regclass('invoiced_lines')") == [(None,)]
    [(stored,)] = await _rows(url, f"SELECT line_items FROM contracts WHERE id = '{contract_id}'")
    # what the previous revision reads of a line is there as it was
    assert [{k: line[k] for k in ("description", "quantity", "unit_price")} for line in stored] == FIRST_LINES
    await asyncio.to_thread(upgrade_to_head, SPEC.service_dir, url)
    [(again,)] = await _rows(url, f"SELECT line_items FROM contracts WHERE id = '{contract_id}'")
    assert again == stored
