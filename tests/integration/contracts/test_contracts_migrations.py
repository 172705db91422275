"""The migrations build exactly the schema the ORM maps, and 0002 carries contracts drafted
under 0001 over: their schedule in money and their first version."""

from __future__ import annotations

import asyncio
import json
import uuid
from datetime import UTC, datetime

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import text
from sqlalchemy.ext.asyncio import create_async_engine

from ltc.contracts.adapters.orm import metadata
from ltc.contracts.bootstrap import SPEC
from ltc.shared.db import plumbing_metadata
from ltc.shared.migrations import alembic_config, upgrade_to_head
from ltc.shared.testing.apps import auth, service_client

pytestmark = pytest.mark.integration


async def test_migrated_schema_matches_the_mapped_tables(make_database):
    url = await make_database("contracts_schema")
    await asyncio.to_thread(upgrade_to_head, SPEC.service_dir, url)
    engine = create_async_engine(url)
    try:
        async with engine.connect() as conn:
            diff = await conn.run_sync(lambda sync: compare_metadata(
                MigrationContext.configure(sync, opts={"compare_type": True}), [metadata, plumbing_metadata]))
    finally:
        await engine.dispose()
    assert diff == []


async def test_a_contract_drafted_before_0002_keeps_working(make_database, kafka_bootstrap):
    url = await make_database("contracts_upgrade")
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
                "id": contract_id, "opportunity_id": uuid.uuid4(), "now": datetime.now(UTC),
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
