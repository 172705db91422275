"""The read side on a real PostgreSQL database: the SQL visibility filter (`visible_to`) and its
Python twin (`may_see`) are one rule, for every role, owner or not."""

import asyncio
import itertools
import uuid
from datetime import UTC, date, datetime
from decimal import Decimal

import pytest
from sqlalchemy import select

from ltc.contracts.adapters.orm import contracts, start_mappers
from ltc.contracts.adapters.queries import may_see, visible_to
from ltc.contracts.bootstrap import SPEC
from ltc.contracts.domain.approval import Approval
from ltc.contracts.domain.model import Contract, contract_number
from ltc.contracts.domain.values import AcceptanceType, AgreedMilestone, PaymentTerm, Trigger
from ltc.shared.db import make_engine, make_session_factory
from ltc.shared.migrations import upgrade_to_head
from ltc.shared.money import Money
from ltc.shared.roles import Principal, Role
from ltc.shared.tiers import Tier

pytestmark = pytest.mark.integration

NOW = datetime(2027, 10, 1, 12, 0, tzinfo=UTC)
OWNERS = ("ar-1", "ar-2", "sr-1", "Ar-1")  # an SR's id owning one, and an id differing from ar-1 only in case


_SEQUENCE = itertools.count(1)


def _contract(owner: str, *, from_opportunity: bool) -> Contract:
    atc = Approval.of_atc(tier=Tier.L2, decider="approver-l2", decided_at=NOW) if from_opportunity else None
    return Contract(id=uuid.uuid4(), number=contract_number(NOW.year, next(_SEQUENCE)), opportunity_id=uuid.uuid4() if from_opportunity else None, lead_id=None,
                    account_id=uuid.uuid4(), account_name="ACME", title="Core", owner=owner,
                    value=Money(Decimal("1000.00"), "EUR"),
                    payment_terms=[PaymentTerm("all", Decimal(100), Trigger.MILESTONE, "SAT", 30)],
                    milestones=[AgreedMilestone("SAT", date(2027, 12, 1), AcceptanceType.FINAL)], now=NOW,
                    atc_approval=atc)


def _principals() -> list[Principal]:
    """Each role on its own, as an owner and as someone owning nothing; a few combinations; no role."""
    principals = []
    for role in Role:
        for sub in ("ar-1", f"{role.value}-nobody"):
            principals.append(Principal(sub, frozenset({role.value})))
    principals += [
        Principal("sr-1", frozenset({Role.SR.value})),
        Principal("ar-2", frozenset({Role.AR.value, Role.FINANCE.value})),
        Principal("ar-2", frozenset({Role.AR.value, Role.SR.value})),
        Principal("ar-1", frozenset()),
        Principal("stranger", frozenset()),
    ]
    return principals


async def test_the_sql_filter_admits_exactly_the_contracts_may_see_admits(make_database):
    url = await make_database("contracts_visibility")
    await asyncio.to_thread(upgrade_to_head, SPEC.service_dir, url)
    start_mappers()
    engine = make_engine(url, pool_size=2)
    sessions = make_session_factory(engine)
    try:
        made = [_contract(owner, from_opportunity=from_opportunity)
                for owner in OWNERS for from_opportunity in (False, True)]
        async with sessions() as session:
            session.add_all(made)
            await session.commit()
        ids = [c.id for c in made]

        principals = _principals()
        assert {r.value for p in principals for r in Role if r.value in p.roles} == {r.value for r in Role}
        for principal in principals:
            stmt = select(contracts.c.id).where(contracts.c.id.in_(ids))
            condition = visible_to(principal)
            if condition is not None:
                stmt = stmt.where(condition)
            async with sessions() as session:
                by_sql = set((await session.execute(stmt)).scalars())
            by_python = {c.id for c in made if may_see(principal, c)}
            assert by_sql == by_python, principal
            if condition is None:
                assert by_python == set(ids), principal  # None means every contract, as may_see says
    finally:
        await engine.dispose()
