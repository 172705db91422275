"""What is invoiced of each line is the floor an amendment keeps it at: refused when requested, and
again when approved if more was invoiced meanwhile, naming the line and what is invoiced of it."""

import uuid
from decimal import Decimal

import pytest

from ltc.contracts.domain.amendment import AmendmentStatus, DecisionOutcome, TermChanges
from ltc.contracts.domain.invoiced import LINE_BELOW_INVOICED, Invoiced, below_invoiced
from ltc.contracts.domain.policy import DEFAULT_POLICY, Risk, Tier
from ltc.shared.errors import RuleViolation, status_of
from ltc.shared.money import Money
from tests.unit.contracts.sample import NOW, TERMS, TODAY, line
from tests.unit.contracts.sample import active as _active

SWITCHES = line("switch", 40, "15000.00", position=1)
HOURS = line("installation", 100, "4000.00", position=2, unit="HUR")
LINES = [SWITCHES, HOURS]  # 600,000.00 + 400,000.00: the sample's 1,000,000.00 EUR


def eur(amount: str) -> Money:
    return Money(Decimal(amount), "EUR")


def billed(quantity: str, net: str) -> Invoiced:
    return Invoiced(Decimal(quantity), eur(net))


def test_lines_at_or_above_what_is_invoiced_of_them_pass():
    invoiced = {1: billed("12", "180000.00"), 2: billed("30", "120000.00")}
    assert below_invoiced(LINES, LINES, invoiced) == []
    assert below_invoiced(LINES, [line("switch", 12, "15000.00", position=1), HOURS], invoiced) == []


def test_a_line_below_its_invoiced_quantity_or_net_is_named_with_what_is_invoiced():
    invoiced = {1: billed("12", "180000.00"), 2: billed("30", "120000.00")}
    cheaper = line("installation", 50, "2000.00", position=2, unit="HUR")  # 50 ≥ 30 hours, 100,000 < 120,000
    fewer = line("switch", 10, "30000.00", position=1)  # 300,000 ≥ 180,000, 10 < 12 switches
    problems = below_invoiced(LINES, [cheaper, fewer], invoiced)
    assert [(p["field"], p["position"], p["invoiced_quantity"], p["invoiced_net"]) for p in problems] == [
        ("line_items.1.quantity", "1", "12", "180000.00"), ("line_items.0", "2", "30", "120000.00")]
    assert problems[0]["message"] == "line 1 is invoiced (12 C62 for 180000.00 EUR net); its quantity 10 is below that"
    assert "(30 HUR for 120000.00 EUR net); its net 100000.00 is below that" in problems[1]["message"]


def test_an_invoiced_line_stays_unless_it_was_credited_in_full():
    problems = below_invoiced(LINES, [SWITCHES], {2: billed("30", "120000.00")})
    assert [(p["field"], p["position"]) for p in problems] == [("line_items", "2")]
    assert "it cannot be removed" in problems[0]["message"]
    assert below_invoiced(LINES, [SWITCHES], {2: billed("0", "0.00")}) == []


def test_a_contract_without_lines_is_billed_as_one_line_of_its_value_which_is_not_its_own():
    assert below_invoiced([], LINES, {1: billed("1", "300000.00")}) == []


def _amend(contract, lines, invoiced):
    return contract.request_amendment(amendment_id=uuid.uuid4(), reason="fewer switches", declared_risk=Risk.LOW,
                                      changes=TermChanges(line_items=lines), requested_by="ar-1",
                                      policy=DEFAULT_POLICY, today=TODAY, now=NOW, invoiced=invoiced)


def test_an_amendment_below_what_is_invoiced_is_refused_when_requested():
    contract = _active(line_items=LINES, terms=TERMS)
    fewer = [line("switch", 10, "15000.00", position=1), line("installation", 100, "8500.00", position=2,
                                                               unit="HUR")]
    with pytest.raises(RuleViolation) as refused:
        _amend(contract, fewer, {1: billed("12", "180000.00")})
    assert (refused.value.rule, status_of(refused.value)) == (LINE_BELOW_INVOICED, 422)
    assert [e["field"] for e in refused.value.errors] == ["line_items.0.quantity", "line_items.0"]  # 10 < 12, 150,000 < 180,000
    assert contract.amendments == []


def test_an_amendment_is_checked_again_when_approved_against_what_was_invoiced_since():
    contract = _active(line_items=LINES, terms=TERMS)
    fewer = [line("switch", 10, "15000.00", position=1), line("installation", 100, "8500.00", position=2,
                                                               unit="HUR")]
    amendment = _amend(contract, fewer, {1: billed("8", "120000.00")})
    with pytest.raises(RuleViolation) as refused:
        contract.decide_amendment(amendment.amendment_id, outcome=DecisionOutcome.APPROVED, decider="boss",
                                  decider_authority=Tier.L3, comment=None, today=TODAY, now=NOW,
                                  invoiced={1: billed("12", "180000.00")})
    assert refused.value.rule == LINE_BELOW_INVOICED
    assert (contract.amendment(amendment.amendment_id).status, contract.contract_version, contract.line_items) == (
        AmendmentStatus.PENDING, 1, LINES)
    decided = contract.decide_amendment(amendment.amendment_id, outcome=DecisionOutcome.APPROVED, decider="boss",
                                        decider_authority=Tier.L3, comment=None, today=TODAY, now=NOW,
                                        invoiced={1: billed("8", "120000.00")})
    assert (decided.status, contract.line_items) == (AmendmentStatus.APPROVED, fewer)
