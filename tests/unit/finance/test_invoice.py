"""Invoices and the credit notes that correct them."""

from datetime import date

import pytest

from ltc.finance.domain.invoice import InvoiceStatus, invoice_number
from ltc.shared.errors import RuleViolation
from ltc.shared.messages.finance_events import (
    ContractFullyPaid,
    InvoiceCredited,
    InvoicePaid,
)
from tests.unit.finance.samples import (
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
