"""The value objects of a contract's terms: what makes terms unusable, and their JSON form."""

from decimal import Decimal

import pytest

from ltc.contracts.domain.values import LegalTerms, LineItem, Milestone, PaymentTerm, Trigger
from ltc.shared.errors import RuleViolation
from ltc.shared.money import Money
from tests.unit.contracts.sample import MILESTONES, TERMS
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
    ([PaymentTerm("a", Decimal(100), Trigger.SIGNING, None, 0)], [LineItem("router", Decimal(2), Decimal("10.00"))],
     LegalTerms(), "the line items add up to 20.00"),
    ([PaymentTerm("a", Decimal(100), Trigger.SIGNING, None, 0)], [LineItem("hours", Decimal("0.333"), Decimal(3))],
     LegalTerms(), "whole EUR minor units"),
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

