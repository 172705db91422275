"""Amendments, credit notes, account-level cash, aging, dunning and journal lines on the plain domain."""

import uuid
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ltc.finance.domain.journal import AccountCodes, journal
from ltc.finance.domain.model import (
    BillingPlan,
    InstalmentStatus,
    InstalmentTerms,
    Invoice,
    InvoiceStatus,
    PaymentTarget,
    Trigger,
    check_schedule,
    invoice_number,
    receive_payment,
)
from ltc.finance.domain.receivables import (
    BUCKETS,
    Dunning,
    DunningLevel,
    OpenItem,
    OverdueInvoice,
    age,
    bucket_of,
    run_dunning,
)
from ltc.shared.errors import DomainError, RuleViolation
from ltc.shared.messages import Lineage
from ltc.shared.messages.finance_events import (
    ContractFullyPaid,
    InvoiceCredited,
    InvoiceOverdue,
    InvoicePaid,
    PaymentApplied,
)
from ltc.shared.money import Money

NOW = datetime(2026, 11, 20, 9, 0, tzinfo=UTC)
LATER = date(2028, 1, 1)  # "today" for a later application of cash: after every day the tests apply it on


def _recorded_on(value_date: date) -> datetime:
    """A receipt is recorded on the day its cash arrived: its value date is never in the future."""
    return datetime.combine(value_date, time(17, 0), UTC)
SIGNED = date(2026, 11, 20)
PAC = uuid.uuid4()
CODES = AccountCodes(receivable="1100", revenue="4000", cash="1000", unapplied_cash="2150")


def eur(amount: str) -> Money:
    return Money(Decimal(amount), "EUR")


def _line(name: str, percent: str, amount: str, *, milestone: uuid.UUID | None = None, due_days: int = 30,
          invoice_on: date | None = None, currency: str = "EUR") -> InstalmentTerms:
    trigger = Trigger.MILESTONE if milestone else Trigger.DATE if invoice_on else Trigger.SIGNING
    return InstalmentTerms(name, Decimal(percent), Money(Decimal(amount), currency), trigger, milestone, due_days,
                           invoice_on)


def _plan(schedule: list[InstalmentTerms], value: str = "1000.00", *, account_id: uuid.UUID | None = None,
          currency: str = "EUR") -> BillingPlan:
    return BillingPlan(id=uuid.uuid4(), contract_id=uuid.uuid4(), account_id=account_id or uuid.uuid4(),
                       lineage=Lineage(lead_id=uuid.uuid4(), opportunity_id=uuid.uuid4()), signed_on=SIGNED,
                       value=Money(Decimal(value), currency), schedule=schedule, now=NOW,
                       won_on=date(2026, 11, 1), lead_created_on=date(2026, 9, 1))


_numbers = iter(range(1, 10_000_000))


def _invoice_all(plan: BillingPlan, today: date = SIGNED) -> list[Invoice]:
    return [plan.invoice(i, invoice_id=uuid.uuid4(), number=invoice_number(today.year, next(_numbers)),
                         issue_date=today, now=NOW) for i in plan.invoiceable(today)]


def _pay(plans: list[BillingPlan], invoices: list[Invoice], amount: Money, *, invoice_id=None, contract_id=None,
         account_id=None, on: date = date(2026, 12, 1)):
    return receive_payment(payment_id=uuid.uuid4(), bank_reference=f"B-{uuid.uuid4().hex[:8]}", payer="ACME",
                           amount=amount, value_date=on, target=PaymentTarget(invoice_id, contract_id, account_id),
                           plans={p.contract_id: p for p in plans}, invoices=invoices, recorded_by="clerk",
                           now=_recorded_on(on))


def _credit(plan: BillingPlan, invoice: Invoice, amount: Money, on: date = date(2026, 12, 5)):
    return invoice.credit(credit_note_id=uuid.uuid4(), number=f"CN-{next(_numbers)}", amount=amount,
                          reason="wrong unit price", issue_date=on, issued_by="clerk", plan=plan, now=NOW)


# -- the billing plan's rounding rule ---------------------------------------------------------

@st.composite
def _percentages(draw):
    """Any 1..8 positive percentages with up to two decimals that sum to exactly 100."""
    cuts = sorted(draw(st.sets(st.integers(min_value=1, max_value=9_999), max_size=7)))
    return [Decimal(b - a) / 100 for a, b in zip([0, *cuts], [*cuts, 10_000], strict=True)]


@settings(max_examples=400, deadline=None)
@given(_percentages(), st.sampled_from(["EUR", "JPY", "BHD"]), st.integers(min_value=0, max_value=10**12))
def test_any_percentages_summing_to_100_split_any_amount_exactly(percents, currency, minor):
    value = Money(Decimal(minor).scaleb(-{"EUR": 2, "JPY": 0, "BHD": 3}[currency]), currency)
    parts = value.split(percents)
    assert sum((p.amount for p in parts), Decimal(0)) == value.amount
    quantum = Decimal(1).scaleb(-{"EUR": 2, "JPY": 0, "BHD": 3}[currency])
    for part, percent in zip(parts[:-1], percents[:-1], strict=True):
        exact = value.amount * percent / 100
        assert part.amount <= exact < part.amount + quantum  # rounded down to the minor unit
    if minor:
        schedule = [InstalmentTerms(f"part {i}", p, part, Trigger.SIGNING, None, 30)
                    for i, (p, part) in enumerate(zip(percents, parts, strict=True))]
        if all(not part.is_zero() for part in parts):
            check_schedule(value, schedule)


def test_the_remainder_of_rounding_goes_to_the_last_instalment():
    parts = eur("999999.99").split([Decimal(30), Decimal(60), Decimal(10)])
    assert [p.amount for p in parts] == [Decimal("299999.99"), Decimal("599999.99"), Decimal("100000.01")]


def test_stated_amounts_that_break_the_rounding_rule_are_refused():
    schedule = [_line("a", "30", "300.01"), _line("b", "70", "699.99")]
    with pytest.raises(DomainError) as failure:
        _plan(schedule)
    assert failure.value.rule == "instalment-amount-mismatch"


def test_percentages_that_do_not_add_up_to_100_are_refused_even_when_amounts_do():
    with pytest.raises(DomainError) as failure:
        _plan([_line("a", "30", "300.00"), _line("b", "60", "700.00")])
    assert failure.value.rule == "billing-plan-incomplete"


def test_instalment_names_are_unique():
    with pytest.raises(DomainError) as failure:
        _plan([_line("a", "50", "500.00"), _line("a", "50", "500.00")])
    assert failure.value.rule == "instalment-names-not-unique"


# -- date triggers ----------------------------------------------------------------------------

def test_a_date_instalment_becomes_invoiceable_on_its_date():
    plan = _plan([_line("advance", "50", "500.00"), _line("q1", "50", "500.00", invoice_on=date(2027, 1, 31))])
    assert [i.name for i in plan.invoiceable(date(2027, 1, 30))] == ["advance"]
    assert [i.name for i in plan.invoiceable(date(2027, 1, 31))] == ["advance", "q1"]


def test_a_date_instalment_must_name_its_date():
    with pytest.raises(DomainError) as failure:
        _plan([InstalmentTerms("q1", Decimal(100), eur("1000.00"), Trigger.DATE, None, 30)])
    assert failure.value.rule == "instalment-date-missing"


# -- amendments -------------------------------------------------------------------------------

def _amendable() -> tuple[BillingPlan, list[Invoice]]:
    plan = _plan([_line("advance", "30", "300.00"), _line("pac", "70", "700.00", milestone=PAC)])
    return plan, _invoice_all(plan)


def test_an_amendment_replans_only_what_is_not_invoiced():
    plan, [advance] = _amendable()
    changed = plan.amend(contract_version=2, value=eur("1200.00"), on=date(2027, 1, 10), schedule=[
        _line("advance", "30", "300.00"), _line("pac", "50", "600.00", milestone=PAC, due_days=60),
        _line("extra", "25", "300.00", milestone=PAC)])
    assert changed
    assert plan.value == eur("1200.00") and plan.contract_version == 2
    assert [(i.name, i.amount, i.status) for i in plan.instalments] == [
        ("advance", Decimal("300.00"), InstalmentStatus.INVOICED), ("pac", Decimal("600.00"), InstalmentStatus.PLANNED),
        ("extra", Decimal("300.00"), InstalmentStatus.PLANNED)]
    assert plan.instalments[1].due_days == 60
    assert advance.amount == eur("300.00") and advance.events[-1].amount.to_money() == eur("300.00")


def test_an_amendment_that_changes_an_invoiced_instalment_is_refused_and_changes_nothing():
    plan, _ = _amendable()
    for schedule in ([_line("advance", "40", "400.00"), _line("pac", "60", "600.00", milestone=PAC)],
                     [_line("pac", "100", "1000.00", milestone=PAC)]):
        with pytest.raises(DomainError) as failure:
            plan.amend(contract_version=2, value=eur("1000.00"), schedule=schedule, on=date(2027, 1, 10))
        assert failure.value.rule == "invoiced-instalment-changed"
    assert plan.contract_version == 1 and [i.amount for i in plan.instalments] == [Decimal("300.00"),
                                                                                   Decimal("700.00")]


def test_an_amendment_must_still_add_up_to_the_new_value():
    plan, _ = _amendable()
    with pytest.raises(DomainError) as failure:
        plan.amend(contract_version=2, value=eur("1100.00"), on=date(2027, 1, 10),
                   schedule=[_line("advance", "30", "300.00"), _line("pac", "70", "700.00", milestone=PAC)])
    assert failure.value.rule == "billing-plan-incomplete"


def test_an_old_or_repeated_amendment_is_ignored():
    plan, _ = _amendable()
    schedule = [_line("advance", "30", "300.00"), _line("pac", "70", "800.00", milestone=PAC)]
    assert plan.amend(contract_version=2, value=eur("1100.00"), schedule=schedule, on=date(2027, 1, 10))
    assert not plan.amend(contract_version=2, value=eur("9.00"), schedule=[], on=date(2027, 1, 10))
    assert not plan.amend(contract_version=1, value=eur("9.00"), schedule=[], on=date(2027, 1, 10))
    assert plan.value == eur("1100.00")


def test_an_instalment_added_on_an_accepted_milestone_is_invoiceable_at_once():
    plan, _ = _amendable()
    [pac] = plan.accept_milestone(PAC)
    _invoice_all(plan)
    plan.amend(contract_version=2, value=eur("1500.00"), on=date(2027, 4, 1), schedule=[
        _line("advance", "30", "300.00"), _line("pac", "70", "700.00", milestone=PAC),
        _line("change request", "0", "500.00", milestone=PAC)])
    assert [i.name for i in plan.invoiceable(date(2027, 4, 1))] == ["change request"]


def test_scope_added_after_full_payment_is_reported_fully_paid_again_once_collected():
    plan, invoices = _amendable()
    plan.accept_milestone(PAC)
    invoices += _invoice_all(plan)
    _pay([plan], invoices, eur("1000.00"), contract_id=plan.contract_id)
    assert plan.fully_paid_on == date(2026, 12, 1)
    plan.amend(contract_version=2, value=eur("1200.00"), on=date(2027, 2, 1), schedule=[
        _line("advance", "30", "300.00"), _line("pac", "70", "700.00", milestone=PAC), _line("extra", "0", "200.00")])
    assert plan.fully_paid_on is None
    extra = _invoice_all(plan, date(2027, 2, 1))
    _pay([plan], extra, eur("200.00"), contract_id=plan.contract_id, on=date(2027, 3, 1))
    assert [e.fully_paid_on for e in plan.events if isinstance(e, ContractFullyPaid)] == [date(2026, 12, 1),
                                                                                        date(2027, 3, 1)]


def test_a_reduced_amendment_can_finish_the_contract():
    plan, [advance] = _amendable()
    _pay([plan], [advance], eur("300.00"), contract_id=plan.contract_id)
    plan.amend(contract_version=2, value=eur("300.00"), on=date(2027, 2, 1),
               schedule=[_line("advance", "30", "300.00")])
    assert plan.fully_paid_on == date(2027, 2, 1)


# -- credit notes -----------------------------------------------------------------------------

def test_a_credit_note_reduces_what_is_open_and_emits_invoice_credited():
    plan, [advance] = _amendable()
    note = _credit(plan, advance, eur("50.00"))
    assert advance.open_amount == eur("250.00") and advance.status is InvoiceStatus.ISSUED
    assert plan.credited == eur("50.00") and plan.open_balance == eur("250.00")
    assert advance.amount == eur("300.00"), "the issued invoice itself is never changed"
    [credited] = note.events
    assert isinstance(credited, InvoiceCredited)
    assert credited.invoice_open_amount.to_money() == eur("250.00")


def test_a_fully_credited_invoice_is_credited_not_paid():
    plan, [advance] = _amendable()
    _credit(plan, advance, eur("300.00"))
    assert advance.status is InvoiceStatus.CREDITED and advance.paid_on is None
    assert not [e for e in advance.events if isinstance(e, InvoicePaid)]


@pytest.mark.parametrize(("amount", "rule"), [("300.01", "credit-exceeds-open-amount"),
                                              ("0.00", "credit-amount-not-positive"),
                                              ("-1.00", "credit-amount-not-positive")])
def test_a_credit_note_is_for_a_positive_amount_at_most_what_is_open(amount, rule):
    plan, [advance] = _amendable()
    with pytest.raises(RuleViolation) as failure:
        _credit(plan, advance, eur(amount))
    assert failure.value.rule == rule
    assert advance.credited == eur("0.00")


def test_crediting_the_rest_of_a_partly_paid_invoice_settles_it_and_can_finish_the_contract():
    plan = _plan([_line("all", "100", "1000.00")])
    [invoice] = _invoice_all(plan)
    _pay([plan], [invoice], eur("990.00"), contract_id=plan.contract_id)
    assert plan.fully_paid_on is None
    _credit(plan, invoice, eur("10.00"), on=date(2026, 12, 20))
    assert invoice.status is InvoiceStatus.PAID
    [fully_paid] = [e for e in plan.events if isinstance(e, ContractFullyPaid)]
    assert fully_paid.collected.to_money() == eur("990.00")
    assert fully_paid.credited is not None and fully_paid.credited.to_money() == eur("10.00")
    assert fully_paid.fully_paid_on == date(2026, 12, 20)


def test_fully_paid_carries_the_lead_to_cash_dates():
    plan = _plan([_line("all", "100", "1000.00")])
    _pay([plan], _invoice_all(plan), eur("1000.00"), contract_id=plan.contract_id, on=date(2027, 1, 19))
    [fully_paid] = plan.events
    assert isinstance(fully_paid, ContractFullyPaid)
    assert (fully_paid.lead_created_on, fully_paid.won_on, fully_paid.signed_on, fully_paid.first_invoiced_on,
            fully_paid.fully_paid_on) == (date(2026, 9, 1), date(2026, 11, 1), SIGNED, SIGNED, date(2027, 1, 19))
    assert fully_paid.days_signed_to_cash == 60 and fully_paid.days_lead_to_cash == 140
    assert fully_paid.lineage.lead_id == plan.lead_id and fully_paid.lineage.contract_id == plan.contract_id


# -- account-level cash -----------------------------------------------------------------------

def test_an_account_payment_pays_oldest_due_first_across_contracts_and_holds_the_rest():
    account = uuid.uuid4()
    late = _plan([_line("all", "100", "500.00", due_days=60)], "500.00", account_id=account)
    early = _plan([_line("all", "100", "400.00", due_days=10)], "400.00", account_id=account)
    [late_invoice], [early_invoice] = _invoice_all(late), _invoice_all(early)
    payment = _pay([late, early], [late_invoice, early_invoice], eur("1000.00"), account_id=account)
    assert [(a.invoice_id, a.amount) for a in payment.applications] == [
        (early_invoice.id, Decimal("400.00")), (late_invoice.id, Decimal("500.00"))]
    assert payment.unapplied == eur("100.00") and payment.account_id == account
    assert payment.events[0].lineage == Lineage(), "one payment for two contracts belongs to neither flow"
    assert early.fully_paid_on == late.fully_paid_on == date(2026, 12, 1)


def test_a_payment_in_a_currency_the_account_is_not_billed_in_is_refused():
    plan = _plan([_line("all", "100", "1000.00")])
    with pytest.raises(RuleViolation) as failure:
        _pay([plan], _invoice_all(plan), Money(Decimal("10"), "USD"), account_id=plan.account_id)
    assert failure.value.rule == "currency-mismatch"


def test_unapplied_cash_is_applied_later_to_a_new_invoice():
    plan, [advance] = _amendable()
    payment = _pay([plan], [advance], eur("500.00"), contract_id=plan.contract_id)
    assert payment.unapplied == eur("200.00")
    with pytest.raises(DomainError) as failure:
        payment.apply_unapplied(invoices=[advance], plans={plan.contract_id: plan}, invoice_id=None,
                                on=date(2027, 3, 1), by="clerk", today=LATER)
    assert failure.value.rule == "nothing-to-apply"
    [pac] = plan.accept_milestone(PAC)
    invoices = [advance, *_invoice_all(plan, date(2027, 3, 1))]
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
    plan, [advance] = _amendable()
    payment = _pay([plan], [], eur("100.00"), contract_id=plan.contract_id)
    with pytest.raises(RuleViolation) as failure:
        payment.apply_unapplied(invoices=[advance], plans={plan.contract_id: plan}, invoice_id=advance.id,
                                on=date(2026, 11, 30), by="clerk", today=LATER)
    assert failure.value.rule == "application-before-receipt"


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
    plans = [_plan([_line("advance", "40", "400.00", due_days=days), _line("pac", "60", "600.00", milestone=PAC)],
                   account_id=account) for days in (10, 40)]
    by_contract = {p.contract_id: p for p in plans}
    invoices = [i for p in plans for i in _invoice_all(p)]
    payments = []
    for kind, cents, pick in steps:
        amount = Money(Decimal(cents).scaleb(-2), "EUR")
        target = invoices[pick % len(invoices)]
        if kind == "accept":
            plan = plans[pick % 2]
            invoices += [plan.invoice(i, invoice_id=uuid.uuid4(), number=f"X{next(_numbers)}", issue_date=SIGNED,
                                      now=NOW) for i in plan.accept_milestone(PAC)]
        elif kind == "credit" and not target.open_amount.is_zero():
            share = min(amount, target.open_amount)
            _credit(by_contract[target.contract_id], target, share)
        elif kind == "apply-later":
            holding = [p for p in payments if not p.unapplied.is_zero()]
            if holding and any(i.is_open for i in invoices):
                holding[pick % len(holding)].apply_unapplied(invoices=invoices, plans=by_contract, invoice_id=None,
                                                             on=date(2027, 1, 1), by="clerk", today=LATER)
        elif kind.startswith("pay"):
            payments.append(_pay(plans, invoices, amount, account_id=account,
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


# -- aging ------------------------------------------------------------------------------------

AS_OF = date(2027, 6, 30)


def _item(days_past_due: int, amount: str, currency: str = "EUR") -> OpenItem:
    return OpenItem(invoice_id=uuid.uuid4(), number=f"INV-{next(_numbers)}", contract_id=uuid.uuid4(),
                    account_id=None, issue_date=date(2027, 1, 1), due_date=AS_OF - timedelta(days=days_past_due),
                    open_amount=Money(Decimal(amount), currency))


@pytest.mark.parametrize(("days", "bucket"), [(-5, "current"), (0, "current"), (1, "1-30"), (30, "1-30"),
                                              (31, "31-60"), (60, "31-60"), (61, "61-90"), (90, "61-90"),
                                              (91, "90+"), (400, "90+")])
def test_aging_buckets_at_their_boundaries(days, bucket):
    assert bucket_of(days) == bucket
    [aging] = age([_item(days, "10.00")], AS_OF)
    assert aging.buckets[bucket] == eur("10.00")
    assert [b for b in BUCKETS if not aging.buckets[b].is_zero()] == [bucket]


@settings(max_examples=200, deadline=None)
@given(st.lists(st.tuples(st.integers(min_value=-60, max_value=400), st.integers(min_value=0, max_value=10**8),
                          st.sampled_from(["EUR", "USD"])), max_size=30))
def test_aging_totals_tie_exactly_to_the_open_invoices(rows):
    items = [_item(days, str(Decimal(cents).scaleb(-2)), currency) for days, cents, currency in rows]
    for aging in age(items, AS_OF):
        mine = [i.open_amount for i in items if i.open_amount.currency == aging.currency and not i.open_amount.is_zero()]
        zero = Money.zero(aging.currency)
        assert aging.total == sum(mine, zero) == sum(aging.buckets.values(), zero)
        assert sorted(i.open_amount.amount for i in aging.items) == sorted(m.amount for m in mine)


# -- dunning ----------------------------------------------------------------------------------

DUE = date(2027, 1, 31)


def _overdue(open_amount: str = "100.00") -> OverdueInvoice:
    return OverdueInvoice(invoice_id=uuid.uuid4(), number="INV-2026-000001", contract_id=uuid.uuid4(),
                          account_id=None, lineage=Lineage(), due_date=DUE, open_amount=eur(open_amount))


def test_dunning_climbs_one_step_per_run_when_each_threshold_is_reached():
    invoice, dunning = _overdue(), None
    seen = []
    for day in range(0, 120):
        as_of = DUE + timedelta(days=day)
        states = {} if dunning is None else {invoice.invoice_id: dunning}
        for state, _ in run_dunning([invoice], states, as_of):
            dunning = state
            seen.append((day, state.level))
    assert seen == [(1, DunningLevel.REMINDER), (15, DunningLevel.SECOND_REMINDER),
                    (30, DunningLevel.FINAL_NOTICE), (60, DunningLevel.ESCALATED)]
    overdue = [e for e in dunning.events if isinstance(e, InvoiceOverdue)]
    assert [(e.dunning_level, e.days_overdue, e.as_of) for e in overdue] == [
        ("reminder", 1, DUE + timedelta(days=1)), ("second_reminder", 15, DUE + timedelta(days=15)),
        ("final_notice", 30, DUE + timedelta(days=30)), ("escalated", 60, DUE + timedelta(days=60))]


def test_dunning_never_skips_a_letter_even_when_the_job_ran_late():
    invoice = _overdue()
    dunning = Dunning(invoice_id=invoice.invoice_id)
    assert dunning.advance(invoice, DUE + timedelta(days=75))
    assert dunning.level is DunningLevel.REMINDER
    assert not dunning.advance(invoice, DUE + timedelta(days=75)), "one step per day, however often it runs"
    assert dunning.advance(invoice, DUE + timedelta(days=76))
    assert dunning.level is DunningLevel.SECOND_REMINDER


def test_no_dunning_on_the_due_date_or_once_nothing_is_open():
    dunning = Dunning(invoice_id=(invoice := _overdue()).invoice_id)
    assert not dunning.advance(invoice, DUE)
    settled = _overdue("0.00")
    assert not Dunning(invoice_id=settled.invoice_id).advance(settled, DUE + timedelta(days=40))


def test_an_escalated_invoice_stays_escalated():
    invoice = _overdue()
    dunning = Dunning(invoice_id=invoice.invoice_id)
    for day in (1, 15, 30, 60):
        assert dunning.advance(invoice, DUE + timedelta(days=day))
    assert not dunning.advance(invoice, DUE + timedelta(days=200))
    assert dunning.level is DunningLevel.ESCALATED


# -- journal ----------------------------------------------------------------------------------

def test_journal_entries_balance_and_use_the_configured_codes():
    plan, [advance] = _amendable()
    note = _credit(plan, advance, eur("20.00"), on=date(2026, 12, 2))
    payment = _pay([plan], [advance], eur("400.00"), contract_id=plan.contract_id, on=date(2026, 12, 3))
    [pac] = plan.accept_milestone(PAC)
    [pac_invoice] = _invoice_all(plan, date(2027, 2, 1))
    payment.apply_unapplied(invoices=[advance, pac_invoice], plans={plan.contract_id: plan}, invoice_id=None,
                            on=date(2027, 2, 2), by="clerk", today=LATER)
    lines = journal(invoices=[advance, pac_invoice], credit_notes=[note], payments=[payment], codes=CODES,
                    start=SIGNED, end=date(2027, 12, 31))
    entries: dict[str, list] = {}
    for line in lines:
        entries.setdefault(line.entry_id, []).append(line)
    for entry in entries.values():
        assert sum(l.debit for l in entry) == sum(l.credit for l in entry) > 0
    summary = [(l.posting_date, l.document_type, l.account_code, l.debit, l.credit) for l in lines]
    assert summary == [
        (SIGNED, "invoice", "1100", Decimal("300.00"), Decimal("0.00")),
        (SIGNED, "invoice", "4000", Decimal("0.00"), Decimal("300.00")),
        (date(2026, 12, 2), "credit_note", "4000", Decimal("20.00"), Decimal("0.00")),
        (date(2026, 12, 2), "credit_note", "1100", Decimal("0.00"), Decimal("20.00")),
        (date(2026, 12, 3), "payment", "1000", Decimal("400.00"), Decimal("0.00")),
        (date(2026, 12, 3), "payment", "1100", Decimal("0.00"), Decimal("280.00")),
        (date(2026, 12, 3), "payment", "2150", Decimal("0.00"), Decimal("120.00")),
        (date(2027, 2, 1), "invoice", "1100", Decimal("700.00"), Decimal("0.00")),
        (date(2027, 2, 1), "invoice", "4000", Decimal("0.00"), Decimal("700.00")),
        (date(2027, 2, 2), "payment", "2150", Decimal("120.00"), Decimal("0.00")),
        (date(2027, 2, 2), "payment", "1100", Decimal("0.00"), Decimal("120.00")),
    ]
    only_february = journal(invoices=[advance, pac_invoice], credit_notes=[note], payments=[payment], codes=CODES,
                            start=date(2027, 2, 1), end=date(2027, 2, 28))
    assert {l.posting_date for l in only_february} == {date(2027, 2, 1), date(2027, 2, 2)}
    assert len(only_february) == 4


def test_held_cash_is_not_applied_on_a_day_not_yet_come():
    plan, [advance] = _amendable()
    payment = _pay([plan], [advance], eur("500.00"), contract_id=plan.contract_id)
    [pac] = plan.accept_milestone(PAC)
    invoices = [advance, *_invoice_all(plan, date(2027, 3, 1))]
    with pytest.raises(RuleViolation) as future:
        payment.apply_unapplied(invoices=invoices, plans={plan.contract_id: plan}, invoice_id=None,
                                on=date(2027, 3, 3), by="clerk", today=date(2027, 3, 1))
    assert (future.value.rule, future.value.errors[0]["field"]) == ("date-in-future", "applied_on")
    assert payment.unapplied == eur("200.00") and len(payment.applications) == 1
    payment.apply_unapplied(invoices=invoices, plans={plan.contract_id: plan}, invoice_id=None,
                            on=date(2027, 3, 2), by="clerk", today=date(2027, 3, 1))  # a day ahead in UTC
    assert payment.unapplied == eur("0.00")
