"""Finance's migrations on databases that already hold data: nothing is lost, new columns are filled in, and
what 0004 brings (the shared audit trail and policy store) is never dropped with rows in it."""

from __future__ import annotations

import asyncio
import uuid

import pytest
from alembic import command
from sqlalchemy import text
from sqlalchemy.ext.asyncio import create_async_engine

from ltc.finance.bootstrap import SPEC
from ltc.shared.migrations import alembic_config, upgrade_to_head

pytestmark = pytest.mark.integration


async def test_upgrade_from_0001_keeps_and_completes_existing_payments(make_database):
    url = await make_database("finance_migration")
    await asyncio.to_thread(command.upgrade, alembic_config(SPEC.service_dir, url), "0001")
    plan, instalment, invoice, payment = (uuid.uuid4() for _ in range(4))
    contract, account, lead = uuid.uuid4(), uuid.uuid4(), uuid.uuid4()
    engine = create_async_engine(url)
    try:
        async with engine.begin() as conn:
            await conn.execute(text(
                "INSERT INTO billing_plans VALUES (:plan, :contract, :account, :lead, NULL, '2026-11-20', 'EUR', "
                "1000, 100, NULL, now(), 1)"), dict(plan=plan, contract=contract, account=account, lead=lead))
            await conn.execute(text(
                "INSERT INTO instalments VALUES (:instalment, :plan, 0, 'all', 100, 1000, 'signing', NULL, 30, "
                "'invoiced', :invoice)"), dict(instalment=instalment, plan=plan, invoice=invoice))
            await conn.execute(text(
                "INSERT INTO invoices VALUES (:invoice, 'INV-2026-000001', :contract, :account, :lead, NULL, "
                ":instalment, 'all', 'EUR', 1000, 100, '2026-11-21', '2026-12-21', 'partially_paid', NULL, now(), 2)"),
                dict(invoice=invoice, contract=contract, account=account, lead=lead, instalment=instalment))
            await conn.execute(text(
                "INSERT INTO payments VALUES (:payment, 'BANK-OLD', 'ACME', 'EUR', 150, '2026-12-01', NULL, "
                ":contract, 50, 'clerk', now())"), dict(payment=payment, contract=contract))
            await conn.execute(text(
                "INSERT INTO payment_applications VALUES (:id, :payment, 0, :invoice, 100)"),
                dict(id=uuid.uuid4(), payment=payment, invoice=invoice))
        await asyncio.to_thread(upgrade_to_head, SPEC.service_dir, url)
        async with engine.connect() as conn:
            paid = (await conn.execute(text(
                "SELECT account_id, lead_id, lineage_contract_id, version FROM payments"))).one()
            applied = (await conn.execute(text(
                "SELECT contract_id, applied_on, applied_by, at_receipt FROM payment_applications"))).one()
            planned = (await conn.execute(text(
                "SELECT first_invoiced_on, credited_amount, contract_version FROM billing_plans"))).one()
    finally:
        await engine.dispose()
    assert (paid.account_id, paid.lead_id, paid.lineage_contract_id, paid.version) == (account, lead, contract, 1)
    assert (applied.contract_id, str(applied.applied_on), applied.applied_by, applied.at_receipt) == (
        contract, "2026-12-01", "clerk", True)
    assert (str(planned.first_invoiced_on), planned.credited_amount, planned.contract_version) == ("2026-11-21", 0, 1)


async def _tables(engine) -> set[str]:
    async with engine.connect() as conn:
        return set((await conn.execute(text(
            "SELECT tablename FROM pg_tables WHERE schemaname = 'public'"))).scalars())


async def test_0004_brings_the_shared_audit_trail_and_policy_store_and_is_undone_only_while_they_are_empty(
        make_database):
    url = await make_database("finance_migration_0004")
    config = alembic_config(SPEC.service_dir, url)
    await asyncio.to_thread(command.upgrade, config, "0003")
    engine = create_async_engine(url)
    try:
        before = await _tables(engine)
        assert not {"audit_trail", "policy_versions"} & before
        await asyncio.to_thread(command.upgrade, config, "0004")
        assert await _tables(engine) == before | {"audit_trail", "policy_versions"}
        await asyncio.to_thread(command.downgrade, config, "0003")
        assert await _tables(engine) == before, "empty, they go without losing anything"

        await asyncio.to_thread(upgrade_to_head, SPEC.service_dir, url)
        async with engine.begin() as conn:
            await conn.execute(text(
                "INSERT INTO audit_trail (id, at, actor, action, object_type, object_id) "
                "VALUES (:id, now(), 'clerk', 'recorded', 'payment', :object)"),
                dict(id=uuid.uuid4(), object=uuid.uuid4()))
        with pytest.raises(RuntimeError, match="audit_trail holds rows"):
            await asyncio.to_thread(command.downgrade, config, "0003")
        async with engine.begin() as conn:
            await conn.execute(text("DELETE FROM audit_trail"))
            await conn.execute(text(
                "INSERT INTO policy_versions VALUES ('account-codes', 1, '{}', 'ops', now())"))
        with pytest.raises(RuntimeError, match="policy_versions holds rows"):
            await asyncio.to_thread(command.downgrade, config, "0003")
        assert {"audit_trail", "policy_versions"} <= await _tables(engine)
    finally:
        await engine.dispose()


async def test_0005_keeps_invoices_issued_before_it_without_parties_and_is_undone_only_without_snapshots(
        make_database):
    url = await make_database("finance_migration_0005")
    config = alembic_config(SPEC.service_dir, url)
    await asyncio.to_thread(command.upgrade, config, "0004")
    engine = create_async_engine(url)
    try:
        before = await _tables(engine)
        await asyncio.to_thread(command.upgrade, config, "0005")
        assert await _tables(engine) == before | {"accounts"}
        async with engine.connect() as conn:
            columns = set((await conn.execute(text(
                "SELECT column_name FROM information_schema.columns WHERE table_name = 'invoices'"))).scalars())
        assert {"bill_to", "seller"} <= columns
        await asyncio.to_thread(command.downgrade, config, "0004")
        assert await _tables(engine) == before

        await asyncio.to_thread(command.upgrade, config, "0005")
        plan, instalment = uuid.uuid4(), uuid.uuid4()
        async with engine.begin() as conn:
            await conn.execute(text(
                "INSERT INTO billing_plans (id, contract_id, signed_on, currency, value_amount, collected_amount, "
                "credited_amount, contract_version, accepted_milestones, created_at, version) VALUES (:plan, :plan, "
                "'2026-11-20', 'EUR', 100, 0, 0, 1, '{}', now(), 1)"), dict(plan=plan))
            await conn.execute(text(
                "INSERT INTO instalments (id, plan_id, position, name, percent, amount, trigger, due_days, status) "
                "VALUES (:instalment, :plan, 0, 'all', 100, 100, 'signing', 30, 'invoiced')"),
                dict(instalment=instalment, plan=plan))
            await conn.execute(text(
                "INSERT INTO invoices (id, number, contract_id, instalment_id, instalment, currency, amount_due, "
                "paid_amount, credited_amount, issue_date, due_date, status, created_at, version, seller) VALUES "
                "(:id, 'INV-2026-000001', :plan, :instalment, 'all', 'EUR', 100, 0, 0, '2026-11-20', '2026-12-20', "
                "'issued', now(), 1, '{\"legal_name\": \"Us\"}')"), dict(id=uuid.uuid4(), plan=plan,
                                                                         instalment=instalment))
        with pytest.raises(RuntimeError, match="bill-to or seller snapshots"):
            await asyncio.to_thread(command.downgrade, config, "0004")
    finally:
        await engine.dispose()


async def test_0006_gives_a_plan_signed_before_it_one_line_of_its_value_and_keeps_old_invoices_lineless(
        make_database):
    url = await make_database("finance_migration_0006")
    config = alembic_config(SPEC.service_dir, url)
    await asyncio.to_thread(command.upgrade, config, "0005")
    engine = create_async_engine(url)
    plan, advance, rest, invoice = uuid.uuid4(), uuid.uuid4(), uuid.uuid4(), uuid.uuid4()
    try:
        async with engine.begin() as conn:
            await conn.execute(text(
                "INSERT INTO billing_plans (id, contract_id, signed_on, currency, value_amount, collected_amount, "
                "credited_amount, contract_version, accepted_milestones, created_at, version) VALUES (:plan, :plan, "
                "'2026-11-20', 'EUR', 1000, 0, 0, 1, '{}', now(), 1)"), dict(plan=plan))
            for instalment, position, amount, status in ((advance, 0, 300, "invoiced"), (rest, 1, 700, "planned")):
                await conn.execute(text(
                    "INSERT INTO instalments (id, plan_id, position, name, percent, amount, trigger, due_days, status)"
                    " VALUES (:id, :plan, :position, :name, :percent, :amount, 'signing', 30, :status)"),
                    dict(id=instalment, plan=plan, position=position, name=f"i{position}", percent=amount // 10,
                         amount=amount, status=status))
            await conn.execute(text(
                "INSERT INTO invoices (id, number, contract_id, instalment_id, instalment, currency, amount_due, "
                "paid_amount, credited_amount, issue_date, due_date, status, created_at, version) VALUES "
                "(:id, 'INV-2026-000001', :plan, :instalment, 'i0', 'EUR', 300, 0, 0, '2026-11-20', '2026-12-20', "
                "'issued', now(), 1)"), dict(id=invoice, plan=plan, instalment=advance))
        await asyncio.to_thread(command.upgrade, config, "0006")
        async with engine.connect() as conn:
            row = (await conn.execute(text("SELECT lines, line_billed, invoiced_gross FROM billing_plans"))).one()
            old = (await conn.execute(text("SELECT lines, tax_breakdown, net_amount, tax_amount FROM invoices"))).one()
        assert row.lines == [{"position": 1, "description": "Contracted value", "quantity": "1", "unit": "C62",
                              "unit_price": {"amount": "1000.0000", "currency": "EUR"}, "code": None, "discount": None,
                              "supply": "services", "vat": None, "milestone": None}]
        assert row.line_billed == {"1": {"net": "300.0000", "quantity": "0.300000"}}
        assert row.invoiced_gross == 300
        assert (old.lines, old.tax_breakdown, old.net_amount, old.tax_amount) == ([], [], None, None), \
            "what an invoice said when issued is not rewritten"

        await asyncio.to_thread(command.downgrade, config, "0005")
        await asyncio.to_thread(command.upgrade, config, "0006")
        async with engine.begin() as conn:
            await conn.execute(text("UPDATE invoices SET lines = '[{\"position\": 1}]'::jsonb"))
        with pytest.raises(RuntimeError, match="invoices carry lines"):
            await asyncio.to_thread(command.downgrade, config, "0005")
    finally:
        await engine.dispose()


async def test_0007_gives_every_invoice_its_creditor_reference(make_database):
    url = await make_database("finance_migration_0007")
    config = alembic_config(SPEC.service_dir, url)
    await asyncio.to_thread(command.upgrade, config, "0006")
    engine = create_async_engine(url)
    plan, instalment = uuid.uuid4(), uuid.uuid4()
    try:
        async with engine.begin() as conn:
            await conn.execute(text(
                "INSERT INTO billing_plans (id, contract_id, signed_on, currency, value_amount, collected_amount, "
                "credited_amount, contract_version, accepted_milestones, created_at, version, lines, line_milestones, "
                "line_billed, invoiced_gross) VALUES (:plan, :plan, '2026-11-20', 'EUR', 100, 0, 0, 1, '{}', now(), 1, "
                "'[]', '{}', '{}', 100)"), dict(plan=plan))
            await conn.execute(text(
                "INSERT INTO instalments (id, plan_id, position, name, percent, amount, trigger, due_days, status) "
                "VALUES (:instalment, :plan, 0, 'all', 100, 100, 'signing', 30, 'invoiced')"),
                dict(instalment=instalment, plan=plan))
            await conn.execute(text(
                "INSERT INTO invoices (id, number, contract_id, instalment_id, instalment, currency, amount_due, "
                "paid_amount, credited_amount, issue_date, due_date, status, created_at, version, lines, "
                "tax_breakdown, line_credited, row_credited) VALUES (:id, 'INV-2026-000001', :plan, :instalment, "
                "'all', 'EUR', 100, 0, 0, '2026-11-20', '2026-12-20', 'issued', now(), 1, '[]', '[]', '{}', '{}')"),
                dict(id=uuid.uuid4(), plan=plan, instalment=instalment))
        await asyncio.to_thread(command.upgrade, config, "0007")
        async with engine.connect() as conn:
            assert (await conn.execute(text("SELECT payment_reference FROM invoices"))).scalar() == "RF94INV2026000001"
        await asyncio.to_thread(command.downgrade, config, "0006")
        async with engine.connect() as conn:
            columns = set((await conn.execute(text(
                "SELECT column_name FROM information_schema.columns WHERE table_name = 'invoices'"))).scalars())
        assert "payment_reference" not in columns
    finally:
        await engine.dispose()


async def test_0008_keeps_the_bank_statements_it_holds(make_database):
    url = await make_database("finance_migration_0008")
    config = alembic_config(SPEC.service_dir, url)
    await asyncio.to_thread(command.upgrade, config, "0008")
    engine = create_async_engine(url)
    try:
        await asyncio.to_thread(command.downgrade, config, "0007")
        await asyncio.to_thread(command.upgrade, config, "0008")
        async with engine.begin() as conn:
            await conn.execute(text(
                "INSERT INTO bank_statements (id, statement_id, account_iban, message_type, content_sha256, "
                "imported_by, imported_at) VALUES (:id, 'S-1', 'DE89370400440532013000', 'camt.053.001.08', 'x', "
                "'bank', now())"), dict(id=uuid.uuid4()))
        with pytest.raises(RuntimeError, match="bank statements are held"):
            await asyncio.to_thread(command.downgrade, config, "0007")
    finally:
        await engine.dispose()
