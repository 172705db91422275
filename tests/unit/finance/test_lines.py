"""The pro-rating of lines over instalments: exact in both directions, in every currency."""

from __future__ import annotations

from decimal import ROUND_HALF_EVEN, Decimal
from fractions import Fraction

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ltc.finance.domain.lines import prorate
from ltc.shared.money import Money, minor_unit_exponent
from ltc.shared.rules import RuleViolation

CURRENCIES = ("EUR", "JPY", "BHD")


@st.composite
def plans(draw):
    """Lines priced as a seller does (awkward quantities, unit prices and discounts, each line's net
    rounded to the currency), and a schedule of percentages split from their total."""
    currency = draw(st.sampled_from(CURRENCIES))
    quantum = Decimal(1).scaleb(-minor_unit_exponent(currency))
    nets = []
    for _ in range(draw(st.integers(1, 8))):
        quantity = Decimal(draw(st.integers(1, 100_000))) / Decimal(draw(st.sampled_from([1, 3, 7, 1000])))
        price = Decimal(draw(st.integers(0, 10**9))) * quantum
        discount = Decimal(draw(st.integers(0, 99))) / 100
        nets.append(Money((quantity * price * (1 - discount)).quantize(quantum, rounding=ROUND_HALF_EVEN),
                          currency))
    total = Money(sum((n.amount for n in nets), Decimal(0)), currency)
    percentages = draw(st.lists(st.integers(1, 100), min_size=1, max_size=6))
    scale = Decimal(100) / sum(percentages)
    shares = [(Decimal(p) * scale).quantize(Decimal("0.0001")) for p in percentages[:-1]]
    shares.append(Decimal(100) - sum(shares, Decimal(0)))
    if any(s <= 0 for s in shares):
        shares = [Decimal(100)]
    return nets, total.split(shares)


@settings(max_examples=400, deadline=None)
@given(plans())
def test_every_line_is_invoiced_exactly_and_every_invoice_adds_up(plan):
    nets, instalments = plan
    spread = prorate(nets, instalments)
    assert [sum((cell.amount for cell in row), Decimal(0)) for row in spread] == [i.amount for i in instalments]
    assert [sum((row[j].amount for row in spread), Decimal(0)) for j in range(len(nets))] == [n.amount for n in nets]
    assert all(cell.amount >= 0 for row in spread for cell in row)


@settings(max_examples=300, deadline=None)
@given(plans())
def test_each_part_is_within_one_minor_unit_of_its_share_of_what_remained(plan):
    nets, instalments = plan
    unit = Fraction(1, 10 ** minor_unit_exponent(nets[0].currency))
    spread = prorate(nets, instalments)
    remaining = [Fraction(n.amount) for n in nets]
    left_to_invoice = sum(remaining)
    for row, instalment in zip(spread, instalments, strict=True):
        for j, cell in enumerate(row):
            exact = remaining[j] * Fraction(instalment.amount) / left_to_invoice if left_to_invoice else 0
            assert abs(Fraction(cell.amount) - exact) < unit
        remaining = [r - Fraction(c.amount) for r, c in zip(remaining, row, strict=True)]
        left_to_invoice -= Fraction(instalment.amount)


def test_a_worked_example_30_60_10():
    eur = lambda a: Money(Decimal(a), "EUR")  # noqa: E731
    nets = [eur("100.00"), eur("0.05"), eur("33.33")]
    instalments = eur("133.38").split([Decimal(30), Decimal(60), Decimal(10)])
    assert [i.amount for i in instalments] == [Decimal("40.01"), Decimal("80.02"), Decimal("13.35")]
    # The first invoice: 40.01 of 133.38 spread over 100.00 / 0.05 / 33.33 is 29.997 / 0.015 / 9.998
    # in exact shares; floors 29.99 / 0.01 / 9.99 leave 2 cents, to the largest remainders (9.998,
    # then 29.997). The second spreads 80.02 over what remained (70.00 / 0.04 / 23.33); the last
    # takes the rest of every line.
    assert [[c.amount for c in row] for row in prorate(nets, instalments)] == [
        [Decimal("30.00"), Decimal("0.01"), Decimal("10.00")],
        [Decimal("59.99"), Decimal("0.03"), Decimal("20.00")],
        [Decimal("10.01"), Decimal("0.01"), Decimal("3.33")],
    ]


def test_lines_that_do_not_add_up_to_the_instalments_are_refused():
    with pytest.raises(RuleViolation) as refused:
        prorate([Money(Decimal("10.00"), "EUR")], [Money(Decimal("9.99"), "EUR")])
    assert refused.value.rule == "lines-do-not-add-up"
