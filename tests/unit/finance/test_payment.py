"""Payments: application to invoices oldest due first, unapplied cash and its later application."""

import uuid
from datetime import date
from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ltc.finance.domain.invoice import InvoiceStatus
from ltc.finance.domain.payment import allocate
from ltc.shared.errors import DomainError, RuleViolation
from ltc.shared.messages import Lineage
from ltc.shared.messages.finance_events import (
    ContractFullyPaid,
    InvoiceIssued,
    InvoicePaid,
    PaymentApplied,
    PaymentReceived,
)
from ltc.shared.money import Money
from tests.unit.finance.samples import (
    LATER,
    MILLION,
    NOW,
    PAC,
    SIGNED,
    a_plan,
    amendable,
    credit,
    eur,
    export,
    issue_due,
    issue_one,
    next_number,
    pay,
    pay_contract,
    schedule_line,
)


def test_allocation_pays_the_oldest_due_invoice_first_and_keeps_the_surplus():
    plan = a_plan([schedule_line("a", "50", eur("500.00"), due_days=60),
                                  schedule_line("b", "50", eur("500.00"), due_days=10)], eur("1000.00"))
    late, early = issue_one(plan, 0), issue_one(plan, 1)
    applications, unapplied = allocate(eur("700.00"), [late, early])
    assert [(i, m) for i, m in applications] == [(early, eur("500.00")), (late, eur("200.00"))]
    assert unapplied == eur("0.00")
    applications, unapplied = allocate(eur("1200.00"), [late, early])
    assert unapplied == eur("200.00")


def test_a_partial_payment_leaves_the_invoice_partially_paid():
    plan = a_plan(value=MILLION)
    invoice = issue_one(plan, 0)
    payment = pay_contract(plan, [invoice], eur("100000.00"), invoice_id=invoice.id)
    assert invoice.status is InvoiceStatus.PARTIALLY_PAID
    assert invoice.open_amount == eur("200000.00")
    assert payment.unapplied == eur("0")
    assert plan.collected == eur("100000.00") and plan.open_balance == eur("200000.00")
    assert not [e for e in invoice.events if isinstance(e, InvoicePaid)]
    [received] = payment.events
    assert isinstance(received, PaymentReceived)
    assert [(a.invoice_id, a.amount.to_money()) for a in received.applications] == [(invoice.id, eur("100000.00"))]


def test_an_overpayment_of_the_named_invoice_is_held_unapplied_and_pays_nothing_else():
    plan = a_plan([schedule_line("a", "50", eur("500.00")), schedule_line("b", "50", eur("500.00"))], eur("1000.00"))
    first, second = issue_one(plan, 0), issue_one(plan, 1)
    payment = pay_contract(plan, [first, second], eur("650.00"), invoice_id=first.id)
    assert first.status is InvoiceStatus.PAID and first.paid_on == date(2026, 12, 1)
    assert second.status is InvoiceStatus.ISSUED
    assert payment.applied == eur("500.00") and payment.unapplied == eur("150.00")
    assert [type(e) for e in first.events] == [InvoiceIssued, InvoicePaid]


def test_a_payment_in_another_currency_is_refused():
    plan = a_plan(value=MILLION)
    invoice = issue_one(plan, 0)
    with pytest.raises(RuleViolation) as failure:
        pay_contract(plan, [invoice], Money(Decimal("100"), "USD"))
    assert failure.value.rule == "currency-mismatch"
    assert invoice.paid == eur("0")


@pytest.mark.parametrize("amount", ["0", "-5.00"])
def test_a_payment_must_be_positive(amount):
    plan = a_plan(value=MILLION)
    with pytest.raises(RuleViolation) as failure:
        pay_contract(plan, [issue_one(plan, 0)], eur(amount))
    assert failure.value.rule == "payment-amount-not-positive"


def test_a_named_invoice_must_belong_to_the_contract():
    plan = a_plan(value=MILLION)
    with pytest.raises(RuleViolation) as failure:
        pay_contract(plan, [issue_one(plan, 0)], eur("10.00"), invoice_id=uuid.uuid4())
    assert failure.value.rule == "invoice-not-of-contract"


def test_cash_beyond_the_invoiced_amount_is_not_collected():
    plan = a_plan(value=MILLION)
    invoice = issue_one(plan, 0)
    payment = pay_contract(plan, [invoice], eur("1000000.00"))
    assert payment.unapplied == eur("700000.00")
    assert plan.collected == eur("300000.00") and plan.fully_paid_on is None


@st.composite
def _plans_and_payments(draw):
    currency = draw(st.sampled_from(["EUR", "JPY", "BHD"]))
    exponent = {"EUR": 2, "JPY": 0, "BHD": 3}[currency]
    quantum = Decimal(1).scaleb(-exponent)
    minor = draw(st.integers(min_value=100, max_value=10**9))
    value = Money(Decimal(minor) * quantum, currency)
    cuts = sorted(draw(st.sets(st.integers(min_value=1, max_value=99), max_size=4)))
    percents = [Decimal(b - a) for a, b in zip([0, *cuts], [*cuts, 100])]
    payments = draw(st.lists(
        st.tuples(st.integers(min_value=1, max_value=minor), st.one_of(st.none(), st.integers(0, len(percents) - 1))),
        min_size=1, max_size=12,
    ))
    invoiced = draw(st.lists(st.booleans(), min_size=len(percents), max_size=len(percents)))
    return value, percents, invoiced, [(Money(Decimal(m) * quantum, currency), target) for m, target in payments]


@settings(max_examples=300, deadline=None)
@given(_plans_and_payments())
def test_any_sequence_of_payments_is_fully_accounted_and_never_overpays_an_invoice(case):
    value, percents, invoiced, payments = case
    parts = value.split(percents)
    plan = a_plan([schedule_line(f"part {i}", str(p), part) for i, (p, part) in enumerate(zip(percents, parts))], value)
    invoices = [issue_one(plan, i) for i, billed in enumerate(invoiced) if billed]
    zero = Money.zero(value.currency)
    for amount, target in payments:
        invoice_id = invoices[target % len(invoices)].id if target is not None and invoices else None
        payment = pay_contract(plan, invoices, amount, invoice_id=invoice_id)
        assert payment.applied + payment.unapplied == amount
        assert zero <= payment.unapplied
    for invoice in invoices:
        assert zero <= invoice.open_amount and invoice.paid <= invoice.amount
        assert (invoice.status is InvoiceStatus.PAID) == invoice.open_amount.is_zero()
    assert plan.collected == sum((i.paid for i in invoices), zero)
    assert plan.collected <= plan.invoiced <= plan.value
    assert (plan.fully_paid_on is not None) == (plan.collected == plan.value)
    assert len([e for e in plan.events if isinstance(e, ContractFullyPaid)]) == (1 if plan.fully_paid_on else 0)


# -- account-level cash and unapplied cash ---------------------------------------------------------


def test_an_account_payment_pays_oldest_due_first_across_contracts_and_holds_the_rest():
    account = uuid.uuid4()
    late = a_plan([schedule_line("all", "100", "500.00", due_days=60)], "500.00", account_id=account)
    early = a_plan([schedule_line("all", "100", "400.00", due_days=10)], "400.00", account_id=account)
    [late_invoice], [early_invoice] = issue_due(late), issue_due(early)
    payment = pay([late, early], [late_invoice, early_invoice], eur("1000.00"), account_id=account)
    assert [(a.invoice_id, a.amount) for a in payment.applications] == [
        (early_invoice.id, Decimal("400.00")), (late_invoice.id, Decimal("500.00"))]
    assert payment.unapplied == eur("100.00") and payment.account_id == account
    assert payment.events[0].lineage == Lineage(), "one payment for two contracts belongs to neither flow"
    assert early.fully_paid_on == late.fully_paid_on == date(2026, 12, 1)


def test_a_payment_in_a_currency_the_account_is_not_billed_in_is_refused():
    plan = a_plan([schedule_line("all", "100", "1000.00")])
    with pytest.raises(RuleViolation) as failure:
        pay([plan], issue_due(plan), Money(Decimal("10"), "USD"), account_id=plan.account_id)
    assert failure.value.rule == "currency-mismatch"


def test_unapplied_cash_is_applied_later_to_a_new_invoice():
    plan, [advance] = amendable()
    payment = pay([plan], [advance], eur("500.00"), contract_id=plan.contract_id)
    assert payment.unapplied == eur("200.00")
    with pytest.raises(DomainError) as failure:
        payment.apply_unapplied(invoices=[advance], plans={plan.contract_id: plan}, invoice_id=None,
                                on=date(2027, 3, 1), by="clerk", today=LATER)
    assert failure.value.rule == "nothing-to-apply"
    [pac] = plan.accept_milestone(PAC)
    invoices = [advance, *issue_due(plan, date(2027, 3, 1))]
    applied = payment.apply_unapplied(invoices=invoices, plans={plan.contract_id: plan}, invoice_id=None,
                                      on=date(2027, 3, 2), by="clerk-2", today=LATER)
    assert [(i.instalment, m) for i, m in applied] == [("pac", eur("200.00"))]
    assert payment.unapplied == eur("0.00") and payment.applied == eur("500.00")
    assert [(a.applied_on, a.applied_by, a.at_receipt) for a in payment.applications] == [
        (date(2026, 12, 1), "clerk", True), (date(2027, 3, 2), "clerk-2", False)]
    assert isinstance(payment.events[-1], PaymentApplied)
    with pytest.raises(DomainError) as failure:
        payment.apply_unapplied(invoices=invoices, plans={plan.contract_id: plan}, invoice_id=None,
                                on=date(2027, 3, 3), by="clerk", today=LATER)
    assert failure.value.rule == "no-unapplied-cash"


def test_cash_is_not_applied_before_it_was_received():
    plan, [advance] = amendable()
    payment = pay([plan], [], eur("100.00"), contract_id=plan.contract_id)
    with pytest.raises(RuleViolation) as failure:
        payment.apply_unapplied(invoices=[advance], plans={plan.contract_id: plan}, invoice_id=advance.id,
                                on=date(2026, 11, 30), by="clerk", today=LATER)
    assert failure.value.rule == "application-before-receipt"


def test_held_cash_is_not_applied_on_a_day_not_yet_come():
    plan, [advance] = amendable()
    payment = pay([plan], [advance], eur("500.00"), contract_id=plan.contract_id)
    [pac] = plan.accept_milestone(PAC)
    invoices = [advance, *issue_due(plan, date(2027, 3, 1))]
    with pytest.raises(RuleViolation) as future:
        payment.apply_unapplied(invoices=invoices, plans={plan.contract_id: plan}, invoice_id=None,
                                on=date(2027, 3, 3), by="clerk", today=date(2027, 3, 1))
    assert (future.value.rule, future.value.errors[0]["field"]) == ("date-in-future", "applied_on")
    assert payment.unapplied == eur("200.00") and len(payment.applications) == 1
    payment.apply_unapplied(invoices=invoices, plans={plan.contract_id: plan}, invoice_id=None,
                            on=date(2027, 3, 2), by="clerk", today=date(2027, 3, 1))  # a day ahead in UTC
    assert payment.unapplied == eur("0.00")


@st.composite
def _cash_events(draw):
    steps = draw(st.lists(st.tuples(
        st.sampled_from(["pay-account", "pay-invoice", "pay-contract", "apply-later", "credit", "accept"]),
        st.integers(min_value=1, max_value=150_000), st.integers(min_value=0, max_value=10)), min_size=1, max_size=25))
    return steps


@settings(max_examples=300, deadline=None)
@given(_cash_events())
def test_any_sequence_of_payments_credits_and_later_applications_keeps_the_books_consistent(steps):
    account = uuid.uuid4()
    plans = [a_plan([schedule_line("advance", "40", "400.00", due_days=days),
                     schedule_line("pac", "60", "600.00", milestone=PAC)],
                   account_id=account) for days in (10, 40)]
    by_contract = {p.contract_id: p for p in plans}
    invoices = [i for p in plans for i in issue_due(p)]
    payments = []
    for kind, cents, pick in steps:
        amount = Money(Decimal(cents).scaleb(-2), "EUR")
        target = invoices[pick % len(invoices)]
        if kind == "accept":
            plan = plans[pick % 2]
            invoices += [plan.invoice(i, invoice_id=uuid.uuid4(), number=f"X{next_number()}", issue_date=SIGNED,
                                      now=NOW, vat_of=export) for i in plan.accept_milestone(PAC)]
        elif kind == "credit" and not target.open_amount.is_zero():
            share = min(amount, target.open_amount)
            credit(by_contract[target.contract_id], target, share)
        elif kind == "apply-later":
            holding = [p for p in payments if not p.unapplied.is_zero()]
            if holding and any(i.is_open for i in invoices):
                holding[pick % len(holding)].apply_unapplied(invoices=invoices, plans=by_contract, invoice_id=None,
                                                             on=date(2027, 1, 1), by="clerk", today=LATER)
        elif kind.startswith("pay"):
            payments.append(pay(plans, invoices, amount, account_id=account,
                                 invoice_id=target.id if kind == "pay-invoice" else None))
        for payment in payments:
            assert payment.applied + payment.unapplied == payment.amount
            assert not payment.unapplied.amount < 0
        for invoice in invoices:
            assert invoice.open_amount == invoice.amount - invoice.paid - invoice.credited
            assert not invoice.open_amount.amount < 0
            assert invoice.is_open == (invoice.status in (InvoiceStatus.ISSUED, InvoiceStatus.PARTIALLY_PAID))
    zero = eur("0")
    applied = sum((p.applied for p in payments), zero)
    assert applied == sum((i.paid for i in invoices), zero) == sum((p.collected for p in plans), zero)
    for plan in plans:
        mine = [i for i in invoices if i.contract_id == plan.contract_id]
        assert plan.open_balance == plan.invoiced - plan.collected - plan.credited
        assert plan.open_balance == sum((i.open_amount for i in mine), zero)
        assert (plan.fully_paid_on is not None) == (plan.fully_settled and not plan.collected.is_zero())


# -- one bank reference, one bank payment --------------------------------------------------------

def test_a_receipt_citing_a_known_bank_reference_is_that_payment_only_with_the_same_facts():
    plan = a_plan(value=MILLION)
    payment = pay_contract(plan, [issue_one(plan, 0)], eur("100.00"))
    payment.require_same_receipt(amount=eur("100.00"), payer=" acme ", value_date=date(2026, 12, 1))
    with pytest.raises(DomainError) as failure:
        payment.require_same_receipt(amount=eur("90.00"), payer="Globex", value_date=date(2026, 12, 1))
    assert failure.value.rule == "bank-reference-conflict" and str(payment.id) in failure.value.detail
    assert [(e["field"], e["recorded"]) for e in failure.value.errors] == [("amount.amount", "100.00"),
                                                                          ("payer", "ACME")]
