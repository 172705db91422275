"""The migrations build exactly the schema the ORM and the shared tables map, and 0004 carries the
audit log and the admin's configuration written under 0003 over into the shared audit trail and
policy store, answered as before."""

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

from ltc.opportunities.adapters import queries
from ltc.opportunities.adapters.orm import metadata
from ltc.opportunities.bootstrap import SPEC
from ltc.shared.db import audit_metadata, plumbing_metadata
from ltc.shared.migrations import alembic_config, upgrade_to_head
from ltc.shared.policy import policy_metadata
from ltc.shared.testing.apps import auth, service_client

pytestmark = pytest.mark.integration

OWNER = auth("ar-1", "ar")
ADMIN = auth("admin-1", "admin")
T0 = datetime(2026, 11, 30, 9, 0, tzinfo=UTC)
PROBABILITIES = {"validating": "20", "strategizing": "25", "bidding": "50", "negotiating": "75"}
THRESHOLDS = {"EUR": {"l2_from": "100000", "l3_from": "2000000"}}


async def test_migrated_schema_matches_the_mapped_tables(make_database):
    url = await make_database("opportunities_schema")
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


async def _at_0003_with_history(url: str) -> uuid.UUID:
    """A database at 0003 with an opportunity, its audit log (not in time order: seq decides) and
    both settings changed by an admin."""
    await asyncio.to_thread(command.upgrade, alembic_config(SPEC.service_dir, url), "0003")
    opportunity_id = uuid.uuid4()
    engine = create_async_engine(url)
    try:
        async with engine.begin() as conn:
            await conn.execute(text(
                "INSERT INTO opportunities (id, account_name, title, need, owner, stage, probability, created_at,"
                " version, team_history, insight, stakeholders, competitors, risks, requirements, gate_requests,"
                " draft_terms) VALUES (:id, 'ACME', 'Core', 'CBTC', 'ar-1', 'validating', 10, :t0, 2, '[]', '{}',"
                " '[]', '[]', '[]', '[]', '[]', '{}')"), {"id": opportunity_id, "t0": T0})
            log = [
                (opportunity_id, "ar-1", "create", {"title": "Core"}, T0 + timedelta(minutes=5)),
                (None, "admin-1", "configure-stage_probabilities", {"value": PROBABILITIES, "version": 1}, T0),
                (opportunity_id, "ar-1", "update-details", {"title": "Core"}, T0 + timedelta(minutes=1)),
                (None, "admin-1", "configure-decision_thresholds", {"value": THRESHOLDS, "version": 3}, T0),
            ]
            for row_opportunity, actor, action, detail, at in log:
                await conn.execute(text(
                    "INSERT INTO audit_log (opportunity_id, actor, action, detail, at)"
                    " VALUES (:o, :actor, :action, CAST(:detail AS jsonb), :at)"),
                    {"o": row_opportunity, "actor": actor, "action": action, "detail": json.dumps(detail), "at": at})
            for key, value, version in (("stage_probabilities", PROBABILITIES, 1),
                                        ("decision_thresholds", THRESHOLDS, 3)):
                await conn.execute(text(
                    "INSERT INTO configuration (key, value, version, updated_by, updated_at)"
                    " VALUES (:key, CAST(:value AS jsonb), :version, 'admin-1', :at)"),
                    {"key": key, "value": json.dumps(value), "version": version, "at": T0})
    finally:
        await engine.dispose()
    return opportunity_id


async def test_the_audit_log_and_configuration_of_0003_are_answered_as_before(make_database, kafka_bootstrap):
    url = await make_database("opportunities_upgrade")
    opportunity_id = await _at_0003_with_history(url)

    async with service_client(SPEC, url, kafka_bootstrap) as client:  # migrates to head
        base = f"/api/v1/opportunities/{opportunity_id}"
        audit = (await client.get(f"{base}/audit", headers=OWNER)).json()
        assert [(e["actor"], e["action"], e["detail"], datetime.fromisoformat(e["at"])) for e in audit] == [
            ("ar-1", "create", {"title": "Core"}, T0 + timedelta(minutes=5)),
            ("ar-1", "update-details", {"title": "Core"}, T0 + timedelta(minutes=1))]

        probabilities = await client.get("/api/v1/config/stage-probabilities", headers=OWNER)
        assert (probabilities.headers["etag"], probabilities.json()) == (
            '"1"', {**PROBABILITIES, "version": 1, "etag": '"1"'})
        thresholds = await client.get("/api/v1/config/decision-thresholds", headers=OWNER)
        assert (thresholds.headers["etag"], thresholds.json()) == (
            '"3"', {"thresholds": THRESHOLDS, "version": 3, "etag": '"3"'})
        stale = await client.put("/api/v1/config/decision-thresholds", headers={**ADMIN, "If-Match": '"2"'},
                                 json={"thresholds": THRESHOLDS})
        assert stale.status_code == 412
        saved = await client.put("/api/v1/config/decision-thresholds", headers={**ADMIN, "If-Match": '"3"'},
                                 json={"thresholds": {"EUR": {"l2_from": "200000", "l3_from": "2000000"}}})
        assert saved.status_code == 200 and saved.headers["etag"] == '"4"'

        changed = await client.patch(base, headers={**OWNER, "If-Match": '"2"'}, json={"title": "Core 2"})
        assert changed.status_code == 200, changed.text
        audit = (await client.get(f"{base}/audit", headers=OWNER)).json()
        assert [e["action"] for e in audit] == ["create", "update-details", "update-details"]
        assert audit[-1]["detail"] == {"title": "Core 2"}

    engine = create_async_engine(url)
    try:
        async with engine.connect() as conn:
            trail = (await conn.execute(text(
                "SELECT seq, action, object_type, object_id, filed_under, changes, correlation_id"
                " FROM audit_trail ORDER BY seq"))).all()
            history = (await conn.execute(text(
                "SELECT name, version, set_by FROM policy_versions ORDER BY name, version"))).all()
            old_tables = (await conn.execute(text(
                "SELECT count(*) FROM information_schema.tables WHERE table_name IN ('audit_log', 'configuration')"
            ))).scalar_one()
    finally:
        await engine.dispose()
    assert [(r.seq, r.action, r.object_type, r.object_id) for r in trail[:4]] == [
        (1, "create", "opportunity", opportunity_id),
        (2, "configure-stage_probabilities", "policy", queries.policy_object_id("stage_probabilities")),
        (3, "update-details", "opportunity", opportunity_id),
        (4, "configure-decision_thresholds", "policy", queries.policy_object_id("decision_thresholds"))]
    assert all(r.filed_under == [] and r.correlation_id is None for r in trail[:4])
    assert trail[1].changes == {"value": PROBABILITIES, "version": 1}
    # What was written after the upgrade follows the copied entries.
    assert [(r.seq, r.action, r.object_type) for r in trail[4:]] == [
        (5, "configure-decision_thresholds", "policy"), (6, "update-details", "opportunity")]
    assert trail[4].object_id == queries.policy_object_id("decision_thresholds")
    assert [tuple(r) for r in history] == [("decision_thresholds", 3, "admin-1"), ("decision_thresholds", 4, "admin-1"),
                                           ("stage_probabilities", 1, "admin-1")]
    assert old_tables == 0


async def test_the_downgrade_gives_the_audit_log_and_configuration_back(make_database):
    url = await make_database("opportunities_downgrade")
    opportunity_id = await _at_0003_with_history(url)
    config = alembic_config(SPEC.service_dir, url)
    await asyncio.to_thread(command.upgrade, config, "head")
    await asyncio.to_thread(command.downgrade, config, "0003")

    engine = create_async_engine(url)
    try:
        async with engine.begin() as conn:
            log = (await conn.execute(text(
                "SELECT seq, opportunity_id, action, detail FROM audit_log ORDER BY seq"))).all()
            settings = (await conn.execute(text(
                "SELECT key, value, version FROM configuration ORDER BY key"))).all()
            # The log goes on numbering after the rows it got back.
            await conn.execute(text("INSERT INTO audit_log (opportunity_id, actor, action, detail, at)"
                                    " VALUES (NULL, 'x', 'y', '{}', now())"))
            next_seq = (await conn.execute(text("SELECT max(seq) FROM audit_log"))).scalar_one()
    finally:
        await engine.dispose()
    assert [(r.seq, r.opportunity_id, r.action) for r in log] == [
        (1, opportunity_id, "create"), (2, None, "configure-stage_probabilities"),
        (3, opportunity_id, "update-details"), (4, None, "configure-decision_thresholds")]
    assert log[3].detail == {"value": THRESHOLDS, "version": 3}
    assert [tuple(r) for r in settings] == [("decision_thresholds", THRESHOLDS, 3),
                                            ("stage_probabilities", PROBABILITIES, 1)]
    assert next_seq == 5
    await asyncio.to_thread(command.upgrade, config, "head")


async def test_0005_gives_stored_draft_lines_their_position_and_unit_and_is_undone_only_without_loss(
        make_database, kafka_bootstrap):
    url = await make_database("opportunities_migration_0005")
    config = alembic_config(SPEC.service_dir, url)
    await asyncio.to_thread(command.upgrade, config, "0004")
    opportunity_id = uuid.uuid4()
    old_lines = [{"description": "interlocking", "quantity": "2", "unit_price": {"amount": "900000.00",
                                                                                 "currency": "EUR"}},
                 {"description": "installation", "quantity": "1", "unit_price": {"amount": "600000.00",
                                                                                 "currency": "EUR"}}]
    engine = create_async_engine(url)
    try:
        async with engine.begin() as conn:
            await conn.execute(text(
                "INSERT INTO opportunities (id, account_name, title, need, owner, stage, probability, created_at,"
                " version, team_history, insight, stakeholders, competitors, risks, requirements, gate_requests,"
                " draft_terms) VALUES (:id, 'ACME', 'Core', 'CBTC', 'ar-1', 'validating', 10, :t0, 2, '[]', '{}',"
                " '[]', '[]', '[]', '[]', '[]', CAST(:terms AS jsonb))"),
                {"id": opportunity_id, "t0": T0, "terms": json.dumps({"line_items": old_lines})})
        await asyncio.to_thread(command.upgrade, config, "0005")
        async with service_client(SPEC, url, kafka_bootstrap) as client:
            read = (await client.get(f"/api/v1/opportunities/{opportunity_id}", headers=OWNER)).json()
        assert [(line["position"], line["unit"], line["net"]["amount"]) for line in read["draft_terms"]["line_items"]
                ] == [(1, "C62", "1800000.00"), (2, "C62", "600000.00")]

        await asyncio.to_thread(command.downgrade, config, "0004")
        async with engine.connect() as conn:
            stored = (await conn.execute(text("SELECT draft_terms FROM opportunities"))).scalar()
        assert stored["line_items"] == old_lines, "the downgrade gives back the shape before 0005"

        await asyncio.to_thread(command.upgrade, config, "0005")
        async with engine.begin() as conn:
            await conn.execute(text(
                "UPDATE opportunities SET draft_terms = jsonb_set(draft_terms, '{line_items,0,unit}', '\"HUR\"')"))
        with pytest.raises(RuntimeError, match="cannot hold"):
            await asyncio.to_thread(command.downgrade, config, "0004")
    finally:
        await engine.dispose()
