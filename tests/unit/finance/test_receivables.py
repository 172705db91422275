"""Receivables as of a date: aging that ties to the open invoices, and the dunning ladder."""

import uuid
from datetime import date, timedelta
from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ltc.finance.domain.receivables import (
    BUCKETS,
    Dunning,
    DunningLevel,
    OpenItem,
    OverdueInvoice,
    age,
    bucket_of,
    exposure,
    run_dunning,
)
from ltc.shared.messages import Lineage
from ltc.shared.messages.finance_events import (
    InvoiceOverdue,
)
from ltc.shared.money import Money
from tests.unit.finance.samples import (
    eur,
    next_number,
)

# -- aging -----------------------------------------------------------------------------------------


AS_OF = date(2027, 6, 30)


def _item(days_past_due: int, amount: str, currency: str = "EUR") -> OpenItem:
    return OpenItem(invoice_id=uuid.uuid4(), number=f"INV-{next_number()}", contract_id=uuid.uuid4(),
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


# -- dunning ---------------------------------------------------------------------------------------


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


# -- exposure -----------------------------------------------------------------------------------

def test_exposure_sets_unapplied_cash_beside_the_aged_invoices_of_each_currency():
    items = [_item(10, "300.00"), _item(0, "200.00")]
    unapplied = {"EUR": eur("50.00"), "USD": Money(Decimal("20.00"), "USD")}
    euros, dollars = exposure(age(items, AS_OF), unapplied)
    assert (euros.currency, euros.total_open, euros.unapplied_cash, euros.net_exposure) == (
        "EUR", eur("500.00"), eur("50.00"), eur("450.00"))
    assert euros.buckets["1-30"] == eur("300.00") and euros.buckets["current"] == eur("200.00")
    assert list(euros.buckets) == list(BUCKETS) and len(euros.items) == 2
    usd = Money.zero("USD")
    assert (dollars.currency, dollars.total_open, dollars.net_exposure, dollars.items) == (
        "USD", usd, Money(Decimal("-20.00"), "USD"), [])
    assert set(dollars.buckets.values()) == {usd}
