"""What finance has invoiced of each line of a contract, and the floor it sets for an amendment.

Finance bills a signed contract line by line (`invoice.issued`, each invoice line naming the
contract line's position) and corrects it with credit notes (`invoice.credited`). What has been
invoiced of a line is a fact an amendment cannot undo: it may reprice, add or remove lines, but a
line keeps at least the quantity and the net already invoiced of it, and an invoiced line stays.
Otherwise the contract would say less was sold than its invoices bill. A credit note does not
lower that floor: it corrects an invoice, it does not un-bill the line (finance bills each
instalment once, and refuses an amendment below what it billed).

A contract without lines (drafted before lines travelled) is billed by finance as one line of its
value; that line is finance's, not the contract's, so there is nothing here to hold its amendments
to (the value already invoiced is `plan`'s rule: `amendment-value-already-invoiced`).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal

from ltc.contracts.domain.values import LineItem
from ltc.shared.money import Money
from ltc.shared.rules import RuleViolation

LINE_BELOW_INVOICED = "line-below-invoiced"


@dataclass(frozen=True)
class Invoiced:
    """Invoiced so far of one contract line (by invoices; credit notes do not lower it)."""

    quantity: Decimal
    net: Money

    @property
    def anything(self) -> bool:
        return self.quantity > 0 or self.net.amount > 0

    def describe(self, unit: str | None) -> str:
        quantity = f"{self.quantity.normalize():f}" + (f" {unit}" if unit else "")
        return f"{quantity} for {self.net.amount} {self.net.currency} net"


def below_invoiced(current: Sequence[LineItem], proposed: Sequence[LineItem], invoiced: Mapping[int, Invoiced],
                   field: str = "line_items") -> list[dict[str, str]]:
    """Every proposed line that would fall below what is invoiced of it, and every invoiced line
    the proposal leaves out, each naming its field and what is invoiced (empty: none)."""
    if not current:
        return []
    units = {line.position: line.unit for line in current}
    found: list[dict[str, str]] = []
    at = {line.position: index for index, line in enumerate(proposed)}
    for position, billed in sorted(invoiced.items()):
        if not billed.anything:
            continue  # credited in full: nothing of it stands invoiced
        what = billed.describe(units.get(position))
        details = {"position": str(position), "invoiced_quantity": f"{billed.quantity.normalize():f}",
                   "invoiced_net": str(billed.net.amount)}
        index = at.get(position)
        if index is None:
            found.append({"field": field, **details,
                          "message": f"line {position} is invoiced ({what}); it cannot be removed"})
            continue
        line = proposed[index]
        if line.quantity < billed.quantity:
            found.append({"field": f"{field}.{index}.quantity", **details,
                          "message": f"line {position} is invoiced ({what}); its quantity {line.quantity} "
                                     "is below that"})
        net = line.net.amount  # exact: the lines passed the terms' rules before this
        if net < billed.net.amount:
            found.append({"field": f"{field}.{index}", **details,
                          "message": f"line {position} is invoiced ({what}); its net {net} is below that"})
    return found


def refuse_below_invoiced(current: Sequence[LineItem], proposed: Sequence[LineItem],
                          invoiced: Mapping[int, Invoiced]) -> None:
    problems = below_invoiced(current, proposed, invoiced)
    if problems:
        raise RuleViolation(LINE_BELOW_INVOICED,
                            "the amendment takes lines below what is already invoiced of them: "
                            + "; ".join(p["message"] for p in problems), errors=problems)
