"""Commercial terms: what keeps them from being a contract's basis, named field by field."""

from __future__ import annotations

from decimal import Decimal

import pytest

from ltc.opportunities.domain.terms import CommercialTerms, PaymentTerm, PaymentTrigger
from ltc.shared.lines import TaxCategory, Vat
from tests.unit.opportunities.samples import GOOD_TERMS, eur, item, milestone, on_milestone, signing, terms


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
    (terms(signing("100"), line_items=(item(unit="FOO"),)), ["terms.line_items.0.unit"]),
    (terms(signing("100"), line_items=(item("1.0000001", "999999.90"),)), ["terms.line_items.0.quantity"]),
    (terms(signing("100"), line_items=(item("1", "500000.00"), item("1", "500000.00"))),
     ["terms.line_items.1.position"]),
    (terms(signing("100"), line_items=(item(price="1000001.00", discount=eur("1000002.00")),)),
     ["terms.line_items.0.discount.amount"]),
    (terms(signing("100"), line_items=(item(vat=Vat(TaxCategory.EXEMPT, Decimal(0))),)),
     ["terms.line_items.0.vat.exemption_reason"]),
    (terms(signing("100"), line_items=(item(vat=Vat(TaxCategory.STANDARD, None)),)), ["terms.line_items.0.vat.rate"]),
    (terms(signing("100"), line_items=(item(milestone="go-live"),)), ["terms.line_items.0.milestone"]),
    # The line delivered with the handover is 600,000; the instalment due on it is 40% = 400,000.
    (terms(signing("60"), on_milestone("40", "handover"),
           line_items=(item("1", "400000.00"), item("1", "600000.00", position=2, milestone="handover"))),
     ["terms.line_items"]),
], ids=["no-value", "zero-value", "no-line-items", "line-items-off-value", "zero-quantity", "sub-cent-line",
        "line-item-currency", "no-milestones", "no-payment-terms", "sum-below-100", "sum-above-100", "zero-percent",
        "nan-percent", "unknown-milestone", "milestone-trigger-without-milestone", "signing-with-milestone",
        "negative-due-days", "duplicate-milestone-names", "unknown-unit", "quantity-too-fine", "duplicate-position",
        "discount-above-line", "exempt-without-reason", "standard-without-rate",
        "line-milestone-unknown", "milestone-lines-off-instalments"])
def test_unsound_terms_are_named_field_by_field(bad_terms: CommercialTerms, expected_fields: list[str]) -> None:
    assert [p["field"] for p in bad_terms.problems()] == expected_fields


def test_sound_terms_have_no_problems_even_with_fractional_percentages() -> None:
    assert GOOD_TERMS.problems() == []
    assert terms(signing("33.33", "a"), signing("33.33", "b"), signing("33.34", "c")).problems() == []
    assert terms(signing("100"), line_items=(item("3", "333333.33"), item("1", "0.01", position=2))).problems() == []


def test_a_milestone_line_is_billed_whole_by_the_milestone_s_instalments() -> None:
    """40% on the handover is exactly the line delivered with it; the advance bills the other line."""
    assert terms(signing("60"), on_milestone("40", "handover"),
                 line_items=(item("1", "600000.00"), item("1", "400000.00", position=2, milestone="handover")),
                 ).problems() == []


def test_the_won_payload_carries_every_line_with_its_net() -> None:
    lines = (item("3", "333333.33", code="CORE-1", unit="EA"),
             item("1", "0.01", position=2, vat=Vat(TaxCategory.EXEMPT, Decimal(0), "training, s4 UStG")))
    payload = terms(signing("100"), line_items=lines).to_payload()
    assert [(line.position, line.code, line.unit, line.net.amount, line.vat) for line in payload.lines] == [
        (1, "CORE-1", "EA", Decimal("999999.99"), None),
        (2, None, "C62", Decimal("0.01"), payload.lines[1].vat)]
    assert payload.lines[1].vat is not None and payload.lines[1].vat.to_vat() == lines[1].vat
    assert [line.to_line() for line in payload.lines] == list(lines)
