"""The lead score on plain objects, and its prose built from its constants."""

import uuid
from datetime import date
from decimal import Decimal

from ltc.leads.domain import scoring
from ltc.leads.domain.model import Channel, Criterion, Evidence, PainStatus
from ltc.leads.domain.scoring import score_lead
from ltc.shared.money import Money
from tests.unit.leads.samples import NOW, TODAY, sample_lead


def test_score_of_a_fresh_passive_lead_is_zero_and_explained():
    score = score_lead(sample_lead(), contact_strengths={})
    assert score.total == 0
    assert [p.name for p in score.parts] == ["lead_criteria", "budget", "start_date", "pains", "relationship",
                                             "self_generated"]
    assert sum(p.max_points for p in score.parts) == 100
    assert "missing" in score.parts[0].explanation


def test_score_adds_up_its_parts():
    lead = sample_lead(channel=Channel.EXECUTIVE_VISIT)
    lead.grade_credible([Evidence(c, "meeting", "CTO", TODAY) for c in Criterion], by="ar-1", now=NOW)
    lead.grade_opportunity(budget=Money(Decimal("100.00"), "EUR"), start_date=date(2027, 1, 1), by="ar-1", now=NOW)
    pain = lead.add_pain(pain_id=uuid.uuid4(), description="outages", contact_id=None, by="ar-1", now=NOW)
    lead.advance_pain(uuid.UUID(pain["id"]), to=PainStatus.ACKNOWLEDGED, note=None, by="ar-1", now=NOW)
    score = score_lead(lead, contact_strengths={"Li": 50, "Wang": 80})
    points = {p.name: p.points for p in score.parts}
    assert points == {"lead_criteria": 30, "budget": 10, "start_date": 10, "pains": 10, "relationship": 16,
                      "self_generated": 10}
    assert score.total == 86
    assert "Wang at 80/100" in next(p.explanation for p in score.parts if p.name == "relationship")


def test_the_published_score_rule_is_the_one_score_lead_applies():
    assert scoring.score_rule() == (
        "lead criteria cross-checked 10 each (30), budget known 10, start date known 10, the furthest pain point "
        "(discovered 5, acknowledged 10, value agreed 20), the strongest relationship among the contacts involved "
        "(strength/100 × 20), self-generated channel 10")
    assert scoring.max_score() == sum(p.max_points for p in score_lead(sample_lead(), contact_strengths={}).parts)


def test_the_score_rule_states_each_weight_from_its_constant():
    rule = scoring.score_rule()
    assert f"cross-checked {scoring.CRITERION_POINTS} each ({scoring.CRITERION_POINTS * len(Criterion)})" in rule
    assert f"budget known {scoring.BUDGET_POINTS}" in rule and f"start date known {scoring.START_DATE_POINTS}" in rule
    for status, points in scoring.PAIN_POINTS.items():
        assert f"{status.value.replace('_', ' ')} {points}" in rule
    assert f"strength/100 × {scoring.RELATIONSHIP_POINTS}" in rule
    assert f"self-generated channel {scoring.SELF_GENERATED_POINTS}" in rule


def test_a_changed_weight_changes_the_score_and_its_rule_alike(monkeypatch):
    monkeypatch.setattr(scoring, "BUDGET_POINTS", 15)
    monkeypatch.setattr(scoring, "PAIN_POINTS", {**scoring.PAIN_POINTS, PainStatus.VALUE_AGREED: 25})
    assert "budget known 15" in scoring.score_rule() and "value agreed 25" in scoring.score_rule()
    assert scoring.max_score() == 110
    lead = sample_lead()
    lead.grade_credible([Evidence(c, "meeting", "CTO", TODAY) for c in Criterion], by="ar-1", now=NOW)
    lead.grade_opportunity(budget=Money(Decimal("1.00"), "EUR"), start_date=TODAY, by="ar-1", now=NOW)
    budget = next(p for p in score_lead(lead, contact_strengths={}).parts if p.name == "budget")
    assert (budget.points, budget.max_points) == (15, 15)
