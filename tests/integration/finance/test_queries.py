"""The read side on a real PostgreSQL database: the SQL visibility filter (`visible_to`) and its
Python twin (`may_see`) are one rule, for every role, account manager or not."""

import asyncio
import uuid
from datetime import UTC, date, datetime
from decimal import Decimal

import pytest
from sqlalchemy import select

from ltc.finance.adapters import repository
from ltc.finance.adapters.orm import credit_notes, invoices, payments, start_mappers
from ltc.finance.adapters.queries import managed_accounts, may_see, visible_to
from ltc.finance.bootstrap import SPEC
from ltc.finance.domain.billing_plan import BillingPlan, InstalmentTerms
from ltc.finance.domain.payment import PaymentTarget, receive_payment
from ltc.shared.db import make_engine, make_session_factory
from ltc.shared.messages import Lineage
from ltc.shared.messages.contracts_events import Trigger
from ltc.shared.migrations import upgrade_to_head
from ltc.shared.money import Money
from ltc.shared.roles import Principal, Role
from tests.unit.finance.samples import export

pytestmark = pytest.mark.integration

NOW = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)
MANAGED, OTHERS, NOBODYS = uuid.uuid4(), uuid.uuid4(), uuid.uuid4()
# Who won an opportunity on which account: ar-1 on MANAGED (twice), ar-2 on OTHERS, an id differing
# from ar-1 only in case on NOBODYS, and ar-1 once on an opportunity without an account.
WON = (("ar-1", MANAGED), ("ar-1", MANAGED), ("ar-2", OTHERS), ("Ar-1", NOBODYS), ("ar-1", None))


def _principals() -> list[Principal]:
    """Each role on its own, as an account manager and as one managing nothing; a few combinations; no role."""
    principals = []
    for role in Role:
        for sub in ("ar-1", f"{role.value}-nobody"):
            principals.append(Principal(sub, frozenset({role.value})))
    principals += [
        Principal("ar-2", frozenset({Role.AR.value, Role.FINANCE.value})),
        Principal("ar-2", frozenset({Role.AR.value, Role.SR.value})),
        Principal("Ar-1", frozenset({Role.AR.value})),
        Principal("ar-1", frozenset()),
        Principal("stranger", frozenset()),
    ]
    return principals


def _plan(account_id: uuid.UUID | None) -> BillingPlan:
    terms = [InstalmentTerms("all", Decimal(100), Money(Decimal("1000.00"), "EUR"), Trigger.SIGNING, None, 30)]
    contract_id = uuid.uuid4()
    return BillingPlan(id=uuid.uuid4(), contract_id=contract_id, account_id=account_id,
                       lineage=Lineage(contract_id=contract_id), signed_on=date(2026, 11, 20),
                       value=Money(Decimal("1000.00"), "EUR"), schedule=terms, now=NOW)


async def test_the_sql_filter_admits_exactly_the_receivables_may_see_admits(make_database):
    url = await make_database("finance_visibility")
    await asyncio.to_thread(upgrade_to_head, SPEC.service_dir, url)
    start_mappers()
    engine = make_engine(url, pool_size=2)
    sessions = make_session_factory(engine)
    try:
        async with sessions() as session:
            for owner, account_id in WON:
                await repository.remember_opportunity_won(session, opportunity_id=uuid.uuid4(), account_id=account_id,
                                                          owner=owner, won_on=date(2026, 11, 1))
            plans = [_plan(account) for account in (MANAGED, MANAGED, OTHERS, NOBODYS, uuid.uuid4(), None)]
            session.add_all(plans)
            await session.flush()
            made_invoices = [plan.invoice(plan.instalments[0], invoice_id=uuid.uuid4(), number=f"INV-T-{n}",
                                          issue_date=date(2026, 11, 20), now=NOW, vat_of=export) for n, plan in enumerate(plans)]
            session.add_all(made_invoices)
            await session.flush()
            made_notes = [invoice.credit(credit_note_id=uuid.uuid4(), number=f"CN-T-{n}",
                                         amount=Money(Decimal("10.00"), "EUR"), reason="price", issue_date=NOW.date(),
                                         issued_by="clerk", plan=plan, now=NOW)
                          for n, (plan, invoice) in enumerate(zip(plans, made_invoices, strict=True))]
            # A contract's payment carries its account; one for an account names it alone.
            made_payments = [receive_payment(
                payment_id=uuid.uuid4(), bank_reference=f"BANK-T-{uuid.uuid4().hex[:8]}", payer="ACME",
                amount=Money(Decimal("100.00"), "EUR"), value_date=NOW.date(),
                target=PaymentTarget(None, plan.contract_id if n % 2 else None, plan.account_id),
                plans={plan.contract_id: plan}, invoices=[invoice], recorded_by="clerk", now=NOW)
                for n, (plan, invoice) in enumerate(zip(plans, made_invoices, strict=True))]
            session.add_all([*made_notes, *made_payments])
            await session.commit()

        principals = _principals()
        assert {r.value for p in principals for r in Role if r.value in p.roles} == {r.value for r in Role}
        made = {invoices: made_invoices, payments: made_payments, credit_notes: made_notes}
        seen: dict[tuple[str, frozenset[str]], int] = {}
        for principal in principals:
            async with sessions() as session:
                managed = await managed_accounts(session, principal)
                for table, objects in made.items():
                    stmt = select(table.c.id).where(table.c.id.in_([o.id for o in objects]))
                    condition = visible_to(principal, table.c.account_id)
                    if condition is not None:
                        stmt = stmt.where(condition)
                    by_sql = set((await session.execute(stmt)).scalars())
                    by_python = {o.id for o in objects if may_see(principal, o.account_id, managed)}
                    assert by_sql == by_python, (principal, table.name)
                    seen[principal.sub, principal.roles] = len(by_sql)
        assert seen["ar-1", frozenset({"ar"})] == 2 and seen["Ar-1", frozenset({"ar"})] == 1
        assert seen["ar-nobody", frozenset({"ar"})] == 0 and seen["finance-nobody", frozenset({"finance"})] == 6
        async with sessions() as session:
            manager = Principal("ar-1", frozenset({Role.AR.value}))
            assert await managed_accounts(session, manager) == {MANAGED}
            assert not may_see(manager, None, {MANAGED}), "a receivable of no account is finance's alone"
    finally:
        await engine.dispose()
