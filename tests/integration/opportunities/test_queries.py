"""The read side on the real database: the SQL visibility filter admits exactly the opportunities
its Python twin `may_see` admits, for every role and every part a caller can play."""

from __future__ import annotations

import asyncio
import itertools
import uuid
from datetime import UTC, datetime

import pytest
from sqlalchemy import select

from ltc.opportunities.adapters import queries
from ltc.opportunities.adapters.orm import opportunities, start_mappers
from ltc.opportunities.bootstrap import SPEC
from ltc.opportunities.domain.model import Opportunity
from ltc.opportunities.domain.team import TeamRole
from ltc.shared.db import make_engine, make_session_factory
from ltc.shared.migrations import upgrade_to_head
from ltc.shared.roles import Principal, Role

pytestmark = pytest.mark.integration

NOW = datetime(2026, 11, 27, 12, 0, tzinfo=UTC)
USERS = ("alice", "sam", "fay", "otto")  # owner, SR, FR of the first deal; on none of them
TEAMS = [  # (owner, sr, fr)
    ("alice", "sam", "fay"),
    ("otto", None, None),
    ("bob", "alice", None),
    ("bob", None, "alice"),
    ("bob", "sam", "sam"),
    ("fay", None, None),
    ("bob", None, None),
]
ROLE_SETS = [frozenset({role}) for role in Role] + [frozenset(), frozenset({Role.SR, Role.AR}),
                                                    frozenset({Role.AR, Role.APPROVER_L1})]


def _opportunity(owner: str, sr: str | None, fr: str | None) -> Opportunity:
    opportunity = Opportunity(id=uuid.uuid4(), lead_id=None, account_id=None, account_name="ACME", title="t",
                              need="n", budget=None, start_date=None, owner=owner, now=NOW)
    team = {role: user for role, user in ((TeamRole.SR, sr), (TeamRole.FR, fr)) if user is not None}
    if team:
        opportunity.assign_team(team, by=owner, now=NOW)
    return opportunity


async def test_the_sql_filter_admits_exactly_what_may_see_admits(make_database):
    url = await make_database("opportunities_visibility")
    await asyncio.to_thread(upgrade_to_head, SPEC.service_dir, url)
    start_mappers()
    engine = make_engine(url)
    sessions = make_session_factory(engine)
    deals = [_opportunity(*team) for team in TEAMS]
    try:
        async with sessions() as session, session.begin():
            session.add_all(deals)
        checked = 0
        async with sessions() as session:
            for user, roles in itertools.product(USERS, ROLE_SETS):
                principal = Principal(sub=user, roles=frozenset(str(r) for r in roles))
                stmt = select(opportunities.c.id).where(opportunities.c.id.in_([d.id for d in deals]))
                if (visible := queries.visible_to(principal)) is not None:
                    stmt = stmt.where(visible)
                in_sql = set((await session.execute(stmt)).scalars())
                in_python = {d.id for d in deals if queries.may_see(principal, d)}
                assert in_sql == in_python, (user, sorted(roles))
                checked += 1
        assert checked == len(USERS) * len(ROLE_SETS)
        # The matrix is not trivial: the team sees the deals it is on, whatever its part; deciders all.
        def seen_by(user: str, role: Role) -> list[int]:
            return [n for n, d in enumerate(deals) if queries.may_see(Principal(user, frozenset({role})), d)]
        assert seen_by("alice", Role.AR) == [0, 2, 3] and seen_by("sam", Role.SR) == [0, 4]
        assert seen_by("otto", Role.AR) == [1] and seen_by("otto", Role.APPROVER_L2) == list(range(len(deals)))
    finally:
        await engine.dispose()
