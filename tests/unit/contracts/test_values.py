"""The value objects of a contract's terms: what makes terms unusable, and their JSON form."""

import uuid
from decimal import Decimal

import pytest

from ltc.contracts.domain.amendment import TermChanges
from ltc.contracts.domain.policy import DEFAULT_POLICY, Risk
from ltc.contracts.domain.terms import Terms
from ltc.contracts.domain.values import (
    LegalTerms,
    Milestone,
    PaymentTerm,
    StatedLine,
    Supply,
    TaxCategory,
    Trigger,
    Vat,
    line_from_json,
    line_to_json,
    priced_lines,
)
from ltc.shared.errors import RuleViolation
from ltc.shared.money import Money
from tests.unit.contracts.sample import MILESTONES, NOW, TERMS, TODAY, line
from tests.unit.contracts.sample import accept as _accept
from tests.unit.contracts.sample import active as _active
from tests.unit.contracts.sample import draft as _draft


@pytest.mark.parametrize(("terms", "milestones", "message"), [
    ([], MILESTONES, "at least one payment term"),
    (TERMS[:2], MILESTONES, "add up to 100"),
    ([PaymentTerm("all", Decimal("100"), Trigger.MILESTONE, "SAT", 30)], MILESTONES, "unknown milestone 'SAT'"),
    ([PaymentTerm("all", Decimal("100"), Trigger.MILESTONE, None, 30)], MILESTONES, "unknown milestone None"),
    (TERMS, [MILESTONES[0], MILESTONES[0], MILESTONES[1]], "milestone names must be unique"),
    ([PaymentTerm("all", Decimal("100"), Trigger.SIGNING, None, -1)], [], "due days"),
])
def test_terms_that_cannot_make_a_contract_are_refused(terms, milestones, message):
    with pytest.raises(RuleViolation) as failure:
        _draft(terms=terms, milestones=milestones)
    assert failure.value.rule == "commercial-terms-inconsistent"
    assert message in failure.value.detail


def test_a_zero_value_is_refused():
    with pytest.raises(RuleViolation, match="must be positive"):
        _draft(value=Money.zero("EUR"))


@pytest.mark.parametrize(("terms", "line_items", "legal", "message"), [
    ([PaymentTerm("a", Decimal(50), Trigger.SIGNING, None, 0), PaymentTerm("a", Decimal(50), Trigger.SIGNING, None, 0)],
     [], LegalTerms(), "instalment names must be unique"),
    ([PaymentTerm("a", Decimal(100), Trigger.DATE, None, 0)], [], LegalTerms(), "triggered by a date but names none"),
    ([PaymentTerm("a", Decimal(100), Trigger.SIGNING, "PAC", 0)], [], LegalTerms(), "names a milestone"),
    ([PaymentTerm("a", Decimal(100), Trigger.SIGNING, None, 0)], [line("router", 2, "10.00")],
     LegalTerms(), "the lines add up to 20.00 EUR, not the value 100.00"),
    ([PaymentTerm("a", Decimal(100), Trigger.SIGNING, None, 0)], [line("hours", "0.333", "3.00")],
     LegalTerms(), "quantity × unit price is finer than EUR allows"),
    ([PaymentTerm("a", Decimal(100), Trigger.SIGNING, None, 0)], [],
     LegalTerms(liability_cap_percent=Decimal(150)), "between 0 and 100"),
])
def test_instalments_line_items_and_legal_terms_that_cannot_make_a_contract_are_refused(terms, line_items, legal,
                                                                                          message):
    with pytest.raises(RuleViolation) as failure:
        _draft(value="100.00", terms=terms, milestones=MILESTONES, line_items=line_items, legal_terms=legal)
    assert failure.value.rule == "commercial-terms-inconsistent"
    assert message in failure.value.detail


def test_value_objects_round_trip_through_json():
    contract = _active()
    _accept(contract, contract.milestones[0])
    assert [Milestone.from_json(m.to_json()) for m in contract.milestones] == contract.milestones
    assert [PaymentTerm.from_json(t.to_json()) for t in contract.payment_terms] == contract.payment_terms




# --- lines: the shared sales line, its rules named as this API names them, and its stored forms ---------

# 1,000,000.00 EUR: 30 % on signing, 60 % on PAC, 10 % on FAC (the sample's terms and milestones).
ROUTERS = line("core routers", 4, "150000.00", position=1, milestone="PAC", supply=Supply.GOODS, code="RT-400")
SUPPORT = line("support", 12, "20000.00", position=2, unit="MON", vat=Vat(TaxCategory.STANDARD, Decimal(19)))
TRAINING = line("training", 7, "10000.00", position=3, unit="DAY", discount=Money(Decimal("10000.00"), "EUR"),
                vat=Vat(TaxCategory.EXEMPT, Decimal(0), "Art. 132(1)(i) VAT Directive: education"))
ACCEPTANCE = line("acceptance tests", 1, "100000.00", position=4, unit="LS", milestone="FAC")
LINES = [ROUTERS, SUPPORT, TRAINING, ACCEPTANCE]


def test_lines_in_two_vat_categories_whose_milestone_lines_their_instalments_invoice_make_a_contract():
    contract = _draft(line_items=LINES)
    assert [i.net.amount for i in contract.line_items] == [Decimal("600000.00"), Decimal("240000.00"),
                                                          Decimal("60000.00"), Decimal("100000.00")]
    assert [t.amount for t in contract.payment_terms] == [Decimal("300000.00"), Decimal("600000.00"),
                                                          Decimal("100000.00")]


def _refused(lines, value: str = "1000000.00", terms=TERMS) -> list[str]:
    with pytest.raises(RuleViolation) as failure:
        _draft(value=value, terms=terms, line_items=lines)
    assert failure.value.rule == "commercial-terms-inconsistent"
    return [e["field"] for e in failure.value.errors]


@pytest.mark.parametrize(("lines", "fields"), [
    ([line("routers", 1, "1000000.00", unit="PCS")], ["line_items.0.unit"]),
    ([line("routers", 1, "1000000.00", vat=Vat(TaxCategory.EXEMPT, Decimal(0)))],
     ["line_items.0.vat.exemption_reason"]),
    ([line("routers", 1, "1000000.00", vat=Vat(TaxCategory.STANDARD, None))], ["line_items.0.vat.rate"]),
    ([line("routers", 1, "1000000.00", vat=Vat(TaxCategory.OUT_OF_SCOPE, Decimal(0), "not a supply"))],
     ["line_items.0.vat.rate"]),
    ([line("routers", 1, "1000000.00", milestone="SAT")], ["line_items.0.milestone"]),
    ([line("routers", 1, "999999.99"), line("hours", "0.5", "0.01", position=2)], ["line_items.1"]),
    ([line("routers", 1, "999999.00")], ["line_items"]),
    ([line("routers", 1, "500000.00"), line("switches", 1, "500000.00")], ["line_items.1.position"]),
    ([line("routers", 1, "1000000.00", discount=Money(Decimal("2000000.00"), "EUR"))],
     ["line_items.0.discount.amount"]),
    ([line("routers", 1, "1000000.00", currency="USD")], ["line_items.0.unit_price.currency"]),
])
def test_a_line_the_shared_rules_refuse_is_named_with_the_field_the_api_names(lines, fields):
    assert _refused(lines)[:len(fields)] == fields


def test_a_milestones_instalments_must_invoice_exactly_its_lines():
    short = [line("core routers", 4, "125000.00", milestone="PAC"), line("rest", 1, "500000.00", position=2)]
    with pytest.raises(RuleViolation) as failure:
        _draft(line_items=short)
    assert failure.value.rule == "commercial-terms-inconsistent"
    [problem] = failure.value.errors
    assert problem["field"] == "line_items"
    assert "'PAC' are 500000.00 net, the instalments due on it are 600000.00" in problem["message"]


def _amend_with(contract, extra) -> None:
    contract.request_amendment(amendment_id=uuid.uuid4(), reason="more acceptance tests", declared_risk=Risk.LOW,
                               changes=TermChanges(value=Money(Decimal("1100000.00"), "EUR"),
                                                   line_items=[*LINES, extra]),
                               requested_by="ar-1", policy=DEFAULT_POLICY, today=TODAY, now=NOW)


def test_an_amendment_is_held_to_the_milestone_rule_on_the_amounts_it_plans_not_on_the_percentages():
    """The advance and PAC are triggered and keep 900,000.00: FAC's instalment is what is left,
    200,000.00 (not 10 % of the new value), and invoices exactly FAC's lines."""
    contract = _active(line_items=LINES)
    _accept(contract, contract.milestones[0])
    with pytest.raises(RuleViolation) as failure:
        _amend_with(contract, line("site survey", 1, "100000.00", position=5))
    assert failure.value.rule == "commercial-terms-inconsistent"
    assert "'FAC' are 100000.00 net, the instalments due on it are 200000.00" in failure.value.errors[0]["message"]
    _amend_with(contract, line("more acceptance tests", 1, "100000.00", position=5, milestone="FAC"))
    assert contract.pending_amendment is not None


def test_a_line_round_trips_through_its_stored_form():
    for stored in LINES:
        assert line_from_json(line_to_json(stored), index=7) == stored
    assert line_to_json(TRAINING) == {
        "position": 3, "code": None, "description": "training", "quantity": "7", "unit": "DAY",
        "unit_price": "10000.00", "currency": "EUR", "discount": "10000.00", "supply": "services",
        "vat": {"category": "E", "rate": "0", "exemption_reason": "Art. 132(1)(i) VAT Directive: education"},
        "milestone": None}


def test_a_line_stored_before_lines_grew_reads_as_one_of_c62_a_service_in_the_contracts_currency():
    first = {"description": "switch", "quantity": "40", "unit_price": "1500.00"}
    assert line_from_json(first, index=1, currency="EUR") == line("switch", 40, "1500.00", position=2)
    assert line_from_json({**first, "currency": "EUR"}, index=0) == line("switch", 40, "1500.00", position=1)
    with pytest.raises(ValueError):
        line_from_json(first, index=0)  # the currency is the contract's: it must be given


def test_a_first_shape_line_priced_finer_than_its_currency_reads_as_its_amount_for_one_lump_sum():
    old = line_from_json({"description": "cable", "quantity": "1000", "unit_price": "0.125"}, index=0, currency="EUR")
    assert (old.quantity, old.unit, old.unit_price, old.net) == (
        Decimal(1), "LS", Money(Decimal("125.00"), "EUR"), Money(Decimal("125.00"), "EUR"))


def test_terms_stored_before_lines_grew_read_their_lines_in_the_terms_currency():
    terms = _draft(value="60000.00", terms=[PaymentTerm("all", Decimal(100), Trigger.SIGNING, None, 30)],
                   line_items=[line("switch", 40, "1500.00")]).terms().to_json()
    terms["line_items"] = [{"description": "switch", "quantity": "40", "unit_price": "1500.00"}]
    [read] = Terms.from_json(terms).line_items
    assert read == line("switch", 40, "1500.00")


def test_a_stated_price_finer_than_the_currency_is_refused_naming_it_never_rounded():
    stated = [StatedLine(1, "switch", Decimal(40), Decimal("1500.00")),
              StatedLine(2, "cable", Decimal(1000), Decimal("0.125"), discount=Decimal("0.001"))]
    with pytest.raises(RuleViolation) as failure:
        priced_lines(stated, "EUR")
    assert failure.value.rule == "commercial-terms-inconsistent"
    assert [e["field"] for e in failure.value.errors] == ["line_items.1.unit_price", "line_items.1.discount"]
    assert priced_lines(stated[:1], "JPY") == [line("switch", 40, "1500", currency="JPY")]
    with pytest.raises(RuleViolation):
        priced_lines([StatedLine(1, "switch", Decimal(1), Decimal("1.5"))], "JPY")
