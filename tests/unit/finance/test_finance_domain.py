"""The cash rules on the plain domain objects: billing plans, invoicing, payment application."""

import uuid
from datetime import UTC, date, datetime, time
from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ltc.finance.domain.model import (
    BillingPlan,
    InstalmentStatus,
    InstalmentTerms,
    Invoice,
    InvoiceStatus,
    PaymentTarget,
    Trigger,
    allocate,
    invoice_number,
    receive_payment,
)
from ltc.shared.errors import DomainError, RuleViolation
from ltc.shared.messages import Lineage
from ltc.shared.messages.finance_events import ContractFullyPaid, InvoiceIssued, InvoicePaid, PaymentReceived
from ltc.shared.money import Money

NOW = datetime(2026, 11, 20, 9, 0, tzinfo=UTC)


def _recorded_on(value_date: date) -> datetime:
    """A receipt is recorded on the day its cash arrived: its value date is never in the future."""
    return datetime.combine(value_date, time(17, 0), UTC)
PAC, FAC = uuid.uuid4(), uuid.uuid4()
LINEAGE = Lineage(lead_id=uuid.uuid4(), opportunity_id=uuid.uuid4())


def eur(amount: str) -> Money:
    return Money(Decimal(amount), "EUR")


def _terms(name: str, percent: str, amount: Money, milestone_id: uuid.UUID | None = None,
           due_days: int = 30) -> InstalmentTerms:
    trigger = Trigger.MILESTONE if milestone_id else Trigger.SIGNING
    return InstalmentTerms(name, Decimal(percent), amount, trigger, milestone_id, due_days)


def _standard_schedule(value: Money) -> list[InstalmentTerms]:
    advance, preliminary, final = value.split([Decimal(30), Decimal(60), Decimal(10)])
    return [_terms("advance", "30", advance), _terms("preliminary acceptance", "60", preliminary, PAC, 45),
            _terms("final acceptance", "10", final, FAC, 45)]


def _plan(value: Money = eur("1000000.00"), schedule: list[InstalmentTerms] | None = None) -> BillingPlan:
    return BillingPlan(id=uuid.uuid4(), contract_id=uuid.uuid4(), account_id=uuid.uuid4(), lineage=LINEAGE,
                       signed_on=date(2026, 11, 20), value=value,
                       schedule=_standard_schedule(value) if schedule is None else schedule, now=NOW)


_numbers = iter(range(1, 1_000_000))


def _invoice(plan: BillingPlan, instalment_index: int, issue_date: date = date(2026, 11, 20)) -> Invoice:
    return plan.invoice(plan.instalments[instalment_index], invoice_id=uuid.uuid4(),
                        number=invoice_number(2026, next(_numbers)), issue_date=issue_date, now=NOW)


def _pay(plan: BillingPlan, invoices: list[Invoice], amount: Money, *, invoice_id: uuid.UUID | None = None,
         value_date: date = date(2026, 12, 1)):
    return receive_payment(payment_id=uuid.uuid4(), bank_reference=f"BANK-{uuid.uuid4().hex[:8]}", payer="ACME",
                           amount=amount, value_date=value_date, plans={plan.contract_id: plan}, invoices=invoices,
                           target=PaymentTarget(invoice_id, plan.contract_id, plan.account_id),
                           recorded_by="clerk", now=_recorded_on(value_date))


def test_invoice_numbers_are_per_year_and_zero_padded():
    assert invoice_number(2026, 1) == "INV-2026-000001"
    assert invoice_number(2027, 123456) == "INV-2027-123456"


def test_a_plan_has_one_planned_instalment_per_schedule_line():
    plan = _plan()
    assert [(i.name, i.amount, i.status) for i in plan.instalments] == [
        ("advance", Decimal("300000.00"), InstalmentStatus.PLANNED),
        ("preliminary acceptance", Decimal("600000.00"), InstalmentStatus.PLANNED),
        ("final acceptance", Decimal("100000.00"), InstalmentStatus.PLANNED),
    ]
    assert plan.invoiced == eur("0") and plan.collected == eur("0") and plan.open_balance == eur("0")


def test_instalments_must_add_up_exactly_to_the_contract_value():
    schedule = _standard_schedule(eur("1000000.00"))
    schedule[-1] = _terms("final acceptance", "10", eur("99999.99"), FAC)
    with pytest.raises(DomainError) as failure:
        _plan(eur("1000000.00"), schedule)
    assert failure.value.rule == "billing-plan-incomplete"


def test_a_split_that_does_not_divide_evenly_still_makes_a_complete_plan():
    value = Money(Decimal("100"), "JPY")
    parts = value.split([Decimal("33.33"), Decimal("33.33"), Decimal("33.34")])
    percents = ["33.33", "33.33", "33.34"]
    plan = _plan(value, [_terms(f"part {i}", p, part) for i, (p, part) in enumerate(zip(percents, parts))])
    assert sum(i.amount for i in plan.instalments) == Decimal(100)


@pytest.mark.parametrize(("schedule", "rule"), [
    ([], "billing-plan-empty"),
    ([_terms("all", "100", Money(Decimal("1000"), "USD"))], "currency-mismatch"),
    ([_terms("all", "100", eur("1000.00"), None), _terms("none", "0", eur("0"))], "instalment-amount-not-positive"),
    ([InstalmentTerms("all", Decimal(100), eur("1000.00"), Trigger.MILESTONE, None, 30)],
     "instalment-milestone-missing"),
    ([_terms("all", "100", eur("1000.00"), due_days=-1)], "instalment-due-days-negative"),
])
def test_a_schedule_that_cannot_be_billed_is_refused(schedule, rule):
    with pytest.raises(DomainError) as failure:
        _plan(eur("1000.00"), schedule)
    assert failure.value.rule == rule


def test_signing_and_milestones_pick_their_own_instalments():
    plan = _plan()
    assert [i.name for i in plan.invoiceable(date(2026, 11, 20))] == ["advance"]
    assert plan.accept_milestone(uuid.uuid4()) == []
    assert [i.name for i in plan.accept_milestone(PAC)] == ["preliminary acceptance"]
    assert [i.name for i in plan.invoiceable(date(2026, 11, 20))] == ["advance", "preliminary acceptance"]


def test_invoicing_an_instalment_issues_an_invoice_with_lineage_and_due_date():
    plan = _plan()
    invoice = _invoice(plan, 1, issue_date=date(2027, 3, 1))
    assert invoice.amount == eur("600000.00")
    assert invoice.due_date == date(2027, 4, 15)
    assert invoice.status is InvoiceStatus.ISSUED
    assert plan.instalments[1].status is InstalmentStatus.INVOICED
    assert plan.instalments[1].invoice_id == invoice.id
    assert plan.accept_milestone(PAC) == []
    assert plan.invoiced == eur("600000.00")
    [issued] = invoice.events
    assert isinstance(issued, InvoiceIssued)
    assert issued.lineage == Lineage(lead_id=LINEAGE.lead_id, opportunity_id=LINEAGE.opportunity_id,
                                     contract_id=plan.contract_id)
    assert issued.amount.to_money() == eur("600000.00")


def test_an_instalment_is_invoiced_only_once():
    plan = _plan()
    _invoice(plan, 0)
    with pytest.raises(DomainError) as failure:
        _invoice(plan, 0)
    assert failure.value.rule == "instalment-already-invoiced"


def test_allocation_pays_the_oldest_due_invoice_first_and_keeps_the_surplus():
    plan = _plan(eur("1000.00"), [_terms("a", "50", eur("500.00"), due_days=60),
                                  _terms("b", "50", eur("500.00"), due_days=10)])
    late, early = _invoice(plan, 0), _invoice(plan, 1)
    applications, unapplied = allocate(eur("700.00"), [late, early])
    assert [(i, m) for i, m in applications] == [(early, eur("500.00")), (late, eur("200.00"))]
    assert unapplied == eur("0.00")
    applications, unapplied = allocate(eur("1200.00"), [late, early])
    assert unapplied == eur("200.00")


def test_a_partial_payment_leaves_the_invoice_partially_paid():
    plan = _plan()
    invoice = _invoice(plan, 0)
    payment = _pay(plan, [invoice], eur("100000.00"), invoice_id=invoice.id)
    assert invoice.status is InvoiceStatus.PARTIALLY_PAID
    assert invoice.open_amount == eur("200000.00")
    assert payment.unapplied == eur("0")
    assert plan.collected == eur("100000.00") and plan.open_balance == eur("200000.00")
    assert not [e for e in invoice.events if isinstance(e, InvoicePaid)]
    [received] = payment.events
    assert isinstance(received, PaymentReceived)
    assert [(a.invoice_id, a.amount.to_money()) for a in received.applications] == [(invoice.id, eur("100000.00"))]


def test_an_overpayment_of_the_named_invoice_is_held_unapplied_and_pays_nothing_else():
    plan = _plan(eur("1000.00"), [_terms("a", "50", eur("500.00")), _terms("b", "50", eur("500.00"))])
    first, second = _invoice(plan, 0), _invoice(plan, 1)
    payment = _pay(plan, [first, second], eur("650.00"), invoice_id=first.id)
    assert first.status is InvoiceStatus.PAID and first.paid_on == date(2026, 12, 1)
    assert second.status is InvoiceStatus.ISSUED
    assert payment.applied == eur("500.00") and payment.unapplied == eur("150.00")
    assert [type(e) for e in first.events] == [InvoiceIssued, InvoicePaid]


def test_a_payment_in_another_currency_is_refused():
    plan = _plan()
    invoice = _invoice(plan, 0)
    with pytest.raises(RuleViolation) as failure:
        _pay(plan, [invoice], Money(Decimal("100"), "USD"))
    assert failure.value.rule == "currency-mismatch"
    assert invoice.paid == eur("0")


@pytest.mark.parametrize("amount", ["0", "-5.00"])
def test_a_payment_must_be_positive(amount):
    plan = _plan()
    with pytest.raises(RuleViolation) as failure:
        _pay(plan, [_invoice(plan, 0)], eur(amount))
    assert failure.value.rule == "payment-amount-not-positive"


def test_a_named_invoice_must_belong_to_the_contract():
    plan = _plan()
    with pytest.raises(RuleViolation) as failure:
        _pay(plan, [_invoice(plan, 0)], eur("10.00"), invoice_id=uuid.uuid4())
    assert failure.value.rule == "invoice-not-of-contract"


def test_the_contract_is_fully_paid_once_every_instalment_is_invoiced_and_collected():
    plan = _plan()
    invoices = [_invoice(plan, 0), _invoice(plan, 1)]
    _pay(plan, invoices, eur("900000.00"))
    assert plan.fully_paid_on is None and not plan.events
    invoices.append(_invoice(plan, 2))
    _pay(plan, invoices, eur("100000.00"), value_date=date(2027, 10, 1))
    assert plan.fully_paid_on == date(2027, 10, 1)
    [fully_paid] = plan.events
    assert isinstance(fully_paid, ContractFullyPaid)
    assert fully_paid.collected.to_money() == fully_paid.value.to_money() == eur("1000000.00")
    assert fully_paid.fully_paid_on == date(2027, 10, 1) and fully_paid.signed_on == plan.signed_on
    later = _pay(plan, invoices, eur("50.00"))
    assert later.unapplied == eur("50.00")
    assert len(plan.events) == 1


def test_cash_beyond_the_invoiced_amount_is_not_collected():
    plan = _plan()
    invoice = _invoice(plan, 0)
    payment = _pay(plan, [invoice], eur("1000000.00"))
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
    plan = _plan(value, [_terms(f"part {i}", str(p), part) for i, (p, part) in enumerate(zip(percents, parts))])
    invoices = [_invoice(plan, i) for i, billed in enumerate(invoiced) if billed]
    zero = Money.zero(value.currency)
    for amount, target in payments:
        invoice_id = invoices[target % len(invoices)].id if target is not None and invoices else None
        payment = _pay(plan, invoices, amount, invoice_id=invoice_id)
        assert payment.applied + payment.unapplied == amount
        assert zero <= payment.unapplied
    for invoice in invoices:
        assert zero <= invoice.open_amount and invoice.paid <= invoice.amount
        assert (invoice.status is InvoiceStatus.PAID) == invoice.open_amount.is_zero()
    assert plan.collected == sum((i.paid for i in invoices), zero)
    assert plan.collected <= plan.invoiced <= plan.value
    assert (plan.fully_paid_on is not None) == (plan.collected == plan.value)
    assert len([e for e in plan.events if isinstance(e, ContractFullyPaid)]) == (1 if plan.fully_paid_on else 0)
