"""The trust formula, the lead score, duplicate detection and the closed-loop report, on plain objects."""

import uuid
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import pytest

from ltc.leads.domain.accounts import Account, Contact, Tier
from ltc.leads.domain.activities import Activity, ActivityKind, ActivityStatus, Contacted, relationship_strength
from ltc.leads.domain.duplicates import duplicate_candidates
from ltc.leads.domain.model import Channel, Criterion, Evidence, Lead, PainStatus
from ltc.leads.domain.reports import lead_to_cash
from ltc.leads.domain.scoring import score_lead
from ltc.shared.errors import DomainError, RuleViolation
from ltc.shared.money import Money

NOW = datetime(2026, 11, 1, 9, 0, tzinfo=UTC)
TODAY = NOW.date()
ACCOUNT = Account(id=uuid.uuid4(), name="ACME", industry="telecom", owner="ar-1", created_at=NOW)


def _lead(title: str = "Core network upgrade", need: str = "capacity for 5G", channel: Channel = Channel.TENDER,
          tier: Tier = Tier.KEY, created: datetime = NOW) -> Lead:
    return Lead(id=uuid.uuid4(), account_id=ACCOUNT.id, title=title, need=need, channel=channel, tier=tier, owner="ar-1",
                now=created)


def test_no_activity_means_no_relationship():
    r = relationship_strength(competence_rating=5, reliability_rating=5, contacts=[], today=TODAY)
    assert r.strength == 0 and r.connection == 0 and r.time == 0


def test_the_trust_formula_with_every_input_at_its_maximum_is_100():
    # 6 activities in 90 days, 4 kinds, a summit, known for a year: every factor is 1.
    kinds = [ActivityKind.SUMMIT, ActivityKind.ROUTINE_VISIT, ActivityKind.TOPIC_EXCHANGE, ActivityKind.SITE_VISIT]
    contacts = [Contacted(kinds[i % 4], TODAY - timedelta(days=10 * i)) for i in range(6)]
    contacts.append(Contacted(ActivityKind.ROUTINE_VISIT, TODAY - timedelta(days=400)))
    r = relationship_strength(competence_rating=5, reliability_rating=5, contacts=contacts, today=TODAY)
    assert (r.frequency, r.breadth, r.depth, r.time) == (1, 1, 1, 1)
    assert r.strength == 100


def test_the_trust_formula_computed_by_hand():
    # One routine visit 15 days ago, ratings 4 and 3:
    # frequency 1/6, breadth 1/4, depth 0.2 → connection 0.2056; time (0 months + 1)/12;
    # 100 × (0.8 × 0.6 × 0.20556 × 0.08333)^(1/4) = 30.11 → 30.
    contacts = [Contacted(ActivityKind.ROUTINE_VISIT, TODAY - timedelta(days=15))]
    r = relationship_strength(competence_rating=4, reliability_rating=3, contacts=contacts, today=TODAY)
    assert r.connection == Decimal("0.206") and r.time == Decimal("0.083")
    assert r.strength == 30


def test_more_and_deeper_contact_builds_a_stronger_relationship():
    shallow = [Contacted(ActivityKind.ROUTINE_VISIT, TODAY - timedelta(days=5))]
    deeper = shallow + [Contacted(ActivityKind.EXECUTIVE_VISIT, TODAY - timedelta(days=40))]
    older = [Contacted(ActivityKind.ROUTINE_VISIT, TODAY - timedelta(days=5)),
             Contacted(ActivityKind.ROUTINE_VISIT, TODAY - timedelta(days=200))]

    def strength(contacts: list[Contacted]) -> int:
        return relationship_strength(competence_rating=3, reliability_rating=3, contacts=contacts,
                                     today=TODAY).strength

    assert strength(deeper) > strength(shallow)
    assert strength(older) > strength(shallow)  # time: 日久见人心


def test_future_activities_do_not_count_yet():
    r = relationship_strength(competence_rating=3, reliability_rating=3,
                              contacts=[Contacted(ActivityKind.SUMMIT, TODAY + timedelta(days=1))], today=TODAY)
    assert r.strength == 0 and r.activities_counted == 0


def test_ratings_are_1_to_5():
    with pytest.raises(RuleViolation) as failure:
        Contact(id=uuid.uuid4(), account_id=ACCOUNT.id, name="Li", title=None, decision_role=None, kpis=[], pains=[],
                communication_style=None, notes=None, email=None, phone=None, competence_rating=6,
                created_by="ar-1", now=NOW)
    assert failure.value.errors[0]["field"] == "competence_rating"


def test_score_of_a_fresh_passive_lead_is_zero_and_explained():
    score = score_lead(_lead(), contact_strengths={})
    assert score.total == 0
    assert [p.name for p in score.parts] == ["lead_criteria", "budget", "start_date", "pains", "relationship",
                                             "self_generated"]
    assert sum(p.max_points for p in score.parts) == 100
    assert "missing" in score.parts[0].explanation


def test_score_adds_up_its_parts():
    lead = _lead(channel=Channel.EXECUTIVE_VISIT)
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


def test_duplicates_are_open_leads_with_a_similar_title_or_need():
    same = _lead("Core network upgrade", "capacity for 5G")
    other = _lead("Billing migration", "replace the legacy billing")
    closed = _lead("Core network upgrade", "capacity for 5G")
    closed.disqualify(reason="dup", by="ar-1", now=NOW)
    found = duplicate_candidates(title="core-network  Upgrade", need="something else entirely",
                                 open_leads=[same, other, closed])
    assert [c.lead_id for c in found] == [str(same.id)]
    by_need = duplicate_candidates(title="Phase 2", need="Capacity for 5G!", open_leads=[same, other])
    assert [c.lead_id for c in by_need] == [str(same.id)]
    assert duplicate_candidates(title="Data centre", need="cooling", open_leads=[same, other]) == []


def test_activity_outcome_rules():
    activity = Activity(id=uuid.uuid4(), kind=ActivityKind.EXECUTIVE_VISIT, account_id=ACCOUNT.id, lead_id=None,
                        contact_ids=[], subject="CEO visit", planned_on=TODAY, plan={"objectives": ["trust"]},
                        created_by="ar-1", now=NOW)
    with pytest.raises(RuleViolation) as failure:
        activity.record_outcome({}, occurred_on=TODAY + timedelta(days=1), next_step_on=TODAY, now=NOW)
    assert {e["field"] for e in failure.value.errors} == {"occurred_on", "next_step_on"}
    activity.record_outcome({"spin": {"situation": "growing"}}, occurred_on=TODAY, next_step_on=None, now=NOW)
    assert activity.status is ActivityStatus.DONE and activity.occurred_on == TODAY
    with pytest.raises(DomainError) as closed:
        activity.replan(subject="x", planned_on=None, plan=None, contact_ids=None, now=NOW)
    assert closed.value.rule == "activity-closed"


def test_report_groups_by_channel_and_tier_with_rates_and_median_days():
    a = _lead("a", "a", Channel.TENDER, Tier.KEY, created=NOW - timedelta(days=100))
    b = _lead("b", "b", Channel.TENDER, Tier.KEY, created=NOW - timedelta(days=300))
    c = _lead("c", "c", Channel.EXECUTIVE_VISIT, Tier.STRATEGIC)
    for lead in (a, b):
        lead.grade_credible([Evidence(k, "m", "CTO", TODAY) for k in Criterion], by="ar-1", now=NOW)
        lead.grade_opportunity(budget=Money(Decimal("1.00"), "EUR"), start_date=TODAY, by="ar-1", now=NOW)
        lead.convert(account=ACCOUNT, by="ar-1", now=NOW)
        lead.record_won(opportunity_id=uuid.uuid4(), won_at=NOW)
        lead.record_cash_collected(contract_id=uuid.uuid4(), fully_paid_on=TODAY,
                                   collected=Money(Decimal("100.50"), "EUR"))
    rows = {(r.channel, r.tier): r for r in lead_to_cash([a, b, c])}
    tender = rows[("tender", "key")]
    assert tender.leads == 2 and tender.reached == {"credible": 2, "opportunity": 2, "converted": 2}
    assert tender.conversion_rate["converted"] == Decimal("1.000")
    assert tender.won == 2 and tender.cash_collected == 2 and tender.median_lead_to_cash_days == Decimal("200")
    assert tender.cash_amounts == [Money(Decimal("201.00"), "EUR")]
    visit = rows[("executive_visit", "strategic")]
    assert visit.leads == 1 and visit.reached["credible"] == 0 and visit.median_lead_to_cash_days is None
