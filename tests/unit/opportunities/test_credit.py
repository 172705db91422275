"""The ATC gate's credit-limit rule: refused over the limit with the figures, decided one tier
higher with an override, no limit without a known one."""

from __future__ import annotations

import uuid
from datetime import timedelta
from decimal import Decimal

import pytest

from ltc.opportunities.domain.credit import CREDIT_LIMIT_EXCEEDED, Credit, credit_excess
from ltc.opportunities.domain.gates import Gate, Outcome, RequestStatus, Tier
from ltc.opportunities.domain.model import Opportunity
from ltc.shared.rules import Forbidden, RuleViolation
from tests.unit.opportunities.samples import GOOD_TERMS, L3, NOW, POLICY, eur, in_bidding, ready_for_atb


def _credit(limit: str | None, exposure: str, currency: str = "EUR") -> Credit:
    return Credit(account_id=uuid.uuid4(), currency=currency, limit_amount=Decimal(limit) if limit else None,
                  exposure_amount=Decimal(exposure), changed_at=NOW)


def _priced() -> Opportunity:
    opportunity = in_bidding()
    opportunity.update_terms(value=GOOD_TERMS.value, line_items=GOOD_TERMS.line_items,
                             payment_terms=GOOD_TERMS.payment_terms, milestones=GOOD_TERMS.milestones)
    return opportunity


def _request_atc(opportunity: Opportunity, credit: Credit | None, reason: str | None = None):
    return opportunity.request_gate(Gate.ATC, policy=POLICY, request_id=uuid.uuid4(), by="alice", now=NOW,
                                    credit={credit.currency: credit} if credit else None,
                                    credit_override_reason=reason)


def _decide(opportunity: Opportunity, roles: frozenset[str], credit: Credit | None = None,
            outcome: Outcome = Outcome.APPROVED) -> None:
    opportunity.decide(Gate.ATC, outcome, decision_id=uuid.uuid4(), decider="victor", roles=roles, conditions=None,
                       comment=None, now=NOW, credit={credit.currency: credit} if credit else None)


@pytest.mark.parametrize(("limit", "exposure", "value", "over_by"), [
    ("1000.00", "200.00", "900.00", "100.00"),
    ("1000.00", "0.00", "1000.01", "0.01"),
    ("0.00", "0.00", "0.01", "0.01"),  # a zero limit: no credit at all
    ("1000.00", "1500.00", "1.00", "501.00"),  # already over before this deal
])
def test_a_deal_over_the_limit_is_an_excess_by_what_it_goes_over(limit, exposure, value, over_by):
    excess = credit_excess(_credit(limit, exposure), eur(value))
    assert excess is not None and excess.over_by == eur(over_by)
    assert excess.figures() == {"credit_limit": eur(limit).to_json(), "exposure": eur(exposure).to_json(),
                                "deal_value": eur(value).to_json(), "over_by": eur(over_by).to_json()}


@pytest.mark.parametrize(("credit", "value"), [
    (None, eur("1000000")),  # no copy: no limit known
    (_credit(None, "999999"), eur("1000000")),  # a copy without a limit
    (_credit("1000.00", "200.00"), eur("800.00")),  # exactly at the limit is within it
    (_credit("1.00", "0.00", currency="USD"), eur("800.00")),  # a limit in another currency
    (_credit("1.00", "0.00"), None),  # no deal value
])
def test_no_limit_or_within_it_is_no_excess(credit, value):
    assert credit_excess(credit, value) is None


def test_an_atc_over_the_limit_is_refused_naming_the_override_and_giving_the_figures():
    opportunity = _priced()
    value = opportunity.deal_value
    with pytest.raises(RuleViolation) as exc:
        _request_atc(opportunity, _credit("100000.00", "50000.00"), reason="  ")
    assert exc.value.rule == CREDIT_LIMIT_EXCEEDED
    [item] = exc.value.errors
    assert item["field"] == "credit_override_reason"
    assert item["over_by"] == (value + eur("50000.00") - eur("100000.00")).to_json()
    assert opportunity.gate_status(Gate.ATC) is None  # nothing was requested


def test_an_override_raises_the_tier_by_one_and_keeps_the_reason_and_figures():
    plain = _request_atc(_priced(), None)
    opportunity = _priced()
    request = _request_atc(opportunity, _credit("100000.00", "50000.00"), reason=" parent guarantee ")
    assert request.tier.rank == plain.tier.rank + 1 and request.routed_tier == request.tier
    assert f"raised from {plain.tier.value} for a credit-limit override" in request.routing_reason
    override = request.credit_override
    assert override is not None and override.reason == "parent guarantee"
    assert (override.credit_limit, override.exposure, override.deal_value) == (
        eur("100000.00"), eur("50000.00"), opportunity.deal_value)
    with pytest.raises(Forbidden):
        _decide(opportunity, frozenset({f"approver_l{plain.tier.rank}"}))
    _decide(opportunity, frozenset({f"approver_l{request.tier.rank}"}), _credit("100000.00", "50000.00"))
    assert opportunity.gate_status(Gate.ATC) is RequestStatus.APPROVED


def test_a_high_risk_and_an_override_each_raise_the_tier_and_the_top_decides_itself():
    assert POLICY.route(eur("1"), high_risk=False, credit_override=True).tier is Tier.L2
    assert POLICY.route(eur("1"), high_risk=True, credit_override=True).tier is Tier.L3
    top = POLICY.route(eur("20000000"), high_risk=False, credit_override=True)
    assert top.tier is Tier.L3 and "credit-limit override, already at L3" in top.reason


def test_within_the_limit_the_reason_is_not_kept_and_the_tier_is_the_usual_one():
    plain = _request_atc(_priced(), None)
    request = _request_atc(_priced(), _credit("1000000000.00", "0.00"), reason="just in case")
    assert request.tier is plain.tier and request.credit_override is None


def test_the_credit_limit_is_an_atc_rule_only():
    opportunity = ready_for_atb()  # a budget of 500000 EUR
    request = opportunity.request_gate(Gate.ATB, policy=POLICY, request_id=uuid.uuid4(), by="alice", now=NOW,
                                       credit={"EUR": _credit("1.00", "0.00")})
    assert request.credit_override is None and request.status is RequestStatus.PENDING


def test_approval_checks_the_limit_again_unless_the_request_carries_an_override():
    opportunity = _priced()
    request = _request_atc(opportunity, None)
    over = _credit("1.00", "0.00")
    authority = frozenset({f"approver_l{request.tier.rank}"})
    with pytest.raises(RuleViolation) as exc:
        _decide(opportunity, authority, over)
    assert exc.value.rule == CREDIT_LIMIT_EXCEEDED and "field" not in exc.value.errors[0]
    # Sent back (that is not an approval), it may be requested again with an override, one tier up.
    _decide(opportunity, authority, over, outcome=Outcome.SENT_BACK)
    again = _request_atc(opportunity, over, reason="prepaid")
    assert again.tier.rank == request.tier.rank + 1 or again.tier is Tier.L3
    _decide(opportunity, L3, _credit("1.00", "999999999.00"))
    assert opportunity.gate_status(Gate.ATC) is RequestStatus.APPROVED


def test_a_copy_is_replaced_only_by_newer_figures():
    credit = _credit("10.00", "1.00")
    assert credit.supersedes(NOW + timedelta(seconds=1))
    assert not credit.supersedes(NOW) and not credit.supersedes(NOW - timedelta(days=1))
    assert credit.credit_limit == eur("10.00") and credit.exposure == eur("1.00")
    assert _credit(None, "1.00").credit_limit is None
