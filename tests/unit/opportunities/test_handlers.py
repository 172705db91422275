"""Who of the iron triangle may change what: the AR everything, the SR pricing, the FR delivery."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

import pytest

from ltc.opportunities import handlers
from ltc.opportunities.domain.model import Opportunity
from ltc.opportunities.domain.risks import Level, Risk, RiskCategory, RiskStatus
from ltc.opportunities.domain.team import TeamRole
from ltc.shared.roles import Principal

NOW = datetime(2026, 11, 27, 12, 0, tzinfo=UTC)


def who(sub: str, *roles: str) -> Principal:
    return Principal(sub=sub, roles=frozenset(roles))


@pytest.fixture
def opportunity() -> Opportunity:
    opportunity = Opportunity(id=uuid.uuid4(), lead_id=None, account_id=None, account_name="ACME", title="t",
                              need="n", budget=None, start_date=None, owner="alice", now=NOW)
    opportunity.assign_team({TeamRole.SR: "sam", TeamRole.FR: "fay"}, by="alice", now=NOW)
    return opportunity


def risk(category: RiskCategory) -> Risk:
    return Risk(uuid.uuid4(), "r", category, Level.LOW, Level.LOW, None, "x", RiskStatus.OPEN)


@pytest.mark.parametrize(("user", "parts", "allowed"), [
    ("alice", {"value", "milestones"}, True),
    ("sam", {"value", "line_items", "payment_terms"}, True),
    ("sam", {"milestones"}, False),
    ("fay", {"milestones"}, True),
    ("fay", {"milestones", "value"}, False),
    ("mallory", {"value"}, False),
])
def test_terms_are_edited_by_the_part_of_the_team_that_owns_them(opportunity: Opportunity, user: str,
                                                                 parts: set[str], allowed: bool) -> None:
    assert handlers.terms_permission(parts)(who(user, "sr", "fr"), opportunity) is allowed


@pytest.mark.parametrize(("user", "category", "allowed"), [
    ("alice", RiskCategory.COMMERCIAL, True),
    ("fay", RiskCategory.DELIVERY, True),
    ("fay", RiskCategory.COMMERCIAL, False),
    ("sam", RiskCategory.TECHNICAL, True),
    ("sam", RiskCategory.DELIVERY, False),
])
def test_risks_are_kept_by_category(opportunity: Opportunity, user: str, category: RiskCategory,
                                    allowed: bool) -> None:
    assert handlers.risk_permission(risk(category))(who(user, "sr", "fr"), opportunity) is allowed


def test_moving_a_risk_out_of_ones_own_category_is_refused(opportunity: Opportunity) -> None:
    delivery = risk(RiskCategory.DELIVERY)
    opportunity.add_risk(delivery)
    moved = Risk(delivery.id, "r", RiskCategory.LEGAL, Level.LOW, Level.LOW, None, "x", RiskStatus.OPEN)
    assert handlers.risk_permission(moved)(who("fay", "fr"), opportunity) is False


def test_admins_step_in_for_the_owner_but_a_second_role_makes_no_owner(opportunity: Opportunity) -> None:
    assert handlers.is_owner(who("root", "admin"), opportunity)
    assert not handlers.is_owner(who("sam", "sr", "ar"), opportunity)
