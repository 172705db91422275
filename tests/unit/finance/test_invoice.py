"""Invoices and the credit notes that correct them."""

import uuid
from datetime import date
from decimal import ROUND_DOWN, Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from stdnum import iso11649

from ltc.finance.domain.invoice import InvoiceStatus, creditor_reference, invoice_number
from ltc.finance.domain.lines import NO_BILL, LineCredit
from ltc.finance.domain.tax import tax_of
from ltc.shared.errors import RuleViolation
from ltc.shared.lines import SalesLine, TaxCategory, Vat
from ltc.shared.messages.finance_events import (
    ContractFullyPaid,
    InvoiceCredited,
    InvoicePaid,
)
from tests.unit.finance.samples import (
    NOW,
    SIGNED,
    a_plan,
    amendable,
    credit,
    eur,
    issue_due,
    pay,
    schedule_line,
)


def test_invoice_numbers_are_per_year_and_zero_padded():
    assert invoice_number(2026, 1) == "INV-2026-000001"
    assert invoice_number(2027, 123456) == "INV-2027-123456"


# -- credit notes ----------------------------------------------------------------------------------


def test_a_credit_note_reduces_what_is_open_and_emits_invoice_credited():
    plan, [advance] = amendable()
    note = credit(plan, advance, eur("50.00"))
    assert advance.open_amount == eur("250.00") and advance.status is InvoiceStatus.ISSUED
    assert plan.credited == eur("50.00") and plan.open_balance == eur("250.00")
    assert advance.amount == eur("300.00"), "the issued invoice itself is never changed"
    [credited] = note.events
    assert isinstance(credited, InvoiceCredited)
    assert credited.invoice_open_amount.to_money() == eur("250.00")


def test_a_fully_credited_invoice_is_credited_not_paid():
    plan, [advance] = amendable()
    credit(plan, advance, eur("300.00"))
    assert advance.status is InvoiceStatus.CREDITED and advance.paid_on is None
    assert not [e for e in advance.events if isinstance(e, InvoicePaid)]


@pytest.mark.parametrize(("amount", "rule"), [("300.01", "credit-exceeds-open-amount"),
                                              ("0.00", "credit-amount-not-positive"),
                                              ("-1.00", "credit-amount-not-positive")])
def test_a_credit_note_is_for_a_positive_amount_at_most_what_is_open(amount, rule):
    plan, [advance] = amendable()
    with pytest.raises(RuleViolation) as failure:
        credit(plan, advance, eur(amount))
    assert failure.value.rule == rule
    assert advance.credited == eur("0.00")


def test_crediting_the_rest_of_a_partly_paid_invoice_settles_it_and_can_finish_the_contract():
    plan = a_plan([schedule_line("all", "100", "1000.00")])
    [invoice] = issue_due(plan)
    pay([plan], [invoice], eur("990.00"), contract_id=plan.contract_id)
    assert plan.fully_paid_on is None
    credit(plan, invoice, eur("10.00"), on=date(2026, 12, 20))
    assert invoice.status is InvoiceStatus.PAID
    [fully_paid] = [e for e in plan.events if isinstance(e, ContractFullyPaid)]
    assert fully_paid.collected.to_money() == eur("990.00")
    assert fully_paid.credited is not None and fully_paid.credited.to_money() == eur("10.00")
    assert fully_paid.fully_paid_on == date(2026, 12, 20)


# -- credit notes by line ---------------------------------------------------------------------------

STANDARD = Vat(TaxCategory.STANDARD, Decimal(19))
REDUCED = Vat(TaxCategory.STANDARD, Decimal(7))
TRAINING = Vat(TaxCategory.EXEMPT, Decimal(0), "exempt training")
BY_CODE = {"HW": STANDARD, "BOOK": REDUCED, "TRN": TRAINING}


def _taxed_invoice(prices: list[tuple[str, str, str]]):
    """One invoice of the whole value, each line's VAT by its code (19%, 7%, exempt)."""
    lines = [SalesLine(i + 1, code, Decimal(quantity), "C62", eur(price), code=code)
             for i, (code, quantity, price) in enumerate(prices)]
    value = sum((line.net for line in lines), eur("0"))
    plan = a_plan([schedule_line("all", "100", value)], value, lines=lines)
    [invoice] = issue_due(plan, vat_of=lambda line: BY_CODE[line.code])
    invoice.bill_to = {"tax_id": "DE268954716"}
    return plan, invoice


def _note(plan, invoice, **what):
    return invoice.credit(credit_note_id=uuid.uuid4(), number="CN-T", reason="correction", issue_date=SIGNED,
                          issued_by="clerk", plan=plan, now=NOW, **what)


@st.composite
def credits_in_parts(draw):
    prices = [(draw(st.sampled_from(sorted(BY_CODE))), str(draw(st.integers(1, 50))),
               f"{draw(st.integers(1, 10**6)) / 100:.2f}") for _ in range(draw(st.integers(1, 5)))]
    steps = draw(st.lists(st.tuples(st.integers(0, 4), st.integers(1, 100), st.booleans()), min_size=0,
                          max_size=6))
    return prices, steps


@settings(max_examples=200, deadline=None)
@given(credits_in_parts())
def test_an_invoice_credited_in_parts_gives_back_exactly_its_net_and_vat(case):
    """Each credit note's VAT is its own rows' rounding; the one that finishes a row takes back
    exactly what is left of that row's VAT, so the notes together return the invoice to the cent."""
    prices, steps = case
    plan, invoice = _taxed_invoice(prices)
    notes = []
    for pick, percent, by_net in steps:
        line = invoice.lines[pick % len(invoice.lines)]
        done = invoice.credited_lines().get(line.position, NO_BILL)
        left, left_net = line.quantity - done.quantity, line.net - done.net
        if by_net:  # a price reduction of part of what is left
            net = (left_net * percent / 100).quantize(Decimal("0.01"), rounding=ROUND_DOWN)
            if net <= 0:
                continue
            credit = LineCredit(line.position, net=net)
        else:
            quantity = (left * percent / 100).quantize(Decimal("0.001"), rounding=ROUND_DOWN)
            if quantity <= 0 or (left_net * quantity / left).quantize(Decimal("0.01"), ROUND_DOWN) == 0:
                continue  # worth less than a cent: refused (test_..._by_lines_not_by_an_amount)
            credit = LineCredit(line.position, quantity=quantity)
        note = _note(plan, invoice, lines=[credit])
        assert all(x.net <= left_net for x in note.lines), "never more than is left of the line"
        assert note.amount == note.net + note.tax
        assert all(row.tax.amount >= 0 for row in note.tax_breakdown)
        assert all(abs(row.tax.amount - tax_of(row.taxable, row.rate).amount) <= Decimal("0.01")
                   for row in note.tax_breakdown), "within what EN 16931 allows of its own rounding"
        assert sum((x.net for x in note.lines), Decimal(0)) == note.net.amount
        notes.append(note)
    if not invoice.open_amount.is_zero():
        notes.append(_note(plan, invoice))  # the rest, whole
    assert sum((n.amount for n in notes), eur("0")) == invoice.amount
    assert sum((n.tax for n in notes), eur("0")) == invoice.tax
    for line in invoice.lines:
        credited = [x for n in notes for x in n.lines if x.position == line.position]
        assert sum((x.net for x in credited), Decimal(0)) == line.net
        assert sum((x.quantity for x in credited), Decimal(0)) == line.quantity
    assert invoice.status is InvoiceStatus.CREDITED and invoice.open_amount.is_zero()


def test_an_invoice_bearing_vat_is_credited_by_lines_not_by_an_amount():
    plan, invoice = _taxed_invoice([("HW", "2", "100.00"), ("TRN", "1", "50.00")])
    assert (invoice.net, invoice.tax, invoice.amount) == (eur("250.00"), eur("38.00"), eur("288.00"))
    with pytest.raises(RuleViolation) as refused:
        _note(plan, invoice, amount=eur("10.00"))
    assert refused.value.rule == "credit-by-lines"
    note = _note(plan, invoice, lines=[LineCredit(1, net=Decimal("10.00"))])
    assert (note.net, note.tax, note.amount) == (eur("10.00"), eur("1.90"), eur("11.90"))
    assert [(x.position, x.quantity, x.vat) for x in note.lines] == [(1, Decimal("0.100000"), STANDARD)]
    for bad, rule in (([LineCredit(3)], "credit-line-unknown"), ([LineCredit(1), LineCredit(1)], "credit-line-unknown"),
                      ([LineCredit(2, quantity=Decimal(2))], "credit-exceeds-line"),
                      ([LineCredit(1, net=Decimal("190.01"))], "credit-exceeds-line"),
                      ([LineCredit(1, quantity=Decimal(1), net=Decimal(1))], "credit-line-invalid"),
                      ([LineCredit(1, quantity=Decimal("0.00001"))], "credit-exceeds-line"),
                      ([LineCredit(1, net=Decimal("1.00"), currency="JPY")], "credit-line-invalid")):
        with pytest.raises(RuleViolation) as refused:
            _note(plan, invoice, lines=bad)
        assert refused.value.rule == rule, bad


def test_an_invoice_bearing_no_vat_may_still_be_credited_an_amount_spread_over_its_lines():
    plan, invoice = _taxed_invoice([("TRN", "3", "100.00"), ("TRN", "1", "0.01")])
    note = _note(plan, invoice, amount=eur("100.00"))
    assert [(x.position, x.net) for x in note.lines] == [(1, Decimal("100.00"))]
    assert note.amount == eur("100.00") and note.tax == eur("0.00")


def test_an_invoice_carries_an_iso_11649_creditor_reference_made_of_its_number():
    assert creditor_reference("INV-2026-000001") == "RF94INV2026000001"
    assert iso11649.is_valid(creditor_reference("INV-2027-123456"))
    [invoice] = issue_due(a_plan([schedule_line("all", "100", "1000.00")]))
    assert invoice.payment_reference == creditor_reference(invoice.number)
    assert invoice.events[0].payment_reference == invoice.payment_reference
