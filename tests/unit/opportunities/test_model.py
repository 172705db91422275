"""The opportunity's rules: creation, stages, the ATB/ATC prerequisites, the decision tiers, the win."""

from __future__ import annotations

import dataclasses
import uuid
from datetime import UTC, date, datetime
from decimal import Decimal

import pytest

from ltc.opportunities.domain.gates import (
    DEFAULT_THRESHOLDS,
    DecisionPolicy,
    Gate,
    Outcome,
    RequestStatus,
    Tier,
    TierThresholds,
)
from ltc.opportunities.domain.model import DEFAULT_PROBABILITIES, Opportunity, Stage, StageProbabilities
from ltc.opportunities.domain.records import (
    Attitude,
    CompetitionInsight,
    CustomerInsight,
    DecisionRole,
    Insight,
    Level,
    LifeCyclePhase,
    MarketInsight,
    MarketSituation,
    NeedMet,
    Priority,
    ProductInsight,
    Relationship,
    Requirement,
    Risk,
    RiskCategory,
    RiskStatus,
    Stakeholder,
    TeamRole,
    ValueProposition,
)
from ltc.opportunities.domain.terms import (
    AcceptanceType,
    CommercialTerms,
    LineItem,
    Milestone,
    PaymentTerm,
    PaymentTrigger,
)
from ltc.shared.errors import DomainError, Forbidden, RuleViolation, status_of
from ltc.shared.messages.opportunities_events import (
    OpportunityCreated,
    OpportunityDecisionMade,
    OpportunityLost,
    OpportunityStageChanged,
    OpportunityWon,
    RequirementRaised,
)
from ltc.shared.money import Money

NOW = datetime(2026, 11, 27, 12, 0, tzinfo=UTC)
POLICY = DecisionPolicy(DEFAULT_THRESHOLDS)
L1, L2, L3 = (frozenset({f"approver_l{n}"}) for n in (1, 2, 3))


def eur(amount: str) -> Money:
    return Money(Decimal(amount), "EUR")


def an_opportunity(*, lead_id: uuid.UUID | None = None, budget: Money | None = eur("500000")) -> Opportunity:
    return Opportunity(id=uuid.uuid4(), lead_id=lead_id, account_id=uuid.uuid4(), account_name="ACME Rail",
                       title="Signalling upgrade", need="unreliable interlocking", budget=budget,
                       start_date=date(2027, 1, 1), owner="alice", now=NOW)


def signing(percent: str, name: str = "advance") -> PaymentTerm:
    return PaymentTerm(name, Decimal(percent), PaymentTrigger.SIGNING, None, 30)


def on_milestone(percent: str, milestone: str | None, name: str = "progress", due_days: int = 30) -> PaymentTerm:
    return PaymentTerm(name, Decimal(percent), PaymentTrigger.MILESTONE, milestone, due_days)


def milestone(name: str, acceptance: AcceptanceType = AcceptanceType.PRELIMINARY) -> Milestone:
    return Milestone(name, date(2027, 6, 1), acceptance)


def item(quantity: str = "1", price: str = "1000000.00", currency: str = "EUR") -> LineItem:
    return LineItem("interlocking", Decimal(quantity), Money(Decimal(price), currency))


def terms(*payment_terms: PaymentTerm, milestones: tuple[Milestone, ...] = (milestone("handover"),),
          value: Money | None = eur("1000000.00"), line_items: tuple[LineItem, ...] = (item(),)) -> CommercialTerms:
    return CommercialTerms(value=value, line_items=line_items, payment_terms=payment_terms, milestones=milestones)


GOOD_TERMS = terms(
    signing("30"), on_milestone("60", "installation", "on installation"), on_milestone("10", "handover", "final"),
    milestones=(milestone("installation"), milestone("handover", AcceptanceType.FINAL)),
)
INSIGHT = Insight(
    market=MarketInsight(MarketSituation.EXISTING, "installed base"),
    customer=CustomerInsight("rail", "north", "modernise", "outages"),
    product=ProductInsight(LifeCyclePhase.MATURITY, "v4"),
    competition=CompetitionInsight("consolidating", "bus", "keep the account", "service", "uptime", "price"),
)
PROPOSITION = ValueProposition("uptime", "no outages", NeedMet.FULLY, "all lines", "only local service team")


def person(role: DecisionRole, *, influence: int = 5, attitude: Attitude = Attitude.SUPPORTER,
           reports_to: uuid.UUID | None = None) -> Stakeholder:
    return Stakeholder(uuid.uuid4(), None, "Ms Li", "CTO", role, influence, attitude, Relationship.GOOD, reports_to)


def a_risk(probability: Level = Level.HIGH, impact: Level = Level.HIGH, *, mitigation: str | None = None,
           status: RiskStatus = RiskStatus.OPEN) -> Risk:
    return Risk(uuid.uuid4(), "late civil works", RiskCategory.DELIVERY, probability, impact, mitigation, "bob", status)


def ready_for_atb(opportunity: Opportunity | None = None) -> Opportunity:
    opportunity = opportunity or an_opportunity()
    opportunity.assign_team({TeamRole.SR: "sam", TeamRole.FR: "fay"}, by="alice", now=NOW)
    opportunity.set_insight(INSIGHT)
    opportunity.set_value_proposition(PROPOSITION)
    opportunity.add_stakeholder(person(DecisionRole.DECISION_MAKER))
    opportunity.add_stakeholder(person(DecisionRole.ECONOMIC_BUYER))
    return opportunity


def decide(opportunity: Opportunity, gate: Gate, outcome: Outcome = Outcome.APPROVED,
           roles: frozenset[str] = L3, decider: str = "victor") -> None:
    opportunity.decide(gate, outcome, decision_id=uuid.uuid4(), decider=decider, roles=roles, conditions=None,
                       comment=None, now=NOW)


def request(opportunity: Opportunity, gate: Gate, policy: DecisionPolicy = POLICY):
    return opportunity.request_gate(gate, policy=policy, request_id=uuid.uuid4(), by="alice", now=NOW)


def advance(opportunity: Opportunity, to: Stage) -> None:
    opportunity.advance(to, probabilities=DEFAULT_PROBABILITIES, by="alice", now=NOW)


def in_bidding() -> Opportunity:
    opportunity = ready_for_atb()
    request(opportunity, Gate.ATB)
    decide(opportunity, Gate.ATB)
    advance(opportunity, Stage.STRATEGIZING)
    advance(opportunity, Stage.BIDDING)
    return opportunity


def atc_approved() -> Opportunity:
    opportunity = in_bidding()
    opportunity.update_terms(value=GOOD_TERMS.value, line_items=GOOD_TERMS.line_items,
                             payment_terms=GOOD_TERMS.payment_terms, milestones=GOOD_TERMS.milestones)
    request(opportunity, Gate.ATC)
    decide(opportunity, Gate.ATC)
    return opportunity


def fields(exc: pytest.ExceptionInfo[RuleViolation]) -> list[str]:
    return [error["field"] for error in exc.value.errors]


# -- creation ------------------------------------------------------------------------------------

def test_a_new_opportunity_is_validating_and_announced_with_its_lineage() -> None:
    lead_id = uuid.uuid4()
    opportunity = an_opportunity(lead_id=lead_id)

    assert opportunity.stage is Stage.VALIDATING and opportunity.probability == Decimal(10)
    assert opportunity.deal_value == eur("500000")
    [created] = opportunity.events
    assert isinstance(created, OpportunityCreated)
    assert created.lead_id == lead_id and created.owner == "alice"
    assert created.lineage.lead_id == lead_id and created.lineage.opportunity_id == opportunity.id


@pytest.mark.parametrize("amount", ["0", "-1"])
def test_a_budget_must_be_positive(amount: str) -> None:
    with pytest.raises(RuleViolation) as exc:
        an_opportunity(budget=eur(amount))
    assert exc.value.rule == "budget-not-positive"


def test_the_negotiated_value_replaces_the_budget_as_the_deal_value() -> None:
    opportunity = an_opportunity(budget=None)
    assert opportunity.deal_value is None
    opportunity.update_details(budget=eur("200"))
    assert opportunity.deal_value == eur("200")
    opportunity.update_terms(value=eur("150"))
    assert opportunity.deal_value == eur("150")


# -- iron triangle, power map, risks, requirements -------------------------------------------------

def test_the_iron_triangle_keeps_a_history_and_the_ar_owns() -> None:
    opportunity = an_opportunity()
    opportunity.assign_team({TeamRole.SR: "sam", TeamRole.FR: "fay"}, by="alice", now=NOW)
    opportunity.assign_team({TeamRole.SR: "sam", TeamRole.AR: "arthur"}, by="admin", now=NOW)

    assert (opportunity.owner, opportunity.sr, opportunity.fr) == ("arthur", "sam", "fay")
    assert [(c.role, c.previous, c.assigned, c.changed_by) for c in opportunity.team_history] == [
        (TeamRole.SR, None, "sam", "alice"), (TeamRole.FR, None, "fay", "alice"),
        (TeamRole.AR, "alice", "arthur", "admin")]
    assert opportunity.team_member("fay") and not opportunity.team_member("alice")


def test_insight_keeps_the_dimensions_not_given() -> None:
    opportunity = an_opportunity()
    opportunity.set_insight(Insight(market=INSIGHT.market))
    opportunity.set_insight(Insight(product=INSIGHT.product))
    assert opportunity.insight.missing() == ["customer", "competition"]


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


@pytest.mark.parametrize(("probability", "impact", "level"), [
    (Level.LOW, Level.LOW, Level.LOW), (Level.LOW, Level.MEDIUM, Level.LOW), (Level.LOW, Level.HIGH, Level.MEDIUM),
    (Level.MEDIUM, Level.MEDIUM, Level.MEDIUM), (Level.MEDIUM, Level.HIGH, Level.HIGH),
    (Level.HIGH, Level.MEDIUM, Level.HIGH), (Level.HIGH, Level.HIGH, Level.HIGH),
])
def test_risk_level_is_probability_times_impact(probability: Level, impact: Level, level: Level) -> None:
    assert a_risk(probability, impact).level is level


def test_a_requirement_we_cannot_meet_is_announced() -> None:
    opportunity = an_opportunity()
    opportunity.events.clear()
    requirement = Requirement(uuid.uuid4(), "GoA4", "driverless depot", Priority.HIGH, "sam", NOW)

    opportunity.raise_requirement(requirement)

    [raised] = opportunity.events
    assert isinstance(raised, RequirementRaised)
    assert (raised.requirement_id, raised.priority, raised.raised_by) == (requirement.id, "high", "sam")
    assert opportunity.requirements == (requirement,)


# -- ATB and ATC prerequisites -----------------------------------------------------------------------

def test_a_bare_opportunity_misses_every_atb_prerequisite() -> None:
    opportunity = an_opportunity(budget=None)
    high = a_risk()
    opportunity.add_risk(high)

    with pytest.raises(RuleViolation) as exc:
        request(opportunity, Gate.ATB)

    assert exc.value.rule == "gate-prerequisites-missing" and status_of(exc.value) == 422
    assert fields(exc) == ["team.sr", "team.fr", "insight.market", "insight.customer", "insight.product",
                           "insight.competition", "value_proposition", "power_map.decision_maker",
                           "power_map.economic_buyer", f"risks.{high.id}.mitigation", "budget"]
    assert opportunity.gate_requests == ()


@pytest.mark.parametrize(("undo", "field"), [
    (lambda o: setattr(o, "sr", None), "team.sr"),
    (lambda o: setattr(o, "fr", None), "team.fr"),
    (lambda o: setattr(o, "insight", Insight(**{**INSIGHT.__dict__, "customer": None})), "insight.customer"),
    (lambda o: setattr(o, "insight", Insight(**{**INSIGHT.__dict__, "competition": None})), "insight.competition"),
    (lambda o: setattr(o, "value_proposition", None), "value_proposition"),
    (lambda o: o.remove_stakeholder(o.stakeholders[0].id), "power_map.decision_maker"),
    (lambda o: o.remove_stakeholder(o.stakeholders[1].id), "power_map.economic_buyer"),
    (lambda o: o.update_details(budget=None), "budget"),
], ids=["sr", "fr", "customer-insight", "competition-insight", "value-proposition", "decision-maker",
        "economic-buyer", "deal-value"])
def test_each_atb_prerequisite_is_checked(undo, field: str) -> None:  # noqa: ANN001
    opportunity = ready_for_atb()
    undo(opportunity)
    with pytest.raises(RuleViolation) as exc:
        request(opportunity, Gate.ATB)
    assert fields(exc) == [field]


def test_a_high_risk_needs_a_mitigation_but_a_closed_one_does_not() -> None:
    opportunity = ready_for_atb()
    opportunity.add_risk(a_risk(status=RiskStatus.CLOSED))
    opportunity.add_risk(a_risk(Level.MEDIUM, Level.MEDIUM))
    assert opportunity.missing_for(Gate.ATB) == []
    live = a_risk()
    opportunity.add_risk(live)
    assert [m["field"] for m in opportunity.missing_for(Gate.ATB)] == [f"risks.{live.id}.mitigation"]
    opportunity.replace_risk(dataclasses.replace(live, mitigation="second crew"))
    assert opportunity.missing_for(Gate.ATB) == []


def test_atc_needs_an_approved_atb_and_sound_terms() -> None:
    opportunity = ready_for_atb()
    assert [m["field"] for m in opportunity.missing_for(Gate.ATC)] == [
        "gates.ATB", "terms.value", "terms.line_items", "terms.milestones", "terms.payment_terms"]
    opportunity = in_bidding()
    opportunity.update_terms(value=eur("1000000.00"))
    with pytest.raises(RuleViolation) as exc:
        request(opportunity, Gate.ATC)
    assert fields(exc) == ["terms.line_items", "terms.milestones", "terms.payment_terms"]


@pytest.mark.parametrize(("bad_terms", "expected_fields"), [
    (terms(signing("100"), value=None), ["terms.value"]),
    (terms(signing("100"), value=eur("0"), line_items=(item(price="0"),)), ["terms.value.amount"]),
    (terms(signing("100"), line_items=()), ["terms.line_items"]),
    (terms(signing("100"), line_items=(item("2", "400000.00"),)), ["terms.line_items"]),
    (terms(signing("100"), line_items=(item("0"),)), ["terms.line_items.0.quantity"]),
    (terms(signing("100"), line_items=(item("0.333", "3.00"),)), ["terms.line_items.0"]),
    (terms(signing("100"), line_items=(item(currency="USD"),)), ["terms.line_items.0.unit_price.currency"]),
    (terms(signing("100"), milestones=()), ["terms.milestones"]),
    (terms(), ["terms.payment_terms"]),
    (terms(signing("30"), signing("60")), ["terms.payment_terms"]),
    (terms(signing("50"), signing("50.01")), ["terms.payment_terms"]),
    (terms(signing("0"), signing("100")), ["terms.payment_terms.0.percent"]),
    (terms(signing("NaN"), signing("100")), ["terms.payment_terms.0.percent"]),
    (terms(on_milestone("100", "acceptance")), ["terms.payment_terms.0.milestone"]),
    (terms(on_milestone("100", None)), ["terms.payment_terms.0.milestone"]),
    (terms(PaymentTerm("advance", Decimal(100), PaymentTrigger.SIGNING, "handover", 0)),
     ["terms.payment_terms.0.milestone"]),
    (terms(on_milestone("100", "handover", due_days=-1)), ["terms.payment_terms.0.due_days"]),
    (terms(signing("100"), milestones=(milestone("handover"), milestone("handover"))),
     ["terms.milestones.0.name", "terms.milestones.1.name"]),
], ids=["no-value", "zero-value", "no-line-items", "line-items-off-value", "zero-quantity", "sub-cent-line",
        "line-item-currency", "no-milestones", "no-payment-terms", "sum-below-100", "sum-above-100", "zero-percent",
        "nan-percent", "unknown-milestone", "milestone-trigger-without-milestone", "signing-with-milestone",
        "negative-due-days", "duplicate-milestone-names"])
def test_unsound_terms_are_named_field_by_field(bad_terms: CommercialTerms, expected_fields: list[str]) -> None:
    assert [p["field"] for p in bad_terms.problems()] == expected_fields


def test_sound_terms_have_no_problems_even_with_fractional_percentages() -> None:
    assert GOOD_TERMS.problems() == []
    assert terms(signing("33.33", "a"), signing("33.33", "b"), signing("33.34", "c")).problems() == []
    assert terms(signing("100"), line_items=(item("3", "333333.33"), item("1", "0.01"))).problems() == []


# -- routing to the tiers ------------------------------------------------------------------------------

@pytest.mark.parametrize(("amount", "high_risk", "tier"), [
    ("0.01", False, Tier.L1), ("999999.99", False, Tier.L1), ("1000000.00", False, Tier.L2),
    ("9999999.99", False, Tier.L2), ("10000000.00", False, Tier.L3), ("999999.99", True, Tier.L2),
    ("1000000.00", True, Tier.L3), ("10000000.00", True, Tier.L3),
])
def test_the_routing_table(amount: str, high_risk: bool, tier: Tier) -> None:
    assert POLICY.route(eur(amount), high_risk=high_risk).tier is tier


def test_thresholds_are_per_currency_and_an_unknown_currency_goes_to_the_top() -> None:
    policy = DecisionPolicy({"JPY": TierThresholds(Decimal("100000000"), Decimal("1000000000"))})
    assert policy.route(Money(Decimal("99999999"), "JPY"), high_risk=False).tier is Tier.L1
    assert policy.route(eur("1.00"), high_risk=False).tier is Tier.L3
    assert policy.route(None, high_risk=False).tier is Tier.L3


@pytest.mark.parametrize("thresholds", [
    {"EUR": TierThresholds(Decimal("10"), Decimal("5"))},
    {"EUR": TierThresholds(Decimal("0"), Decimal("5"))},
    {"EUR": TierThresholds(Decimal("1.001"), Decimal("5"))},
    {"EURO": TierThresholds(Decimal("1"), Decimal("5"))},
], ids=["inverted", "zero", "finer-than-the-currency", "not-a-currency"])
def test_thresholds_that_make_no_sense_are_refused(thresholds: dict) -> None:
    with pytest.raises(RuleViolation) as exc:
        DecisionPolicy(thresholds)
    assert exc.value.rule == "decision-thresholds-invalid"
    assert fields(exc) == [f"thresholds.{next(iter(thresholds))}"]


def test_a_request_is_routed_by_the_deal_value_and_raised_for_a_high_risk() -> None:
    opportunity = ready_for_atb(an_opportunity(budget=eur("999999.99")))
    assert request(opportunity, Gate.ATB).tier is Tier.L1

    risky = ready_for_atb(an_opportunity(budget=eur("999999.99")))
    risky.add_risk(a_risk(mitigation="second crew"))
    routed = request(risky, Gate.ATB)
    assert (routed.tier, routed.high_risk) == (Tier.L2, True)
    assert risky.pending_gate_tier == "L2"


# -- decisions -----------------------------------------------------------------------------------------

def test_a_tier_decides_only_within_its_authority() -> None:
    opportunity = ready_for_atb(an_opportunity(budget=eur("2000000")))
    request(opportunity, Gate.ATB)

    for roles in (L1, frozenset({"admin"}), frozenset()):
        with pytest.raises(Forbidden) as exc:
            decide(opportunity, Gate.ATB, roles=roles)
        assert exc.value.rule == "decision-beyond-authority" and status_of(exc.value) == 403
    decide(opportunity, Gate.ATB, roles=L3)

    assert opportunity.gate_status(Gate.ATB) is RequestStatus.APPROVED and opportunity.pending_gate_tier is None
    decision_made = opportunity.events[-1]
    assert isinstance(decision_made, OpportunityDecisionMade)
    assert (decision_made.gate, decision_made.tier, decision_made.outcome) == ("ATB", "L2", "approved")


def test_deciding_twice_is_a_conflict() -> None:
    opportunity = ready_for_atb()
    request(opportunity, Gate.ATB)
    decide(opportunity, Gate.ATB)
    with pytest.raises(DomainError) as exc:
        decide(opportunity, Gate.ATB)
    assert exc.value.rule == "no-pending-gate-request" and status_of(exc.value) == 409
    with pytest.raises(DomainError) as exc:
        request(opportunity, Gate.ATB)
    assert exc.value.rule == "gate-approved"


def test_the_requester_never_decides() -> None:
    opportunity = ready_for_atb()
    request(opportunity, Gate.ATB)
    with pytest.raises(Forbidden) as exc:
        decide(opportunity, Gate.ATB, decider="alice")
    assert exc.value.rule == "decider-is-requester"


def test_escalation_moves_the_request_up_until_l3() -> None:
    opportunity = ready_for_atb(an_opportunity(budget=eur("10")))
    request(opportunity, Gate.ATB)
    decide(opportunity, Gate.ATB, Outcome.ESCALATED, roles=L1)
    assert opportunity.pending_gate_tier == "L2"
    with pytest.raises(Forbidden) as below:
        decide(opportunity, Gate.ATB, roles=L1)
    assert below.value.rule == "decision-beyond-authority"
    decide(opportunity, Gate.ATB, Outcome.ESCALATED, roles=L2)
    with pytest.raises(DomainError) as exc:
        decide(opportunity, Gate.ATB, Outcome.ESCALATED, roles=L3)
    assert exc.value.rule == "no-higher-tier"
    decide(opportunity, Gate.ATB, Outcome.APPROVED, roles=L3)

    [decided] = opportunity.gate_requests
    assert [(d.tier, d.outcome) for d in decided.decisions] == [
        (Tier.L1, Outcome.ESCALATED), (Tier.L2, Outcome.ESCALATED), (Tier.L3, Outcome.APPROVED)]
    assert decided.routed_tier is Tier.L1 and decided.tier is Tier.L3


def test_sent_back_may_be_requested_again_rejected_may_not() -> None:
    opportunity = ready_for_atb()
    request(opportunity, Gate.ATB)
    decide(opportunity, Gate.ATB, Outcome.SENT_BACK)
    request(opportunity, Gate.ATB)
    decide(opportunity, Gate.ATB, Outcome.REJECTED)
    with pytest.raises(DomainError) as exc:
        request(opportunity, Gate.ATB)
    assert exc.value.rule == "gate-rejected"
    assert [r.status for r in opportunity.gate_requests] == [RequestStatus.SENT_BACK, RequestStatus.REJECTED]


# -- stages --------------------------------------------------------------------------------------------

def test_stages_move_one_step_and_announce_the_probability() -> None:
    opportunity = an_opportunity()
    opportunity.events.clear()
    probabilities = StageProbabilities({Stage.VALIDATING: Decimal(5), Stage.STRATEGIZING: Decimal("12.5"),
                                        Stage.BIDDING: Decimal(40), Stage.NEGOTIATING: Decimal(70)})

    opportunity.advance(Stage.STRATEGIZING, probabilities=probabilities, by="alice", now=NOW)

    assert opportunity.stage is Stage.STRATEGIZING and opportunity.probability == Decimal("12.5")
    [changed] = opportunity.events
    assert isinstance(changed, OpportunityStageChanged)
    assert (changed.from_stage, changed.to_stage, changed.probability) == ("validating", "strategizing",
                                                                           Decimal("12.5"))
    opportunity.advance(Stage.VALIDATING, probabilities=probabilities, by="alice", now=NOW)
    assert opportunity.stage is Stage.VALIDATING


@pytest.mark.parametrize(("to", "rule"), [
    (Stage.VALIDATING, "stage-transition-not-allowed"), (Stage.BIDDING, "stage-transition-not-allowed"),
    (Stage.NEGOTIATING, "stage-transition-not-allowed"), (Stage.WON, "closing-needs-its-action"),
    (Stage.LOST, "closing-needs-its-action"),
])
def test_stages_cannot_be_skipped_nor_closed_by_a_move(to: Stage, rule: str) -> None:
    opportunity = an_opportunity()
    with pytest.raises(DomainError) as exc:
        advance(opportunity, to)
    assert exc.value.rule == rule and opportunity.stage is Stage.VALIDATING


def test_bidding_needs_an_approved_atb() -> None:
    opportunity = ready_for_atb()
    advance(opportunity, Stage.STRATEGIZING)
    request(opportunity, Gate.ATB)
    with pytest.raises(DomainError) as exc:
        advance(opportunity, Stage.BIDDING)
    assert exc.value.rule == "atb-not-approved"
    decide(opportunity, Gate.ATB)
    advance(opportunity, Stage.BIDDING)
    assert opportunity.stage is Stage.BIDDING and opportunity.probability == Decimal(50)


def test_atb_is_requested_before_bidding_and_atc_after() -> None:
    opportunity = in_bidding()
    with pytest.raises(DomainError) as exc:
        request(ready_for_atb(), Gate.ATC)
    assert exc.value.rule == "gate-not-in-this-stage"
    assert opportunity.missing_for(Gate.ATC)[0]["field"] == "terms.value"


@pytest.mark.parametrize("values", [
    {Stage.VALIDATING: Decimal(10)},
    {stage: Decimal(101) for stage in (Stage.VALIDATING, Stage.STRATEGIZING, Stage.BIDDING, Stage.NEGOTIATING)},
    {**DEFAULT_PROBABILITIES.by_stage, Stage.WON: Decimal(90)},
], ids=["incomplete", "above-100", "closed-stage"])
def test_stage_probabilities_must_be_complete_percentages_of_open_stages(values: dict) -> None:
    with pytest.raises(RuleViolation) as exc:
        StageProbabilities(values)
    assert exc.value.rule == "stage-probabilities-invalid"


# -- the outcome ---------------------------------------------------------------------------------------

def test_winning_needs_an_approved_atc() -> None:
    opportunity = in_bidding()
    opportunity.update_terms(value=GOOD_TERMS.value, line_items=GOOD_TERMS.line_items,
                             payment_terms=GOOD_TERMS.payment_terms, milestones=GOOD_TERMS.milestones)
    request(opportunity, Gate.ATC)
    with pytest.raises(DomainError) as exc:
        opportunity.win(by="alice", now=NOW)
    assert exc.value.rule == "atc-not-approved" and opportunity.stage is Stage.BIDDING


def test_won_on_the_approved_terms_which_are_then_frozen() -> None:
    lead_id = uuid.uuid4()
    opportunity = ready_for_atb(an_opportunity(lead_id=lead_id))
    request(opportunity, Gate.ATB)
    decide(opportunity, Gate.ATB)
    advance(opportunity, Stage.STRATEGIZING)
    advance(opportunity, Stage.BIDDING)
    opportunity.update_terms(value=GOOD_TERMS.value, line_items=GOOD_TERMS.line_items,
                             payment_terms=GOOD_TERMS.payment_terms, milestones=GOOD_TERMS.milestones)
    request(opportunity, Gate.ATC)
    decide(opportunity, Gate.ATC)
    with pytest.raises(DomainError) as exc:
        opportunity.update_terms(value=eur("1.00"))
    assert exc.value.rule == "terms-approved"
    opportunity.events.clear()

    opportunity.win(by="alice", now=NOW)

    assert opportunity.stage is Stage.WON and opportunity.probability == Decimal(100)
    assert opportunity.commercial_terms is not None
    assert opportunity.commercial_terms["value"] == {"amount": "1000000.00", "currency": "EUR"}
    changed, won = opportunity.events
    assert isinstance(changed, OpportunityStageChanged) and changed.to_stage == "won"
    assert isinstance(won, OpportunityWon)
    assert won.lineage.lead_id == lead_id and won.lineage.opportunity_id == opportunity.id
    assert [t.percent for t in won.terms.payment_terms] == [Decimal(30), Decimal(60), Decimal(10)]
    assert won.terms.payment_terms[1].milestone == "installation"
    assert [m.acceptance_type for m in won.terms.milestones] == ["preliminary", "final"]
    atc = opportunity.gate_requests[-1].decisions[-1]
    assert won.approval is not None  # the contract's authority to be signed travels with the terms
    assert (won.approval.gate, won.approval.tier, won.approval.decider, won.approval.decision_id) == (
        "ATC", atc.tier.value, atc.decider, atc.id)


def test_losing_records_the_reason_and_the_winning_competitor() -> None:
    opportunity = an_opportunity(lead_id=uuid.uuid4())
    opportunity.events.clear()

    opportunity.lose(reason="  price too high ", competitor="Rival Corp", by="alice", now=NOW)

    assert opportunity.stage is Stage.LOST and opportunity.probability == Decimal(0)
    assert opportunity.closed_reason == "price too high" and opportunity.competitor == "Rival Corp"
    changed, lost = opportunity.events
    assert isinstance(changed, OpportunityStageChanged) and changed.to_stage == "lost"
    assert isinstance(lost, OpportunityLost)
    assert lost.reason == "price too high" and lost.competitor == "Rival Corp" and lost.lost_at == NOW


def test_abandoning_records_the_reason_and_announces_only_the_stage_change() -> None:
    opportunity = an_opportunity()
    opportunity.events.clear()

    opportunity.abandon(reason="no fit with our portfolio", by="admin-1", now=NOW)

    assert opportunity.stage is Stage.ABANDONED and opportunity.closed_reason == "no fit with our portfolio"
    [changed] = opportunity.events
    assert isinstance(changed, OpportunityStageChanged) and changed.to_stage == "abandoned"


@pytest.mark.parametrize("close", [
    lambda o: o.lose(reason="  ", competitor=None, by="alice", now=NOW),
    lambda o: o.abandon(reason="", by="alice", now=NOW),
], ids=["lose", "abandon"])
def test_closing_without_a_reason_is_refused(close) -> None:  # noqa: ANN001
    opportunity = an_opportunity()
    with pytest.raises(RuleViolation) as exc:
        close(opportunity)
    assert exc.value.rule == "close-reason-required"
    assert opportunity.stage is Stage.VALIDATING


@pytest.mark.parametrize("first", ["win", "lose", "abandon"])
@pytest.mark.parametrize("then", ["win", "lose", "abandon", "advance", "insight", "decide"])
def test_a_closed_opportunity_can_no_longer_change(first: str, then: str) -> None:
    actions = {
        "win": lambda o: o.win(by="alice", now=NOW),
        "lose": lambda o: o.lose(reason="price", competitor=None, by="alice", now=NOW),
        "abandon": lambda o: o.abandon(reason="no budget", by="alice", now=NOW),
        "advance": lambda o: advance(o, Stage.NEGOTIATING),
        "insight": lambda o: o.set_insight(INSIGHT),
        "decide": lambda o: decide(o, Gate.ATC),
    }
    opportunity = atc_approved()
    actions[first](opportunity)
    stage, events = opportunity.stage, list(opportunity.events)

    with pytest.raises(DomainError) as exc:
        actions[then](opportunity)

    assert exc.value.rule == "opportunity-closed" and status_of(exc.value) == 409
    assert opportunity.stage is stage and opportunity.events == events
