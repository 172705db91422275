"""Insight: what the team knows, kept per dimension."""

from __future__ import annotations

from ltc.opportunities.domain.insight import Insight
from tests.unit.opportunities.samples import INSIGHT, an_opportunity


def test_insight_keeps_the_dimensions_not_given() -> None:
    opportunity = an_opportunity()
    opportunity.set_insight(Insight(market=INSIGHT.market))
    opportunity.set_insight(Insight(product=INSIGHT.product))
    assert opportunity.insight.missing() == ["customer", "competition"]
