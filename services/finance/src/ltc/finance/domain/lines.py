"""How a contract's lines are spread over the instalments that invoice them.

A percentage instalment invoices a share of every line. The rounding rule, the one rule for all
invoices: **instalment by instalment, each line gets the instalment's share of what is still
uninvoiced of that line, rounded to the currency's minor unit by the largest-remainder method so
that the instalment's lines add up to the instalment's amount exactly; the last instalment takes
what is left of every line.** Ties in the remainder go to the earlier line.

So, over all instalments, every line is invoiced at exactly its agreed net, every invoice adds up
to exactly its instalment's amount, no line is ever invoiced below zero, and each amount is within
one minor unit of the exact share of what remained of its line. (Instalment amounts come from
`Money.split`, as today; this spreads them over lines, it does not change them.)
"""

from __future__ import annotations

from collections.abc import Sequence
from decimal import Decimal

from ltc.shared.money import Money, minor_unit_exponent
from ltc.shared.rules import RuleViolation

LINES_DO_NOT_ADD_UP = "lines-do-not-add-up"
LINE_NET_NEGATIVE = "line-net-negative"


def prorate(line_nets: Sequence[Money], instalments: Sequence[Money]) -> list[list[Money]]:
    """`result[i][j]`: what instalment `i` invoices of line `j`."""
    if not line_nets or not instalments:
        raise RuleViolation(LINES_DO_NOT_ADD_UP, "a plan needs at least one line and one instalment")
    currency = line_nets[0].currency
    exponent = minor_unit_exponent(currency)
    if any(m.currency != currency for m in (*line_nets, *instalments)):
        raise RuleViolation(LINES_DO_NOT_ADD_UP, f"lines and instalments are all in {currency}")
    remaining = [_minor(m.amount, exponent) for m in line_nets]
    targets = [_minor(m.amount, exponent) for m in instalments]
    if any(r < 0 for r in remaining) or any(t < 0 for t in targets):
        raise RuleViolation(LINE_NET_NEGATIVE, "a line's net and an instalment's amount are not negative",
                            errors=[{"field": f"lines[{j}].net", "message": "negative"}
                                    for j, r in enumerate(remaining) if r < 0])
    if sum(remaining) != sum(targets):
        raise RuleViolation(LINES_DO_NOT_ADD_UP, f"the lines add up to {_major(sum(remaining), exponent)} "
                            f"{currency}, the instalments to {_major(sum(targets), exponent)} {currency}")
    rows: list[list[int]] = []
    for index, target in enumerate(targets):
        left = sum(remaining)
        if index == len(targets) - 1 or left == 0:
            row = list(remaining) if index == len(targets) - 1 else [0] * len(remaining)
        else:
            row = _largest_remainder(remaining, target, left)
        rows.append(row)
        remaining = [r - part for r, part in zip(remaining, row, strict=True)]
    return [[Money(_major(part, exponent), currency) for part in row] for row in rows]


def _largest_remainder(remaining: list[int], target: int, left: int) -> list[int]:
    """`target` units spread over lines in proportion to `remaining` (which add up to `left`)."""
    floors = [r * target // left for r in remaining]
    remainders = [r * target % left for r in remaining]
    short = target - sum(floors)  # fewer than the number of lines
    # Largest remainder first, the earlier line on a tie; a line with no remainder takes no unit
    # (its share is whole), so no line gets more than the ceiling of its share.
    order = sorted((j for j, rest in enumerate(remainders) if rest), key=lambda j: (-remainders[j], j))
    for j in order[:short]:
        floors[j] += 1
    return floors


def _minor(amount: Decimal, exponent: int) -> int:
    return int(amount.scaleb(exponent))


def _major(units: int, exponent: int) -> Decimal:
    return Decimal(units).scaleb(-exponent)
