"""The grading rules of a lead, on the plain domain objects."""

import uuid
from datetime import UTC, date, datetime
from decimal import Decimal

import pytest
from ltc.leads.domain.model import Account, Channel, Criterion, Evidence, Grade, Lead, Tier
from ltc.shared.errors import DomainError, RuleViolation
from ltc.shared.messages.leads_events import LeadConverted, LeadCreated, LeadGraded
from ltc.shared.money import Money

NOW = datetime(2026, 11, 1, 9, 0, tzinfo=UTC)


def _lead(channel: Channel = Channel.TECHNICAL_EXCHANGE) -> tuple[Account, Lead]:
    account = Account(id=uuid.uuid4(), name="ACME Telecom", industry="telecom", owner="ar-1", created_at=NOW)
    return account, Lead(id=uuid.uuid4(), account=account, title="Core upgrade", need="capacity", channel=channel,
                         tier=Tier.KEY, owner="ar-1", now=NOW)


def _all_criteria() -> list[Evidence]:
    return [Evidence(c, "workshop minutes", "CTO", date(2026, 10, 30)) for c in Criterion]


def test_a_new_lead_is_initial_and_announced():
    _, lead = _lead()
    assert lead.grade is Grade.INITIAL
    assert [type(e) for e in lead.events] == [LeadCreated]


@pytest.mark.parametrize(("channel", "self_generated"), [
    (Channel.TENDER, False), (Channel.INBOUND_REQUEST, False),
    (Channel.TECHNICAL_EXCHANGE, True), (Channel.EXECUTIVE_VISIT, True),
])
def test_self_generated_follows_the_channel(channel, self_generated):
    _, lead = _lead(channel)
    assert lead.self_generated is self_generated


def test_credible_needs_evidence_for_every_lead_criterion_and_names_the_missing_ones():
    _, lead = _lead()
    partial = [Evidence(Criterion.PURCHASE_INTENT, "call", "CFO", date(2026, 10, 1))]
    with pytest.raises(RuleViolation) as failure:
        lead.grade_credible(partial, by="ar-1", now=NOW)
    assert failure.value.rule == "lead-criteria-unmet"
    assert {e["criterion"] for e in failure.value.errors} == {"customer_identified", "matching_solution"}
    assert lead.grade is Grade.INITIAL


def test_grades_move_one_step_at_a_time():
    _, lead = _lead()
    with pytest.raises(DomainError) as failure:
        lead.grade_opportunity(budget=Money(Decimal("100"), "EUR"), start_date=date(2027, 1, 1), by="ar-1", now=NOW)
    assert failure.value.rule == "grade-one-step"


def test_opportunity_grade_needs_budget_and_start_date():
    _, lead = _lead()
    lead.grade_credible(_all_criteria(), by="ar-1", now=NOW)
    with pytest.raises(RuleViolation) as failure:
        lead.grade_opportunity(budget=None, start_date=None, by="ar-1", now=NOW)
    assert failure.value.rule == "opportunity-criteria-unmet"
    assert {e["criterion"] for e in failure.value.errors} == {"explicit_budget", "explicit_start_time"}


def test_only_an_opportunity_grade_lead_converts():
    account, lead = _lead()
    lead.grade_credible(_all_criteria(), by="ar-1", now=NOW)
    with pytest.raises(DomainError) as failure:
        lead.convert(account=account, by="ar-1", now=NOW)
    assert failure.value.rule == "lead-not-opportunity-grade"


def test_conversion_hands_over_budget_and_lineage_and_closes_the_lead():
    account, lead = _lead()
    lead.grade_credible(_all_criteria(), by="ar-1", now=NOW)
    lead.grade_opportunity(budget=Money(Decimal("250000.00"), "EUR"), start_date=date(2027, 3, 1), by="ar-1", now=NOW)
    lead.events.clear()
    lead.convert(account=account, by="ar-1", now=NOW)
    graded, converted = lead.events
    assert isinstance(graded, LeadGraded) and graded.to_grade == "converted"
    assert isinstance(converted, LeadConverted)
    assert converted.budget.amount == Decimal("250000.00") and converted.budget.currency == "EUR"
    assert converted.lineage.lead_id == lead.id and converted.account_name == "ACME Telecom"
    with pytest.raises(DomainError) as failure:
        lead.disqualify(reason="late", by="ar-1", now=NOW)
    assert failure.value.rule == "lead-closed"
    assert [h["to"] for h in lead.grade_history] == ["credible", "opportunity", "converted"]


def test_outcome_follows_the_later_stages():
    account, lead = _lead()
    assert lead.outcome == "open"
    lead.record_won(opportunity_id=uuid.uuid4(), won_at=NOW)
    assert lead.outcome == "won"
    lead.record_cash_collected(contract_id=uuid.uuid4(), fully_paid_on=date(2027, 6, 1))
    assert lead.outcome == "cash_collected"
