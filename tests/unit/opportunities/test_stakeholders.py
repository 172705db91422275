"""The power map: coverage of the decision chain, reporting lines."""

from __future__ import annotations

import uuid

import pytest

from ltc.opportunities.domain.stakeholders import Attitude, DecisionRole, Stakeholder
from ltc.shared.errors import RuleViolation
from tests.unit.opportunities.samples import an_opportunity, person


def test_coverage_counts_the_decision_chain_and_influential_supporters() -> None:
    opportunity = an_opportunity()
    assert not opportunity.coverage.decision_chain_covered
    opportunity.add_stakeholder(person(DecisionRole.DECISION_MAKER))
    opportunity.add_stakeholder(person(DecisionRole.COACH, influence=3))
    opportunity.add_stakeholder(person(DecisionRole.INFLUENCER, influence=4, attitude=Attitude.OPPONENT))
    assert not opportunity.coverage.decision_chain_covered
    opportunity.add_stakeholder(person(DecisionRole.ECONOMIC_BUYER, attitude=Attitude.NEUTRAL))

    coverage = opportunity.coverage
    assert coverage.decision_chain_covered
    assert (coverage.influential, coverage.influential_supporters, coverage.influential_opponents) == (3, 1, 1)
    assert coverage.roles_covered == (DecisionRole.DECISION_MAKER, DecisionRole.ECONOMIC_BUYER,
                                      DecisionRole.INFLUENCER, DecisionRole.COACH)


def test_reporting_lines_must_stay_inside_the_map_and_never_circle() -> None:
    opportunity = an_opportunity()
    boss = person(DecisionRole.DECISION_MAKER)
    opportunity.add_stakeholder(boss)
    deputy = person(DecisionRole.ECONOMIC_BUYER, reports_to=boss.id)
    opportunity.add_stakeholder(deputy)

    with pytest.raises(RuleViolation) as exc:
        opportunity.replace_stakeholder(Stakeholder(**{**boss.__dict__, "reports_to": deputy.id}))
    assert exc.value.rule == "reports-to-cycle"
    with pytest.raises(RuleViolation) as exc:
        opportunity.add_stakeholder(person(DecisionRole.USER, reports_to=uuid.uuid4()))
    assert exc.value.rule == "reports-to-unknown"

    opportunity.remove_stakeholder(boss.id)
    assert [s.reports_to for s in opportunity.stakeholders] == [None]
