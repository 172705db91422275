"""The grading rules of a lead, on the plain domain objects."""

import uuid
from datetime import UTC, date, datetime
from decimal import Decimal

import pytest

from ltc.leads.domain.accounts import Account, Tier
from ltc.leads.domain.model import Channel, Criterion, Evidence, Grade, Lead, PainStatus
from ltc.shared.errors import DomainError, NotFound, RuleViolation
from ltc.shared.messages.leads_events import LeadConverted, LeadCreated, LeadDisqualified, LeadGraded
from ltc.shared.money import Money

NOW = datetime(2026, 11, 1, 9, 0, tzinfo=UTC)


def _lead(channel: Channel = Channel.TECHNICAL_EXCHANGE) -> tuple[Account, Lead]:
    account = Account(id=uuid.uuid4(), name="ACME Telecom", industry="telecom", owner="ar-1", created_at=NOW)
    return account, Lead(id=uuid.uuid4(), account_id=account.id, title="Core upgrade", need="capacity", channel=channel,
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


def test_evidence_only_from_ourselves_or_the_informant_is_not_cross_checked():
    account = Account(id=uuid.uuid4(), name="ACME", industry=None, owner="ar-1", created_at=NOW)
    lead = Lead(id=uuid.uuid4(), account_id=account.id, title="Core", need="capacity", channel=Channel.ROUTINE_VISIT,
                tier=Tier.NORMAL, owner="ar-1", now=NOW, reported_by="Wang (procurement)")
    evidence = [
        Evidence(Criterion.CUSTOMER_IDENTIFIED, "visit", "  wang (PROCUREMENT) ", date(2026, 10, 1)),  # the informant
        Evidence(Criterion.PURCHASE_INTENT, "own notes", "ar-1", date(2026, 10, 1)),  # the owner
        Evidence(Criterion.MATCHING_SOLUTION, "solution review", "sr-9", date(2026, 10, 1)),  # the grader
    ]
    with pytest.raises(RuleViolation) as failure:
        lead.grade_credible(evidence, by="sr-9", now=NOW)
    assert failure.value.rule == "lead-criteria-unmet"
    assert {e["criterion"] for e in failure.value.errors} == {c.value for c in Criterion}
    assert all("cross-checked" in e["message"] for e in failure.value.errors)
    independent = [Evidence(c, "CFO meeting", "CFO Zhao", date(2026, 10, 2)) for c in Criterion]
    lead.grade_credible(evidence + independent, by="ar-1", now=NOW)
    assert lead.grade is Grade.CREDIBLE
    assert lead.criteria_met() == set(Criterion)


def test_evidence_dated_in_the_future_does_not_count():
    _, lead = _lead()
    future = [Evidence(c, "minutes", "CTO", date(2026, 11, 2)) for c in Criterion]
    with pytest.raises(RuleViolation) as failure:
        lead.grade_credible(future, by="ar-1", now=NOW)
    assert all("future" in e["message"] for e in failure.value.errors)


def test_grade_history_keeps_who_when_and_the_evidence():
    _, lead = _lead()
    lead.grade_credible(_all_criteria(), by="ar-1", now=NOW)
    entry = lead.grade_history[-1]
    assert (entry["from"], entry["to"], entry["by"], entry["at"]) == ("initial", "credible", "ar-1", NOW.isoformat())
    assert {e["criterion"] for e in entry["evidence"]} == {c.value for c in Criterion}


def test_a_credible_lead_cannot_be_graded_credible_again():
    _, lead = _lead()
    lead.grade_credible(_all_criteria(), by="ar-1", now=NOW)
    with pytest.raises(DomainError) as failure:
        lead.grade_credible(_all_criteria(), by="ar-1", now=NOW)
    assert failure.value.rule == "grade-one-step"


@pytest.mark.parametrize("amount", ["0", "-5.00"])
def test_opportunity_budget_must_be_positive(amount):
    _, lead = _lead()
    lead.grade_credible(_all_criteria(), by="ar-1", now=NOW)
    with pytest.raises(RuleViolation) as failure:
        lead.grade_opportunity(budget=Money(Decimal(amount), "EUR"), start_date=date(2027, 1, 1), by="ar-1", now=NOW)
    assert [e["criterion"] for e in failure.value.errors] == ["explicit_budget"]


def test_an_unassigned_lead_cannot_convert():
    account = Account(id=uuid.uuid4(), name="ACME", industry=None, owner="ar-1", created_at=NOW)
    lead = Lead(id=uuid.uuid4(), account_id=account.id, title="Core", need="capacity", channel=Channel.TENDER,
                tier=Tier.NORMAL, owner=None, now=NOW)
    assert lead.events[0].owner == ""
    lead.grade_credible(_all_criteria(), by="admin-1", now=NOW)
    lead.grade_opportunity(budget=Money(Decimal("10.00"), "EUR"), start_date=date(2027, 1, 1), by="admin-1", now=NOW)
    with pytest.raises(RuleViolation) as failure:
        lead.convert(account=account, by="admin-1", now=NOW)
    assert failure.value.rule == "lead-owner-required"


def test_conversion_carries_pains_and_account_snapshot():
    account, lead = _lead()
    pain = lead.add_pain(pain_id=uuid.uuid4(), description="peak congestion", contact_id=None, by="ar-1", now=NOW)
    lead.grade_credible(_all_criteria(), by="ar-1", now=NOW)
    lead.grade_opportunity(budget=Money(Decimal("5.00"), "EUR"), start_date=date(2027, 1, 1), by="ar-1", now=NOW)
    lead.convert(account=account, by="ar-1", now=NOW, score=70)
    converted = lead.events[-1]
    assert isinstance(converted, LeadConverted)
    assert [str(p.pain_id) for p in converted.pains] == [pain["id"]] and converted.pains[0].status == "discovered"
    assert converted.account.name == "ACME Telecom" and converted.account.tier == "normal"
    assert converted.score == 70 and converted.owner == "ar-1"


def test_disqualify_needs_a_reason_and_is_terminal():
    _, lead = _lead()
    with pytest.raises(RuleViolation) as failure:
        lead.disqualify(reason="  ", by="ar-1", now=NOW)
    assert failure.value.rule == "disqualify-reason-required"
    lead.disqualify(reason="no budget this decade", by="ar-1", now=NOW)
    assert isinstance(lead.events[-1], LeadDisqualified) and lead.outcome == "disqualified"
    with pytest.raises(DomainError) as failure:
        lead.grade_credible(_all_criteria(), by="ar-1", now=NOW)
    assert failure.value.rule == "lead-closed"


def test_pain_points_move_one_step_at_a_time():
    _, lead = _lead()
    pain = lead.add_pain(pain_id=uuid.uuid4(), description="outages", contact_id=None, by="ar-1", now=NOW)
    pain_id = uuid.UUID(pain["id"])
    with pytest.raises(DomainError) as failure:
        lead.advance_pain(pain_id, to=PainStatus.VALUE_AGREED, note=None, by="ar-1", now=NOW)
    assert failure.value.rule == "pain-one-step"
    lead.advance_pain(pain_id, to=PainStatus.ACKNOWLEDGED, note="CTO agreed", by="ar-1", now=NOW)
    moved = lead.advance_pain(pain_id, to=PainStatus.VALUE_AGREED, note=None, by="ar-1", now=NOW)
    assert moved["status"] == "value_agreed"
    assert [h["to"] for h in moved["history"]] == ["discovered", "acknowledged", "value_agreed"]
    with pytest.raises(DomainError) as backwards:
        lead.advance_pain(pain_id, to=PainStatus.ACKNOWLEDGED, note=None, by="ar-1", now=NOW)
    assert backwards.value.rule == "pain-one-step"
    with pytest.raises(NotFound):
        lead.advance_pain(uuid.uuid4(), to=PainStatus.ACKNOWLEDGED, note=None, by="ar-1", now=NOW)


def test_editing_a_lead_reports_what_changed_and_refuses_rule_fields():
    _, lead = _lead()
    changed = lead.update_lead({"title": "Core upgrade", "tier": Tier.STRATEGIC}, now=NOW)
    assert changed == {"tier": {"from": Tier.KEY, "to": Tier.STRATEGIC}}
    with pytest.raises(RuleViolation) as failure:
        lead.update_lead({"grade": Grade.OPPORTUNITY}, now=NOW)
    assert failure.value.rule == "lead-field-not-editable"


def test_lost_and_won_outcomes():
    _, lead = _lead()
    lead.record_lost(opportunity_id=uuid.uuid4(), lost_at=NOW, reason="price")
    assert lead.outcome == "lost"
    assert lead.reached(Grade.INITIAL) and not lead.reached(Grade.CREDIBLE)


def test_budget_and_cash_collected_are_money_once_known():
    account, lead = _lead()
    assert lead.budget is None and lead.cash_collected is None
    lead.grade_credible(_all_criteria(), by="ar-1", now=NOW)
    lead.grade_opportunity(budget=Money(Decimal("7.50"), "EUR"), start_date=date(2027, 1, 1), by="ar-1", now=NOW)
    assert lead.budget == Money(Decimal("7.50"), "EUR")
    lead.record_cash_collected(contract_id=uuid.uuid4(), fully_paid_on=date(2027, 6, 1))
    assert lead.cash_collected is None
    lead.record_cash_collected(contract_id=uuid.uuid4(), fully_paid_on=date(2027, 6, 1),
                               collected=Money(Decimal("7.50"), "EUR"))
    assert lead.cash_collected == Money(Decimal("7.50"), "EUR")


def test_the_contacts_involved_are_named_on_the_lead_its_evidence_and_pains_or_met():
    _, lead = _lead()
    named, witness, hurting, met = (uuid.uuid4() for _ in range(4))
    lead.update_lead({"contact_ids": [named]}, now=NOW)
    lead.grade_credible([Evidence(c, "minutes", "CTO", date(2026, 10, 30), witness) for c in Criterion], by="ar-1",
                        now=NOW)
    lead.add_pain(pain_id=uuid.uuid4(), description="outages", contact_id=hurting, by="ar-1", now=NOW)
    assert lead.contacts_involved({str(met)}) == {str(named), str(witness), str(hurting), str(met)}
