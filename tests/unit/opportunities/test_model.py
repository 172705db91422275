"""The opportunity aggregate: creation, value, team, requirements, gate prerequisites, stages, the outcome."""

from __future__ import annotations

import dataclasses
import uuid
from decimal import Decimal

import pytest

from ltc.opportunities.domain.gates import Gate
from ltc.opportunities.domain.insight import Insight
from ltc.opportunities.domain.requirements import Priority, Requirement
from ltc.opportunities.domain.risks import Level, RiskStatus
from ltc.opportunities.domain.stages import Stage, StageProbabilities
from ltc.opportunities.domain.team import TeamRole
from ltc.shared.errors import DomainError, RuleViolation, status_of
from ltc.shared.messages.opportunities_events import (
    OpportunityCreated,
    OpportunityLost,
    OpportunityStageChanged,
    OpportunityWon,
    RequirementRaised,
)
from tests.unit.opportunities.samples import (
    GOOD_TERMS,
    INSIGHT,
    NOW,
    a_risk,
    advance,
    an_opportunity,
    atc_approved,
    decide,
    eur,
    fields,
    in_bidding,
    ready_for_atb,
    request,
)


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


def test_the_iron_triangle_keeps_a_history_and_the_ar_owns() -> None:
    opportunity = an_opportunity()
    opportunity.assign_team({TeamRole.SR: "sam", TeamRole.FR: "fay"}, by="alice", now=NOW)
    opportunity.assign_team({TeamRole.SR: "sam", TeamRole.AR: "arthur"}, by="admin", now=NOW)

    assert (opportunity.owner, opportunity.sr, opportunity.fr) == ("arthur", "sam", "fay")
    assert [(c.role, c.previous, c.assigned, c.changed_by) for c in opportunity.team_history] == [
        (TeamRole.SR, None, "sam", "alice"), (TeamRole.FR, None, "fay", "alice"),
        (TeamRole.AR, "alice", "arthur", "admin")]
    assert opportunity.team_member("fay") and not opportunity.team_member("alice")


def test_a_requirement_we_cannot_meet_is_announced() -> None:
    opportunity = an_opportunity()
    opportunity.events.clear()
    requirement = Requirement(uuid.uuid4(), "GoA4", "driverless depot", Priority.HIGH, "sam", NOW)

    opportunity.raise_requirement(requirement)

    [raised] = opportunity.events
    assert isinstance(raised, RequirementRaised)
    assert (raised.requirement_id, raised.priority, raised.raised_by) == (requirement.id, "high", "sam")
    assert opportunity.requirements == (requirement,)


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


def test_budget_and_deal_value_read_and_write_their_two_columns() -> None:
    opportunity = an_opportunity(budget=eur("500000"))
    assert (opportunity.budget_amount, opportunity.budget_currency) == (Decimal("500000"), "EUR")
    assert (opportunity.value_amount, opportunity.value_currency) == (Decimal("500000"), "EUR")
    opportunity.update_details(budget=None)
    assert opportunity.budget is None and (opportunity.budget_amount, opportunity.budget_currency) == (None, None)
    assert opportunity.deal_value is None and (opportunity.value_amount, opportunity.value_currency) == (None, None)
