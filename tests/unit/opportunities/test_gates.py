"""The ATB and ATC gates: routing to the tiers by deal value and risk, decisions within a tier's authority."""

from __future__ import annotations

from decimal import Decimal

import pytest

from ltc.opportunities.domain.gates import DecisionPolicy, Gate, Outcome, RequestStatus, Tier, TierThresholds
from ltc.shared.errors import DomainError, Forbidden, RuleViolation, status_of
from ltc.shared.messages.opportunities_events import OpportunityDecisionMade
from ltc.shared.money import Money
from tests.unit.opportunities.samples import (
    L1,
    L2,
    L3,
    POLICY,
    a_risk,
    an_opportunity,
    decide,
    eur,
    fields,
    ready_for_atb,
    request,
)


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


@pytest.mark.parametrize("same_person", ["ALICE", "Alice"])
def test_the_requester_never_decides_under_another_spelling_of_their_id(same_person: str) -> None:
    opportunity = ready_for_atb()
    request(opportunity, Gate.ATB)
    with pytest.raises(Forbidden) as exc:
        decide(opportunity, Gate.ATB, decider=same_person)
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


def test_thresholds_are_stored_as_a_document_and_read_back_the_same() -> None:
    document = POLICY.to_json()
    assert document["EUR"] == {"l2_from": "1000000", "l3_from": "10000000"}
    assert DecisionPolicy.from_json(document).thresholds == POLICY.thresholds
    with pytest.raises(RuleViolation) as exc:
        DecisionPolicy.from_json({"EUR": {"l2_from": "5", "l3_from": "1"}})
    assert exc.value.rule == "decision-thresholds-invalid"
