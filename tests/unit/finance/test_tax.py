"""EN 16931 VAT: totals that tie, tax rounded per category, categories with what they require,
and the VAT of a line chosen by configuration."""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ltc.finance.domain.tax import (
    DEFAULT_TAX_RULES,
    InvoiceTotals,
    TaxCategory,
    TaxedLine,
    TaxRules,
    Vat,
    tax_of,
)
from ltc.shared.money import Money, minor_unit_exponent
from ltc.shared.rules import RuleViolation

VATS = [Vat(TaxCategory.STANDARD, Decimal("19")), Vat(TaxCategory.STANDARD, Decimal("7")),
        Vat(TaxCategory.STANDARD, Decimal("5.5")), Vat(TaxCategory.ZERO, Decimal(0)),
        Vat(TaxCategory.EXEMPT, Decimal(0), "Exempt under article 135"),
        Vat(TaxCategory.REVERSE_CHARGE, Decimal(0), "Reverse charge"),
        Vat(TaxCategory.EXPORT, Decimal(0), "Export"), Vat(TaxCategory.OUT_OF_SCOPE, None, "Not subject to VAT")]


@st.composite
def invoices(draw):
    currency = draw(st.sampled_from(["EUR", "JPY", "BHD"]))
    quantum = Decimal(1).scaleb(-minor_unit_exponent(currency))
    # Lines outside the scope of VAT are invoiced on their own (BR-O-11): an invoice is of O lines or of none.
    pool = draw(st.sampled_from([VATS[:-1], VATS[-1:]]))
    lines = [TaxedLine(Money(Decimal(draw(st.integers(0, 10**10))) * quantum, currency), draw(st.sampled_from(pool)))
             for _ in range(draw(st.integers(1, 30)))]
    return lines, currency, quantum


@settings(max_examples=400, deadline=None)
@given(invoices(), st.integers(0, 100))
def test_the_totals_tie_exactly(invoice, paid_percent):
    lines, currency, quantum = invoice
    net = sum((line.net.amount for line in lines), Decimal(0))
    paid = Money((net * paid_percent / 100).quantize(quantum, rounding="ROUND_DOWN"), currency)
    totals = InvoiceTotals.of(lines, paid=paid, buyer_tax_id="DE811907980")
    assert totals.net.amount == net  # BR-CO-10: the sum of the lines' nets
    assert sum((row.taxable.amount for row in totals.breakdown), Decimal(0)) == net
    assert totals.tax.amount == sum((row.tax.amount for row in totals.breakdown), Decimal(0))  # BR-CO-14
    assert totals.gross.amount == totals.net.amount + totals.tax.amount  # BR-CO-15
    assert totals.payable.amount == totals.gross.amount - paid.amount  # BR-CO-16
    assert len({(row.category, row.rate) for row in totals.breakdown}) == len(totals.breakdown)


@settings(max_examples=400, deadline=None)
@given(invoices())
def test_tax_is_rounded_once_per_category_and_rate_not_per_line(invoice):
    lines, currency, quantum = invoice
    totals = InvoiceTotals.of(lines, buyer_tax_id="DE811907980")
    for row in totals.breakdown:
        exact = row.taxable.amount * (row.rate or 0) / 100
        assert row.tax.amount == exact.quantize(quantum, rounding=ROUND_HALF_UP)
        assert abs(row.tax.amount - exact) <= quantum / 2


def test_many_small_lines_owe_what_one_line_of_their_sum_would():
    cents = [TaxedLine(Money(Decimal("0.02"), "EUR"), Vat(TaxCategory.STANDARD, Decimal("19")))] * 10
    assert InvoiceTotals.of(cents).tax == Money(Decimal("0.04"), "EUR")  # 0.20 x 19 %, not 10 x 0.00
    assert tax_of(Money(Decimal("0.20"), "EUR"), Decimal("19")) == Money(Decimal("0.04"), "EUR")


@pytest.mark.parametrize(("vat", "field"), [
    (Vat(TaxCategory.STANDARD, None), "lines[0].vat.rate"),
    (Vat(TaxCategory.STANDARD, Decimal(0)), "lines[0].vat.rate"),
    (Vat(TaxCategory.EXEMPT, Decimal(0)), "lines[0].vat.exemption_reason"),
    (Vat(TaxCategory.ZERO, Decimal(7)), "lines[0].vat.rate"),
    (Vat(TaxCategory.OUT_OF_SCOPE, Decimal(0), "n/a"), "lines[0].vat.rate"),
    (Vat(TaxCategory.STANDARD, Decimal(1000)), "lines[0].vat.rate"),
    (Vat(TaxCategory.STANDARD, Decimal("10") ** 30), "lines[0].vat.rate"),
    (Vat(TaxCategory.STANDARD, Decimal("19.001")), "lines[0].vat.rate"),
])
def test_a_category_without_what_it_requires_is_refused_naming_the_field(vat, field):
    with pytest.raises(RuleViolation) as refused:
        InvoiceTotals.of([TaxedLine(Money(Decimal("10.00"), "EUR"), vat)])
    assert refused.value.rule == "tax-category-incomplete" and field in {e["field"] for e in refused.value.errors}


def test_reverse_charge_needs_the_buyers_vat_id():
    line = TaxedLine(Money(Decimal("10.00"), "EUR"), Vat(TaxCategory.REVERSE_CHARGE, Decimal(0), "Reverse charge"))
    with pytest.raises(RuleViolation) as refused:
        InvoiceTotals.of([line])
    assert refused.value.rule == "reverse-charge-without-buyer-tax-id"
    assert refused.value.errors == [{"field": "buyer.tax_id", "message": "required by categories AE and K"}]


@pytest.mark.parametrize(("buyer", "tax_id", "supply", "category", "rate"), [
    ("DE", None, "services", "S", "19"),
    ("FR", "FR40303265045", "services", "AE", "0"),
    ("FR", "FR40303265045", "goods", "K", "0"),
    ("FR", None, "goods", "S", "19"),
    ("US", None, "goods", "G", "0"),
    ("CN", "91110000", "services", "G", "0"),
])
def test_the_built_in_rules_of_a_german_seller(buyer, tax_id, supply, category, rate):
    vat = TaxRules.from_json(DEFAULT_TAX_RULES).vat_for(seller_country="DE", buyer_country=buyer,
                                                         buyer_tax_id=tax_id, supply=supply)
    assert (vat.category.value, vat.rate) == (category, Decimal(rate))


def test_rules_are_data_a_new_rate_needs_no_code():
    french = {"rules": [{"seller_country": "FR", "same_country": True, "category": "S", "rate": "20"},
                        {"category": "O"}]}
    with pytest.raises(RuleViolation) as invalid:
        TaxRules.from_json(french)  # O bears no rate but needs the reason it is outside the scope
    assert invalid.value.rule == "tax-rules-invalid"
    french["rules"][1]["exemption_reason"] = "Outside the scope of VAT"
    rules = TaxRules.from_json(french)
    assert rules.vat_for(seller_country="FR", buyer_country="FR", buyer_tax_id=None, supply="goods").rate == 20
    with pytest.raises(RuleViolation) as unknown:
        TaxRules.from_json({"rules": [{"category": "X", "rate": "1"}]})
    assert unknown.value.errors[0]["field"] == "rules.0"
    with pytest.raises(RuleViolation) as uncovered:
        TaxRules.from_json({"rules": [{"seller_country": "FR", "category": "S", "rate": "20"}]}).vat_for(
            seller_country="DE", buyer_country="DE", buyer_tax_id=None, supply="goods")
    assert uncovered.value.rule == "no-tax-rule"


def test_lines_outside_the_scope_of_vat_are_invoiced_on_their_own():
    outside = TaxedLine(Money(Decimal("10.00"), "EUR"), Vat(TaxCategory.OUT_OF_SCOPE, None, "not a supply"))
    standard = TaxedLine(Money(Decimal("10.00"), "EUR"), Vat(TaxCategory.STANDARD, Decimal("19")))
    assert InvoiceTotals.of([outside]).tax == Money(Decimal("0.00"), "EUR")
    with pytest.raises(RuleViolation) as refused:
        InvoiceTotals.of([outside, standard])
    assert refused.value.rule == "out-of-scope-mixed"
