"""What is sold, line by line: agreed at ATC, kept on the contract, billed by finance.

A line: its position, the seller's product or service code, a description, a quantity in a UN/ECE
Rec 20 unit, a net unit price, a line discount (an amount off the line), whether it is goods or a
service, the VAT it bears if one was agreed for it, and the delivery milestone it is delivered with
(its invoice is that milestone's). Its net is quantity × unit price − discount, exactly: a net finer
than the currency allows is refused, never rounded.

**Net, not gross.** Line nets, the contract value and the billing plan are all net of VAT: the lines
add up to the value. VAT is decided per invoice when it is issued (by finance's tax rules, from
the seller's and the buyer's country, unless the line carries an agreed VAT such as an exemption),
and receivables and payments work on each invoice's gross payable amount.

VAT categories are EN 16931's (UNTDID 5305 subset): S standard, Z zero rated, E exempt (with a
reason), AE reverse charge, K intra-community supply, G export outside the EU, O outside the scope
of VAT. Each needs what EN 16931 requires of it: a positive rate for S; a rate of 0 for Z, E, AE,
K and G; no rate for O; an exemption reason for E, AE, K, G and O. A rate is below 100 with at most
two decimals. EN 16931 keeps O (outside the scope of VAT) off invoices with any other category and
off invoices naming VAT ids: an invoice of O lines is of O lines alone.

Pure: the opportunities, contracts and finance domains all check lines with these rules.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass
from decimal import Decimal
from enum import StrEnum

from ltc.shared.money import Money, MoneyError
from ltc.shared.units import is_unit_code

QUANTITY_PLACES = Decimal("0.000001")


class TaxCategory(StrEnum):
    STANDARD = "S"
    ZERO = "Z"
    EXEMPT = "E"
    REVERSE_CHARGE = "AE"
    INTRA_COMMUNITY = "K"
    EXPORT = "G"
    OUT_OF_SCOPE = "O"


NEEDS_REASON = frozenset({TaxCategory.EXEMPT, TaxCategory.REVERSE_CHARGE, TaxCategory.INTRA_COMMUNITY,
                          TaxCategory.EXPORT, TaxCategory.OUT_OF_SCOPE})
NEEDS_BUYER_TAX_ID = frozenset({TaxCategory.REVERSE_CHARGE, TaxCategory.INTRA_COMMUNITY})


@dataclass(frozen=True)
class Vat:
    """The VAT a line bears."""

    category: TaxCategory
    rate: Decimal | None  # percent; None only for O
    exemption_reason: str | None = None

    def problems(self, field: str) -> list[dict[str, str]]:
        found = []
        if self.category is TaxCategory.STANDARD and not (self.rate is not None and self.rate > 0):
            found.append({"field": f"{field}.rate", "message": "a standard-rated line needs a positive rate"})
        elif self.rate is not None and not (self.rate.is_finite() and self.rate < 100
                                            and self.rate == self.rate.quantize(Decimal("0.01"))):
            # VAT rates are below 100% and have at most two decimals (5.5, 8.1, 13.5): anything
            # else is a typing error that would put an absurd tax on an invoice.
            found.append({"field": f"{field}.rate", "message": "a VAT rate is below 100, with at most two decimals"})
        if self.category is TaxCategory.OUT_OF_SCOPE and self.rate is not None:
            found.append({"field": f"{field}.rate", "message": "a line outside the scope of VAT has no rate"})
        if self.category not in (TaxCategory.STANDARD, TaxCategory.OUT_OF_SCOPE) and self.rate != 0:
            found.append({"field": f"{field}.rate", "message": f"category {self.category.value} has the rate 0"})
        if self.category in NEEDS_REASON and not (self.exemption_reason or "").strip():
            found.append({"field": f"{field}.exemption_reason",
                          "message": f"category {self.category.value} needs the reason it bears no VAT"})
        return found


class Supply(StrEnum):
    """Goods or services: the tax rules treat them differently across borders."""

    GOODS = "goods"
    SERVICES = "services"


@dataclass(frozen=True)
class SalesLine:
    position: int  # 1-based, unique within the terms
    description: str
    quantity: Decimal
    unit: str  # UN/ECE Rec 20
    unit_price: Money  # net, per unit
    code: str | None = None
    discount: Money | None = None  # off the whole line
    supply: Supply = Supply.SERVICES
    vat: Vat | None = None  # agreed for this line; None: finance's tax rules decide on each invoice
    milestone: str | None = None  # the delivery milestone's name

    @property
    def gross_amount(self) -> Decimal:
        return self.quantity * self.unit_price.amount

    @property
    def net(self) -> Money:
        """Quantity × unit price − discount; raises MoneyError when finer than the currency allows."""
        discount = self.discount.amount if self.discount is not None else Decimal(0)
        return Money(self.gross_amount - discount, self.unit_price.currency)


def line_problems(lines: Sequence[SalesLine], *, value: Money | None, milestones: Collection[str],
                  field: str = "lines") -> list[dict[str, str]]:
    """Every reason these lines cannot be contracted on, each naming its field (empty: they can).

    They must be at least one; positions unique; each quantity positive in a known unit; each net
    exact in the value's currency and not negative; an agreed VAT complete; a milestone one of the
    terms'; and together they add up to the value exactly.
    """
    found: list[dict[str, str]] = []

    def problem(where: str, message: str) -> None:
        found.append({"field": where, "message": message})

    if not lines:
        problem(field, "at least one line is needed")
        return found
    first_at: dict[int, int] = {}
    total = Decimal(0)
    complete = True
    for index, line in enumerate(lines):
        at = f"{field}.{index}"
        if line.position in first_at:
            problem(f"{at}.position", f"position {line.position} is already line {first_at[line.position]}'s")
        first_at.setdefault(line.position, index)
        if not line.description.strip():
            problem(f"{at}.description", "a line needs a description")
        if not is_unit_code(line.unit):
            problem(f"{at}.unit", f"{line.unit!r} is not a UN/ECE Rec 20 unit code (e.g. C62 one, HUR hour)")
        if line.vat is not None:
            found.extend(line.vat.problems(f"{at}.vat"))
        if line.milestone is not None and line.milestone not in milestones:
            problem(f"{at}.milestone", f"{line.milestone!r} is not one of the delivery milestones")
        currency = value.currency if value is not None else line.unit_price.currency
        checked = _amount_problems(line, currency, at, problem)
        if checked is None:
            complete = False
        else:
            total += checked
    if complete and value is not None and total != value.amount:
        problem(field, f"the lines add up to {total} {value.currency}, not the value {value.amount}")
    return found


def _amount_problems(line: SalesLine, currency: str, at: str,
                     problem: Callable[[str, str], None]) -> Decimal | None:
    """The line's net, or None after naming why it has none."""
    if not line.quantity.is_finite() or line.quantity <= 0:
        problem(f"{at}.quantity", "must be positive")
        return None
    if line.quantity != line.quantity.quantize(QUANTITY_PLACES):
        # Invoices bill shares of a quantity to six places; a finer one (or one so long that
        # quantity x price is rounded by the arithmetic) could not be billed exactly.
        problem(f"{at}.quantity", "at most six decimal places")
        return None
    for name, money in (("unit_price", line.unit_price), ("discount", line.discount)):
        if money is not None and money.currency != currency:
            problem(f"{at}.{name}.currency", f"must be the contract currency {currency}")
            return None
    if line.unit_price.amount < 0:
        problem(f"{at}.unit_price.amount", "must not be negative")
        return None
    if line.discount is not None and not 0 <= line.discount.amount <= line.gross_amount:
        problem(f"{at}.discount.amount", "must be between 0 and quantity × unit price")
        return None
    try:
        return line.net.amount
    except MoneyError:
        problem(at, f"quantity × unit price is finer than {currency} allows")
        return None


@dataclass(frozen=True)
class Instalment:
    """What the milestone rule needs of an instalment: its amount and the milestone it is due on."""

    name: str
    amount: Money
    milestone: str | None  # None: due on signing or on a date


def milestone_problems(lines: Sequence[SalesLine], instalments: Sequence[Instalment],
                       field: str = "lines") -> list[dict[str, str]]:
    """A line delivered with a milestone is invoiced by that milestone's instalments, whole, and
    they invoice nothing else; so for every milestone some line names, the instalments due on it
    must add up to exactly the nets of its lines, and there must be some. (The other lines are
    spread over the other instalments by finance's pro-rating rule.) Meant for lines without
    `line_problems`: it does not repeat theirs."""
    found: list[dict[str, str]] = []
    named = sorted({line.milestone for line in lines if line.milestone is not None})
    for milestone in named:
        try:
            lines_net = sum((line.net.amount for line in lines if line.milestone == milestone), Decimal(0))
        except MoneyError:
            continue  # line_problems names that line
        due = [i for i in instalments if i.milestone == milestone]
        billed = sum((i.amount.amount for i in due), Decimal(0))
        if billed != lines_net:
            found.append({"field": field, "message": (
                f"the lines delivered with {milestone!r} are {lines_net} net, the instalments due on it "
                f"{'are ' + str(billed) if due else 'are none'}: a milestone's instalments invoice its lines, whole")})
    return found
