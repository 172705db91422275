"""Credit exposure's arithmetic and when it is published (ltc.finance.domain.credit)."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ltc.finance.domain.credit import (
    CREDIT_LIMIT_INVALID,
    CREDIT_REASON_REQUIRED,
    CreditFigures,
    CreditLimit,
    CreditPublished,
    SignedValue,
    exposures,
)
from ltc.shared.money import Money
from ltc.shared.rules import RuleViolation, StaleVersion

NOW = datetime(2026, 12, 3, 9, 0, tzinfo=UTC)
ACCOUNT = uuid.uuid4()


def eur(amount: str) -> Money:
    return Money(Decimal(amount), "EUR")


def usd(amount: str) -> Money:
    return Money(Decimal(amount), "USD")


def test_exposure_is_open_receivables_plus_signed_not_invoiced_per_currency():
    figures = exposures(
        [eur("119.00"), eur("0.00"), usd("50.00"), eur("30.00")],
        [SignedValue(eur("1000.00"), eur("100.00")), SignedValue(eur("500.00"), eur("500.00")),
         SignedValue(Money(Decimal("2000"), "JPY"), Money(Decimal("0"), "JPY"))])
    assert sorted(figures) == ["EUR", "JPY", "USD"]
    assert (figures["EUR"].open_receivables, figures["EUR"].signed_not_invoiced, figures["EUR"].exposure) == (
        eur("149.00"), eur("900.00"), eur("1049.00"))
    assert figures["USD"] == CreditFigures(usd("50.00"), usd("0.00"))
    assert figures["JPY"].exposure == Money(Decimal("2000"), "JPY")


def test_available_is_the_limit_less_the_exposure_and_none_without_a_limit():
    figures = CreditFigures(eur("300.00"), eur("700.00"))
    assert figures.available(eur("800.00")) == eur("-200.00")
    assert figures.available(eur("1000.00")) == eur("0.00")
    assert figures.available(None) is None


cents = st.integers(min_value=0, max_value=10**9).map(lambda n: Money(Decimal(n) / 100, "EUR"))


@given(st.lists(cents, max_size=8), st.lists(st.tuples(cents, cents), max_size=8))
def test_the_parts_add_up_to_the_exposure(open_amounts, plans):
    signed = [SignedValue(max(a, b, key=lambda m: m.amount), min(a, b, key=lambda m: m.amount)) for a, b in plans]
    figures = exposures(open_amounts, signed).get("EUR", CreditFigures.zero("EUR"))
    total_open = sum((m.amount for m in open_amounts), Decimal(0))
    total_signed = sum((s.value.amount - s.invoiced.amount for s in signed), Decimal(0))
    assert figures.exposure.amount == total_open + total_signed
    assert figures.exposure == figures.open_receivables + figures.signed_not_invoiced


def test_an_invoice_moves_its_net_out_of_signed_and_its_gross_into_receivables():
    before = exposures([], [SignedValue(eur("1000.00"), eur("0.00"))])["EUR"]
    # 300.00 net invoiced with 19% VAT: 357.00 open.
    after = exposures([eur("357.00")], [SignedValue(eur("1000.00"), eur("300.00"))])["EUR"]
    assert after.exposure - before.exposure == eur("57.00")


def test_figures_are_published_only_when_they_differ_from_the_last_published():
    published = CreditPublished(account_id=ACCOUNT, currency="EUR")
    assert not published.differs(None, CreditFigures.zero("EUR"))  # nothing to say yet
    figures = CreditFigures(eur("300.00"), eur("700.00"))
    assert published.differs(None, figures)
    event = published.publish(None, figures, cause="exposure_changed", now=NOW)
    assert (event.account_id, event.currency, event.credit_limit, event.available) == (ACCOUNT, "EUR", None, None)
    assert (event.exposure.amount, event.open_receivables.amount, event.signed_not_invoiced.amount) == (
        Decimal("1000.00"), Decimal("300.00"), Decimal("700.00"))
    assert not published.differs(None, CreditFigures(eur("300.00"), eur("700.00")))  # a replay
    assert published.differs(eur("800.00"), figures)  # a limit is news
    event = published.publish(eur("800.00"), figures, cause="limit_set", now=NOW)
    assert event.available is not None and event.available.to_money() == eur("-200.00")
    assert published.credit_limit == eur("800.00") and published.figures() == figures


def test_a_limit_is_zero_or_more_with_a_reason():
    limit = CreditLimit(account_id=ACCOUNT, limit=eur("0.00"), reason="  cash up front  ", by="clerk", now=NOW)
    assert (limit.limit, limit.reason, limit.set_by) == (eur("0.00"), "cash up front", "clerk")
    with pytest.raises(RuleViolation) as exc:
        CreditLimit(account_id=ACCOUNT, limit=eur("-0.01"), reason="x", by="clerk", now=NOW)
    assert exc.value.rule == CREDIT_LIMIT_INVALID and exc.value.errors[0]["field"] == "credit_limit.amount"
    with pytest.raises(RuleViolation) as exc:
        CreditLimit(account_id=ACCOUNT, limit=eur("1000000000000000.00"), reason="x", by="clerk", now=NOW)
    assert exc.value.rule == CREDIT_LIMIT_INVALID
    with pytest.raises(RuleViolation) as exc:
        CreditLimit(account_id=ACCOUNT, limit=eur("1.00"), reason=" ", by="clerk", now=NOW)
    assert exc.value.rule == CREDIT_REASON_REQUIRED and exc.value.errors[0]["field"] == "reason"


def test_a_limit_changes_only_on_the_version_read():
    limit = CreditLimit(account_id=ACCOUNT, limit=eur("10.00"), reason="x", by="clerk", now=NOW)
    limit.version = 3
    with pytest.raises(StaleVersion) as stale:
        limit.change(eur("20.00"), reason="y", by="other", now=NOW, expected_version=2)
    assert stale.value.rule == "stale-etag" and limit.limit == eur("10.00")
    limit.change(eur("20.00"), reason="y", by="other", now=NOW, expected_version=3)
    assert (limit.limit, limit.reason, limit.set_by) == (eur("20.00"), "y", "other")
