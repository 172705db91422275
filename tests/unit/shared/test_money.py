"""Money splits exactly: the parts always add up to the whole, in the currency's minor unit."""

from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import ValidationError

from ltc.shared.messages import MoneyPayload
from ltc.shared.money import Money, MoneyError


@st.composite
def percentages(draw) -> list[Decimal]:
    # Shares in hundredths of a percent, positive, summing to exactly 100.
    count = draw(st.integers(min_value=1, max_value=8))
    cuts = sorted(draw(st.lists(st.integers(min_value=1, max_value=9999), min_size=count - 1,
                                max_size=count - 1, unique=True)))
    bounds = [0, *cuts, 10000]
    return [Decimal(b - a) / 100 for a, b in zip(bounds, bounds[1:])]


@given(amount=st.integers(min_value=0, max_value=10**13), shares=percentages(),
       currency=st.sampled_from(["EUR", "JPY", "BHD", "USD"]))
def test_any_split_adds_up_exactly(amount, shares, currency):
    exponent = {"EUR": 2, "JPY": 0, "BHD": 3, "USD": 2}[currency]
    whole = Money(Decimal(amount).scaleb(-exponent), currency)
    parts = whole.split(shares)
    assert sum((p.amount for p in parts), Decimal(0)) == whole.amount
    assert all(p.currency == currency for p in parts)
    assert all(p.amount == p.amount.quantize(Decimal(1).scaleb(-exponent)) for p in parts)


def test_the_rounding_remainder_goes_to_the_last_part():
    parts = Money(Decimal("100.00"), "EUR").split([Decimal("33.33"), Decimal("33.33"), Decimal("33.34")])
    assert [p.amount for p in parts] == [Decimal("33.33"), Decimal("33.33"), Decimal("33.34")]
    parts = Money(Decimal("0.10"), "EUR").split([Decimal(30), Decimal(60), Decimal(10)])
    assert [p.amount for p in parts] == [Decimal("0.03"), Decimal("0.06"), Decimal("0.01")]


@pytest.mark.parametrize("shares", [[Decimal(50), Decimal(49)], [Decimal(120), Decimal(-20)], []])
def test_shares_must_be_positive_and_sum_to_100(shares):
    with pytest.raises(MoneyError):
        Money(Decimal("10.00"), "EUR").split(shares)


@pytest.mark.parametrize(("amount", "currency"), [("1.001", "EUR"), ("1.5", "JPY"), ("1", "EURO"), ("1", "XYZ"),
                                                  ("10000000000000000", "EUR"), ("-1E+40", "EUR"), ("NaN", "EUR")])
def test_invalid_money_is_refused(amount, currency):
    with pytest.raises(MoneyError):
        Money(Decimal(amount), currency)


def test_different_currencies_never_mix():
    with pytest.raises(MoneyError):
        Money(Decimal("1.00"), "EUR") + Money(Decimal("1.00"), "USD")


def test_the_largest_amount_fits_the_amount_columns():
    # NUMERIC(20, 4) holds sixteen integer digits: the largest amount still is money.
    assert Money(Decimal("9999999999999999.99"), "EUR").amount == Decimal("9999999999999999.99")


@pytest.mark.parametrize("amount", ["10000000000000000.00", "1E+40"])
def test_an_amount_too_large_is_an_input_error_naming_the_field(amount):
    with pytest.raises(ValidationError) as error:
        MoneyPayload(amount=amount, currency="EUR")
    assert error.value.errors()[0]["type"] == "value_error"


def test_allocating_by_weights_that_do_not_sum_to_100_still_adds_up_exactly():
    # What is left to bill after the signing instalment, over the remaining terms' percentages.
    parts = Money(Decimal("100.01"), "EUR").allocate([Decimal(60), Decimal(10)])
    assert parts == [Money(Decimal("85.72"), "EUR"), Money(Decimal("14.29"), "EUR")]
    assert Money(Decimal("999999.99"), "EUR").allocate([Decimal(30), Decimal(60), Decimal(10)]) == \
        Money(Decimal("999999.99"), "EUR").split([Decimal(30), Decimal(60), Decimal(10)])


def test_a_money_attribute_reads_an_amount_column_with_its_currency_column():
    from ltc.shared.money import MoneyAttribute

    class Row:
        paid = MoneyAttribute("paid_amount")
        value = MoneyAttribute("value_amount", "value_currency")

        def __init__(self) -> None:
            self.paid_amount, self.currency = Decimal("1.50"), "EUR"
            self.value_amount, self.value_currency = Decimal("7"), "JPY"

    row = Row()
    assert row.paid == Money(Decimal("1.50"), "EUR") and row.value == Money(Decimal("7"), "JPY")
    assert isinstance(Row.paid, MoneyAttribute) and Row.paid.name == "paid"


def test_an_optional_money_attribute_is_none_until_set_and_writes_both_columns():
    from ltc.shared.money import OptionalMoneyAttribute

    class Row:
        budget = OptionalMoneyAttribute("budget_amount", "budget_currency")

        def __init__(self) -> None:
            self.budget_amount = self.budget_currency = None

    row = Row()
    assert row.budget is None
    row.budget = Money(Decimal("3.10"), "EUR")
    assert (row.budget_amount, row.budget_currency, row.budget) == (Decimal("3.10"), "EUR", Money(Decimal("3.10"), "EUR"))
    row.budget = None
    assert (row.budget_amount, row.budget_currency, row.budget) == (None, None, None)
