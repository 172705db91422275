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
from decimal import ROUND_DOWN, ROUND_HALF_UP, Decimal

from ltc.finance.domain.tax import Vat
from ltc.shared.lines import QUANTITY_PLACES, SalesLine
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
    line billed whole, the pro-rated share of the contract line's net for a percentage instalment.
    Then `quantity` is the share of the contract quantity (to six places) and the line's discount is
    not split over the instalments: a pro-rated line's net is its share of the discounted net, so
    quantity × unit price exceeds it by the discount's share. (EN 16931 does not require the line
    identity; Peppol's R120 would. Splitting the discount as a line allowance is open.) `vat` is
    decided when the document is issued (`ltc.finance.domain.tax`).
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
_QUANTITY_PLACES = QUANTITY_PLACES  # the contract lines' own precision


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


@dataclass(frozen=True)
class LineCredit:
    """What a credit note takes back of one invoice line: the whole of what is uncredited (neither
    given), a quantity of it, or a net amount of it (a price reduction)."""

    position: int
    quantity: Decimal | None = None
    net: Decimal | None = None
    currency: str | None = None  # of `net`: the invoice's, or the credit is refused


def credit_lines(lines: Sequence[InvoiceLine], credited: Mapping[int, Billed], chosen: Sequence[LineCredit] | None,
                 currency: str) -> list[InvoiceLine]:
    """The credit note's lines. `chosen` None: every line, whole (what is left of it uncredited).

    A quantity credits that share of the line's net (rounded down to the minor unit; all that is
    left when it is all the quantity left); a net credits that amount and stands for that share of
    the quantity (to six places, rounded down). Each credit note line bears its invoice line's VAT.
    """
    by_position = {line.position: line for line in lines}
    quantum = Decimal(1).scaleb(-minor_unit_exponent(currency))
    # The whole invoice: every line with something left to credit.
    picks = [LineCredit(line.position) for line in lines if line.net > credited.get(line.position, NO_BILL).net
             ] if chosen is None else list(chosen)
    if not picks:
        raise RuleViolation(CREDIT_EXCEEDS_LINE, "every line is already credited in full",
                            errors=[{"field": "lines", "message": "nothing left to credit"}])
    positions = [pick.position for pick in picks]
    problems = [{"field": f"lines.{i}.position", "message": f"line {pick.position} is listed twice"}
                for i, pick in enumerate(picks) if positions.index(pick.position) != i]
    problems += [{"field": f"lines.{i}.position", "message": f"the invoice has no line {pick.position}"}
                 for i, pick in enumerate(picks) if pick.position not in by_position]
    if problems:
        raise RuleViolation(CREDIT_LINE_UNKNOWN, "; ".join(p["message"] for p in problems), errors=problems)
    result = []
    for i, pick in enumerate(picks):
        line = by_position[pick.position]
        done = credited.get(line.position, NO_BILL)
        left_net, left_quantity = line.net - done.net, line.quantity - done.quantity
        field = f"lines.{i}"
        if pick.quantity is not None and pick.net is not None:
            raise RuleViolation(CREDIT_LINE_INVALID, "a line is credited by quantity or by net, not both",
                                errors=[{"field": field, "message": "give quantity or net"}])
        if pick.quantity is not None:
            if not 0 < pick.quantity <= left_quantity:
                raise RuleViolation(CREDIT_EXCEEDS_LINE, f"line {line.position} has {left_quantity} left to credit",
                                    errors=[{"field": f"{field}.quantity", "message": f"at most {left_quantity}"}])
            quantity = pick.quantity
            # Its share of what is left of the net, rounded down: what is left of the quantity
            # always has some net left to credit with it, whatever was credited by net before.
            net = left_net if quantity == left_quantity else (left_net * quantity / left_quantity).quantize(
                quantum, rounding=ROUND_DOWN)
        elif pick.net is not None:
            if pick.currency is not None and pick.currency != currency:
                raise RuleViolation(CREDIT_LINE_INVALID, f"the invoice is in {currency}, not {pick.currency}",
                                    errors=[{"field": f"{field}.net.currency", "message": f"must be {currency}"}])
            if not 0 < pick.net <= left_net or pick.net != pick.net.quantize(quantum):
                raise RuleViolation(CREDIT_EXCEEDS_LINE, f"line {line.position} has {left_net} {currency} net left "
                                    "to credit", errors=[{"field": f"{field}.net", "message": f"at most {left_net}, "
                                                          f"in whole {currency} minor units"}])
            net = pick.net
            quantity = left_quantity if net == left_net else max(Decimal(0), min(
                (left_quantity * net / left_net).quantize(_QUANTITY_PLACES, rounding=ROUND_DOWN),
                left_quantity - _QUANTITY_PLACES))  # some quantity stays with the net that stays
        else:
            net, quantity = left_net, left_quantity
        if net <= 0:
            message = (f"line {line.position} is already credited in full" if left_net <= 0 else
                       f"{quantity} of line {line.position} is worth less than one {currency} minor unit")
            raise RuleViolation(CREDIT_EXCEEDS_LINE, message, errors=[{"field": field, "message": message}])
        result.append(InvoiceLine(position=line.position, code=line.code, description=line.description,
                                  quantity=quantity, unit=line.unit, unit_price=line.unit_price,
                                  discount=Decimal(0), net=net, vat=line.vat, milestone=line.milestone))
    return result


CREDIT_LINE_UNKNOWN = "credit-line-unknown"
CREDIT_LINE_INVALID = "credit-line-invalid"
CREDIT_EXCEEDS_LINE = "credit-exceeds-line"
