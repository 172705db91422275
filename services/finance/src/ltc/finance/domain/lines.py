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

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal

from ltc.finance.domain.tax import Vat
from ltc.shared.lines import SalesLine
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


@dataclass(frozen=True)
class InvoiceLine:
    """One line of an invoice or credit note (EN 16931 BG-25): what it bills of one contract line.

    `net` is what this document bills of the line (BT-131): quantity × unit price − discount for a
    line billed whole, the pro-rated share of the contract line's net for a percentage instalment
    (then `quantity` is the share of the contract quantity, to six places, so that quantity × price −
    discount is the net to within the rounding the rule above documents). `vat` is decided when the
    document is issued (`ltc.finance.domain.tax`).
    """

    position: int  # the contract line's position, 1-based (BT-126 is its string)
    code: str | None  # the seller's product or service code (BT-155)
    description: str  # BT-153
    quantity: Decimal  # BT-129
    unit: str  # UN/ECE Rec 20 code (BT-130)
    unit_price: Decimal  # net price of one unit, before the line discount (BT-146)
    discount: Decimal  # the line's allowance (BT-136), 0 when none
    net: Decimal  # BT-131
    vat: Vat
    milestone: str | None = None  # the delivery milestone the line is billed with, if any


@dataclass(frozen=True)
class Billed:
    """What the invoices issued so far bill of one contract line."""

    net: Decimal
    quantity: Decimal


NO_BILL = Billed(Decimal(0), Decimal(0))
_QUANTITY_PLACES = Decimal("0.000001")


@dataclass(frozen=True)
class LineShare:
    """What one invoice bills of one contract line: a net and the quantity it stands for."""

    line: SalesLine
    net: Money
    quantity: Decimal


def bill(lines: Sequence[SalesLine], billed: Mapping[int, Billed], amount: Money,
         later: Sequence[Money]) -> list[LineShare]:
    """The lines of the invoice of one instalment of `amount`, of a group whose other uninvoiced
    instalments are `later` (the rounding rule above, applied to what is still uninvoiced).

    The quantity a share stands for is the line's uninvoiced quantity times the share's part of the
    line's uninvoiced net, to six places; the last instalment takes all that is left, so over all
    invoices quantities add up to the contract's too. A line this invoice bills nothing of is left
    off it.
    """
    remaining = [line.net - Money(billed.get(line.position, NO_BILL).net, line.net.currency) for line in lines]
    row = prorate(remaining, [amount, *later])[0]
    shares = []
    for line, left, part in zip(lines, remaining, row, strict=True):
        if part.is_zero():
            continue
        left_quantity = line.quantity - billed.get(line.position, NO_BILL).quantity
        if not later or part == left:
            quantity = left_quantity
        else:
            quantity = (left_quantity * part.amount / left.amount).quantize(_QUANTITY_PLACES, rounding=ROUND_HALF_UP)
        shares.append(LineShare(line, part, quantity))
    return shares
