"""The billing plan: a signed contract as finance bills it (section 4 of the LTC domain).

Finance computes each instalment's amount from its percentage with `Money.split`: every
instalment but the last is its percentage of the contract value rounded *down* to the currency's
minor unit, and the last takes the remainder, so the parts always add up exactly to the value; a
contract whose stated amounts differ is refused. An amendment re-plans only what is not yet
invoiced: an issued invoice is never changed by it.

An instalment is invoiced when its trigger happens (signing, acceptance of its milestone, or its
date). The contract is fully paid when every instalment is invoiced and nothing is left open on
it. The plan's row is also the lock that serialises all cash on one contract.

**Lines.** The plan keeps the contract's lines (net; a contract signed without lines is billed as
one line of its value). Each invoice bills lines, by `ltc.finance.domain.lines`: a line delivered
with a milestone is billed, whole, by that milestone's instalments; every other line is pro-rated
over the other instalments. VAT is decided on each invoice (`vat_of`), so an invoice's amount is
its gross: receivables and cash are gross, the value and the instalments net.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from enum import StrEnum
from typing import Any

from ltc.finance.domain.invoice import Invoice
from ltc.finance.domain.lines import NO_BILL, Billed, InvoiceLine, bill
from ltc.finance.domain.tax import InvoiceTotals, TaxedLine, Vat
from ltc.shared.lines import SalesLine
from ltc.shared.messages import EventPayload, Lineage, MoneyPayload
from ltc.shared.messages.contracts_events import Trigger
from ltc.shared.messages.finance_events import ContractFullyPaid
from ltc.shared.money import Money, MoneyAttribute
from ltc.shared.rules import DomainError, RuleViolation


class InstalmentStatus(StrEnum):
    PLANNED = "planned"
    INVOICED = "invoiced"


CONTRACT_VALUE_LINE = "Contracted value"
LINE_BELOW_INVOICED = "line-below-invoiced"


@dataclass(frozen=True)
class InstalmentTerms:
    """One line of the contract's payment schedule, as signed or amended."""

    name: str
    percent: Decimal
    amount: Money
    trigger: Trigger
    milestone_id: uuid.UUID | None
    due_days: int
    invoice_on: date | None = None


def _check_lines(value: Money, schedule: Sequence[InstalmentTerms]) -> None:
    if not schedule:
        raise DomainError("billing-plan-empty", "the contract has no payment schedule to bill")
    names = [t.name for t in schedule]
    if len(set(names)) != len(names):
        raise DomainError("instalment-names-not-unique", "instalment names must be unique within a contract")
    for terms in schedule:
        if terms.amount.currency != value.currency:
            raise DomainError("currency-mismatch",
                              f"instalment {terms.name!r} is in {terms.amount.currency}, "
                              f"the contract in {value.currency}")
        if terms.amount.amount <= 0:
            raise DomainError("instalment-amount-not-positive",
                              f"instalment {terms.name!r} must bill a positive amount")
        if terms.due_days < 0:
            raise DomainError("instalment-due-days-negative", f"instalment {terms.name!r} has negative payment days")
        if terms.trigger is Trigger.MILESTONE and terms.milestone_id is None:
            raise DomainError("instalment-milestone-missing",
                              f"instalment {terms.name!r} is billed on a milestone but names none")
        if terms.trigger is Trigger.DATE and terms.invoice_on is None:
            raise DomainError("instalment-date-missing",
                              f"instalment {terms.name!r} is billed on a date but names none")
    total = sum((t.amount for t in schedule), Money.zero(value.currency))
    if total != value:
        raise DomainError("billing-plan-incomplete",
                          f"the instalments add up to {total.amount} {total.currency}, "
                          f"the contract value is {value.amount} {value.currency}")


def check_schedule(value: Money, schedule: Sequence[InstalmentTerms]) -> None:
    """A signed plan bills the contract value exactly once, split by the documented rounding rule."""
    _check_lines(value, schedule)
    percent_total = sum((t.percent for t in schedule), Decimal(0))
    if percent_total != Decimal(100):
        raise DomainError("billing-plan-incomplete", f"the instalments' percentages add up to {percent_total}, not 100")
    for terms, expected in zip(schedule, value.split([t.percent for t in schedule]), strict=True):
        if terms.amount != expected:
            raise DomainError("instalment-amount-mismatch",
                              f"instalment {terms.name!r} is {terms.percent}% of the value: {expected.amount} "
                              f"(rounded down, the remainder on the last instalment), not {terms.amount.amount}")


class Instalment:
    def __init__(self, *, id: uuid.UUID, position: int, terms: InstalmentTerms) -> None:
        self.id = id
        self.status = InstalmentStatus.PLANNED
        self.invoice_id: uuid.UUID | None = None
        # Why a due instalment is not invoiced yet (no bill-to, no tax rule, ...): it is tried again
        # when what it waits for changes, and shown to the clerk meanwhile.
        self.hold_reason: str | None = None
        self.replan(position, terms)

    def replan(self, position: int, terms: InstalmentTerms) -> None:
        self.position = position
        self.hold_reason = None  # re-planned: tried again as it now is, if it is due
        self.name = terms.name
        self.percent = terms.percent
        self.amount = terms.amount.amount
        self.trigger = terms.trigger
        self.milestone_id = terms.milestone_id
        self.due_days = terms.due_days
        self.invoice_on = terms.invoice_on

    def same_terms(self, terms: InstalmentTerms) -> bool:
        return (self.amount == terms.amount.amount and self.trigger is terms.trigger
                and self.milestone_id == terms.milestone_id and self.due_days == terms.due_days)


class BillingPlan:
    """The contract as finance bills it; also the lock that serialises all cash on one contract."""

    events: list[EventPayload]

    value = MoneyAttribute("value_amount")
    collected = MoneyAttribute("collected_amount")
    credited = MoneyAttribute("credited_amount")
    written_off = MoneyAttribute("written_off_amount")
    unconfirmed = MoneyAttribute("unconfirmed_amount")  # of `collected`: no statement has shown it yet

    def __init__(self, *, id: uuid.UUID, contract_id: uuid.UUID, account_id: uuid.UUID | None, lineage: Lineage,
                 signed_on: date, value: Money, schedule: Sequence[InstalmentTerms], now: datetime,
                 account_name: str | None = None, won_on: date | None = None,
                 lead_created_on: date | None = None, lines: Sequence[SalesLine] = (),
                 milestones: Mapping[str, uuid.UUID] | None = None) -> None:
        check_schedule(value, schedule)
        self.id = id
        self.contract_id = contract_id
        self.account_id = account_id
        self.account_name = account_name
        self.lead_id = lineage.lead_id
        self.opportunity_id = lineage.opportunity_id
        self.signed_on = signed_on
        self.won_on = won_on
        self.lead_created_on = lead_created_on
        self.currency = value.currency
        self.value_amount = value.amount
        self.collected_amount = Decimal(0)
        self.credited_amount = Decimal(0)
        self.written_off_amount = Decimal(0)
        self.unconfirmed_amount = Decimal(0)
        self.contract_version = 1
        self.accepted_milestones: list[uuid.UUID] = []
        self.first_invoiced_on: date | None = None
        self.fully_paid_on: date | None = None
        self.instalments = [Instalment(id=uuid.uuid4(), position=i, terms=t) for i, t in enumerate(schedule)]
        self.invoiced_gross = Decimal(0)
        self.line_billed: dict[str, dict[str, str]] = {}
        self._set_lines(value, lines, milestones or {})
        self.created_at = now
        self.events = []

    def _set_lines(self, value: Money, lines: Sequence[SalesLine], milestones: Mapping[str, uuid.UUID]) -> None:
        lines = tuple(lines) or (SalesLine(1, CONTRACT_VALUE_LINE, Decimal(1), "C62", value),)
        total = sum((line.net for line in lines), Money.zero(value.currency))
        if total != value:
            raise DomainError("billing-plan-incomplete", f"the lines add up to {total.amount}, the contract value "
                              f"is {value.amount} {value.currency}")
        unknown = sorted({line.milestone for line in lines if line.milestone and line.milestone not in milestones})
        if unknown:
            raise DomainError("line-milestone-unknown", f"lines name milestones the contract lacks: {unknown}")
        for position, was in self.line_billed.items():
            line = next((x for x in lines if x.position == int(position)), None)
            billed = Billed(Decimal(was["net"]), Decimal(was["quantity"]))
            if line is None or line.net.amount < billed.net or line.quantity < billed.quantity:
                raise DomainError(LINE_BELOW_INVOICED, f"line {position} is invoiced for {billed.quantity} "
                                  f"({billed.net} {value.currency} net); it cannot be reduced below that")
        self.lines = lines
        self.line_milestones = {name: str(milestone_id) for name, milestone_id in milestones.items()
                                if any(line.milestone == name for line in lines)}
        for instalment in self.instalments:
            if instalment.status is InstalmentStatus.PLANNED:
                self._group(instalment)  # every group's lines and instalments add up, or this refuses

    def billed(self) -> dict[int, Billed]:
        return {int(p): Billed(Decimal(b["net"]), Decimal(b["quantity"])) for p, b in self.line_billed.items()}

    def _group(self, instalment: Instalment) -> tuple[list[SalesLine], list[Money]]:
        """The lines `instalment` bills and the amounts of its group's other uninvoiced instalments."""
        by_id = {uuid.UUID(i): name for name, i in self.line_milestones.items()}
        milestone = by_id.get(instalment.milestone_id) if instalment.trigger is Trigger.MILESTONE else None

        def group_of(other: Instalment) -> str | None:
            return by_id.get(other.milestone_id) if other.trigger is Trigger.MILESTONE else None

        lines = [line for line in self.lines if (line.milestone if line.milestone in self.line_milestones else None)
                 == milestone]
        later = [Money(i.amount, self.currency) for i in self.instalments
                 if i is not instalment and i.status is InstalmentStatus.PLANNED and group_of(i) == milestone]
        billed = self.billed()
        left = sum((line.net.amount - billed.get(line.position, NO_BILL).net for line in lines), Decimal(0))
        due = instalment.amount + sum((m.amount for m in later), Decimal(0))
        if left != due:
            what = f"the lines delivered with {milestone!r}" if milestone else "the lines billed by percentage"
            raise DomainError("billing-plan-incomplete", f"{what} leave {left} {self.currency} to invoice, "
                              f"their instalments {due}")
        return lines, later

    def lineage(self) -> Lineage:
        return Lineage(lead_id=self.lead_id, opportunity_id=self.opportunity_id, contract_id=self.contract_id)

    @property
    def invoiced(self) -> Money:
        """Net: what of the value is invoiced."""
        return Money(sum((i.amount for i in self.instalments if i.status is InstalmentStatus.INVOICED), Decimal(0)),
                     self.currency)

    invoiced_gross_money = MoneyAttribute("invoiced_gross")

    @property
    def open_balance(self) -> Money:
        """Invoiced (gross), neither collected, credited nor written off: what the customer owes today."""
        return self.invoiced_gross_money - self.collected - self.credited - self.written_off

    @property
    def fully_settled(self) -> bool:
        return (all(i.status is InstalmentStatus.INVOICED for i in self.instalments)
                and self.open_balance.is_zero() and self.unconfirmed.is_zero())

    def invoiceable(self, today: date) -> list[Instalment]:
        """Planned instalments whose trigger has happened: signed, milestone accepted, or date reached."""
        return [i for i in self.instalments if i.status is InstalmentStatus.PLANNED and (
            i.trigger is Trigger.SIGNING
            or (i.trigger is Trigger.MILESTONE and i.milestone_id in self.accepted_milestones)
            or (i.trigger is Trigger.DATE and i.invoice_on is not None and i.invoice_on <= today))]

    def accept_milestone(self, milestone_id: uuid.UUID) -> list[Instalment]:
        """Remember the acceptance (a later amendment may bill on it) and return what it makes invoiceable."""
        if milestone_id not in self.accepted_milestones:
            self.accepted_milestones = [*self.accepted_milestones, milestone_id]
        return [i for i in self.instalments if i.trigger is Trigger.MILESTONE and i.milestone_id == milestone_id
                and i.status is InstalmentStatus.PLANNED]

    def amend(self, *, contract_version: int, value: Money, schedule: Sequence[InstalmentTerms],
              on: date, lines: Sequence[SalesLine] = (), milestones: Mapping[str, uuid.UUID] | None = None) -> bool:
        """Re-plan what is not invoiced yet; False when this version (or a later one) is already planned.

        An invoiced instalment must come back unchanged: an issued invoice is corrected only by a
        credit note, never silently by an amendment.
        """
        if contract_version <= self.contract_version:
            return False
        if value.currency != self.currency:
            raise DomainError("currency-mismatch", f"the contract is billed in {self.currency}, not {value.currency}")
        _check_lines(value, schedule)
        by_name = {t.name: t for t in schedule}
        for instalment in self.instalments:
            if instalment.status is not InstalmentStatus.INVOICED:
                continue
            terms = by_name.get(instalment.name)
            if terms is None or not instalment.same_terms(terms):
                raise DomainError("invoiced-instalment-changed",
                                  f"instalment {instalment.name!r} is invoiced; correct it with a credit note, "
                                  "not by an amendment")
        existing = {i.name: i for i in self.instalments}
        replanned: list[Instalment] = []
        for position, terms in enumerate(schedule):
            instalment = existing.get(terms.name)
            if instalment is None:
                instalment = Instalment(id=uuid.uuid4(), position=position, terms=terms)
            elif instalment.status is InstalmentStatus.PLANNED:
                instalment.replan(position, terms)
            else:
                instalment.position = position
            replanned.append(instalment)
        self.instalments = replanned
        self.value_amount = value.amount
        self.contract_version = contract_version
        self._set_lines(value, lines, milestones or {})
        if not self.fully_settled:
            # More was added to bill: the contract is reported fully paid again once that is collected.
            self.fully_paid_on = None
        self._settle_if_done(on)
        return True

    def lines_of(self, instalment: Instalment, vat_of: Callable[[SalesLine], Vat]) -> tuple[InvoiceLine, ...]:
        """What the invoice of `instalment` would bill, line by line, with the VAT `vat_of` decides."""
        lines, later = self._group(instalment)
        shares = bill(lines, self.billed(), Money(instalment.amount, self.currency), later)
        invoice_lines = []
        for share in shares:
            line = share.line
            whole = share.net == line.net
            invoice_lines.append(InvoiceLine(
                position=line.position, code=line.code, description=line.description, quantity=share.quantity,
                unit=line.unit, unit_price=line.unit_price.amount,
                discount=line.discount.amount if whole and line.discount is not None else Decimal(0),
                net=share.net.amount, vat=vat_of(line), milestone=line.milestone))
        return tuple(invoice_lines)

    def invoice(self, instalment: Instalment, *, invoice_id: uuid.UUID, number: str, issue_date: date,
                now: datetime, vat_of: Callable[[SalesLine], Vat], bill_to: dict[str, Any] | None = None,
                seller: dict[str, Any] | None = None) -> Invoice:
        """Bill one instalment; each is billed exactly once. Raises (and changes nothing) when its
        VAT cannot be decided; the caller holds the instalment with the reason."""
        if instalment not in self.instalments:
            raise DomainError("instalment-unknown", f"instalment {instalment.name!r} is not on this billing plan")
        if instalment.status is not InstalmentStatus.PLANNED:
            raise DomainError("instalment-already-invoiced", f"instalment {instalment.name!r} is already invoiced")
        lines = self.lines_of(instalment, vat_of)
        buyer_tax_id = (bill_to or {}).get("tax_id")
        totals = InvoiceTotals.of([TaxedLine(Money(line.net, self.currency), line.vat) for line in lines],
                                  buyer_tax_id=buyer_tax_id)
        instalment.status = InstalmentStatus.INVOICED
        instalment.invoice_id = invoice_id
        instalment.hold_reason = None
        billed = self.billed()
        for line in lines:
            was = billed.get(line.position, NO_BILL)
            self.line_billed = {**self.line_billed, str(line.position): {
                "net": str(was.net + line.net), "quantity": str(was.quantity + line.quantity)}}
        self.invoiced_gross = (self.invoiced_gross_money + totals.gross).amount
        if self.first_invoiced_on is None:
            self.first_invoiced_on = issue_date
        return Invoice(id=invoice_id, number=number, plan=self, instalment=instalment, issue_date=issue_date, now=now,
                       bill_to=bill_to, seller=seller, lines=lines, totals=totals)

    def record_collection(self, amount: Money, *, on: date, confirmed: bool = True) -> None:
        """Cash applied to this contract's invoices; the contract is fully paid the day nothing is
        left open and the bank has shown all of the cash."""
        if amount.currency != self.currency:
            raise RuleViolation("currency-mismatch",
                                f"the contract is billed in {self.currency}, not {amount.currency}")
        if self.invoiced_gross_money - self.credited - self.written_off < self.collected + amount:
            raise DomainError("over-collection", "collections cannot exceed what is invoiced and not credited")
        self.collected_amount = (self.collected + amount).amount
        if not confirmed:
            self.unconfirmed_amount = (self.unconfirmed + amount).amount
        self._settle_if_done(on)

    def confirm_collection(self, amount: Money, *, on: date) -> None:
        self.unconfirmed_amount = (self.unconfirmed - amount).amount
        self._settle_if_done(on)

    def return_collection(self, amount: Money, *, confirmed: bool) -> None:
        """Cash the bank returned. A contract already reported fully paid is not reported again:
        the return itself (`payment.returned`) tells its consumers."""
        self.collected_amount = (self.collected - amount).amount
        if not confirmed:
            self.unconfirmed_amount = (self.unconfirmed - amount).amount

    def record_write_off(self, amount: Money, *, on: date) -> None:
        self.written_off_amount = (self.written_off + amount).amount
        self._settle_if_done(on)

    def record_credit(self, amount: Money, *, on: date) -> None:
        self.credited_amount = (self.credited + amount).amount
        self._settle_if_done(on)

    def _settle_if_done(self, on: date) -> None:
        if self.fully_paid_on is None and self.fully_settled and not self.collected.is_zero():
            self.fully_paid_on = on
            self.events.append(ContractFullyPaid(
                lineage=self.lineage(), contract_id=self.contract_id, value=MoneyPayload.of(self.value),
                collected=MoneyPayload.of(self.collected), signed_on=self.signed_on, fully_paid_on=on,
                account_id=self.account_id, credited=MoneyPayload.of(self.credited), won_on=self.won_on,
                first_invoiced_on=self.first_invoiced_on, lead_created_on=self.lead_created_on,
                days_signed_to_cash=(on - self.signed_on).days,
                days_lead_to_cash=(on - self.lead_created_on).days if self.lead_created_on else None,
            ))
