"""Invoices and the credit notes that correct them.

An invoice bills one instalment of a billing plan; numbers run gap-free per calendar year. It
takes payments up to what is open on it and is paid when nothing is. A credit note corrects an
issued invoice by reducing what is open on it, never by changing the invoice: paid money is
refunded, not credited.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import replace
from datetime import date, datetime, timedelta
from decimal import Decimal
from enum import StrEnum
from typing import TYPE_CHECKING, Any

from stdnum.iso7064 import mod_97_10

from ltc.finance.domain.lines import (
    CREDIT_LINE_INVALID,
    NO_BILL,
    Billed,
    InvoiceLine,
    LineCredit,
    credit_lines,
    prorate,
)
from ltc.finance.domain.tax import InvoiceTotals, TaxBreakdown, TaxCategory, TaxedLine, tax_of
from ltc.shared.messages import EventPayload, Lineage, MoneyPayload
from ltc.shared.messages.base import VatPayload
from ltc.shared.messages.finance_events import (
    InvoiceCredited,
    InvoiceIssued,
    InvoiceLinePayload,
    InvoicePaid,
    TaxBreakdownPayload,
)
from ltc.shared.messages.leads_events import BillingIdentitySnapshot
from ltc.shared.money import Money, MoneyAttribute, OptionalMoneyAttribute
from ltc.shared.rules import DomainError, RuleViolation

if TYPE_CHECKING:  # the plan issues invoices; an invoice only reads it and reports credits to it
    from ltc.finance.domain.billing_plan import BillingPlan, Instalment


class InvoiceStatus(StrEnum):
    ISSUED = "issued"
    PARTIALLY_PAID = "partially_paid"
    # Nothing is open, but part of the cash that covers it was recorded by hand and no bank
    # statement has shown it yet: "paid" never runs ahead of the bank.
    IN_PAYMENT = "in_payment"
    PAID = "paid"
    CREDITED = "credited"  # settled by credit notes alone: nothing was, or is, to be paid
    WRITTEN_OFF = "written_off"  # settled without cash: what was left open was written off


OPEN_STATUSES = (InvoiceStatus.ISSUED, InvoiceStatus.PARTIALLY_PAID)


def invoice_number(year: int, sequence: int) -> str:
    """`INV-2026-000001`: numbered per calendar year without gaps, as tax authorities expect."""
    return f"INV-{year}-{sequence:06d}"


def creditor_reference(number: str) -> str:
    """The ISO 11649 structured creditor reference of an invoice: `RF`, two check digits, and the
    invoice number without its dashes (`INV-2026-000001` -> `RF94INV2026000001`). The customer's
    bank carries it to ours unchanged, so a payment quoting it names its invoice beyond doubt."""
    body = number.replace("-", "").upper()
    return f"RF{mod_97_10.calc_check_digits(body + 'RF')}{body}"


def credit_note_number(year: int, sequence: int) -> str:
    """`CN-2026-000001`: credit notes have their own gap-free yearly sequence."""
    return f"CN-{year}-{sequence:06d}"


class Invoice:
    events: list[EventPayload]

    amount = MoneyAttribute("amount_due")
    paid = MoneyAttribute("paid_amount")
    credited = MoneyAttribute("credited_amount")
    written_off = MoneyAttribute("written_off_amount")
    # The part of `paid` whose payments no bank statement has confirmed yet.
    unconfirmed = MoneyAttribute("unconfirmed_amount")

    net = OptionalMoneyAttribute("net_amount")
    tax = OptionalMoneyAttribute("tax_amount")

    def __init__(self, *, id: uuid.UUID, number: str, plan: BillingPlan, instalment: Instalment, issue_date: date,
                 now: datetime, lines: tuple[InvoiceLine, ...], totals: InvoiceTotals,
                 bill_to: dict[str, Any] | None = None, seller: dict[str, Any] | None = None) -> None:
        self.id = id
        self.number = number
        self.contract_id = plan.contract_id
        self.account_id = plan.account_id
        self.lead_id = plan.lead_id
        self.opportunity_id = plan.opportunity_id
        self.instalment_id = instalment.id
        self.instalment = instalment.name
        self.currency = plan.currency
        # What is billed is the gross: the instalment's net (its lines) plus their VAT.
        self.lines = lines
        self.tax_breakdown = totals.breakdown
        self.payment_reference = creditor_reference(number)
        self.net_amount = totals.net.amount
        self.tax_amount = totals.tax.amount
        self.amount_due = totals.gross.amount
        # What credit notes took back of each line (position -> net, quantity) and of each VAT row
        # ("S:19" -> taxable, tax).
        self.line_credited: dict[str, dict[str, str]] = {}
        self.row_credited: dict[str, dict[str, str]] = {}
        self.paid_amount = Decimal(0)
        self.credited_amount = Decimal(0)
        self.written_off_amount = Decimal(0)
        self.unconfirmed_amount = Decimal(0)
        self.issue_date = issue_date
        self.due_date = issue_date + timedelta(days=instalment.due_days)
        self.status = InvoiceStatus.ISSUED
        self.paid_on: date | None = None
        self.created_at = now
        # The parties as they were on issue; never rewritten (a later account change is not this invoice's).
        self.bill_to = bill_to
        self.seller = seller
        self.events = [InvoiceIssued(
            lineage=self.lineage(), invoice_id=id, invoice_number=number, contract_id=self.contract_id,
            account_id=self.account_id, instalment=self.instalment, amount=MoneyPayload.of(self.amount),
            issue_date=issue_date, due_date=self.due_date, net=MoneyPayload.of(totals.net),
            tax=MoneyPayload.of(totals.tax), lines=[line_payload(line, self.currency) for line in lines],
            tax_breakdown=[breakdown_payload(row) for row in totals.breakdown],
            bill_to=BillingIdentitySnapshot.model_validate(bill_to) if bill_to else None,
            buyer_reference=(bill_to or {}).get("buyer_reference"), payment_reference=self.payment_reference,
        )]

    def lineage(self) -> Lineage:
        return Lineage(lead_id=self.lead_id, opportunity_id=self.opportunity_id, contract_id=self.contract_id)

    @property
    def open_amount(self) -> Money:
        """payable = paid + credited + written off + open, always."""
        return self.amount - self.paid - self.credited - self.written_off

    @property
    def is_open(self) -> bool:
        return not self.open_amount.is_zero()

    def apply(self, amount: Money, *, on: date, confirmed: bool = True) -> None:
        """Take part of a payment; an invoice never takes more than it is open for. Cash of a
        payment no statement has shown yet (`confirmed=False`) leaves it `in_payment`, not paid."""
        if amount.currency != self.currency:
            raise RuleViolation("currency-mismatch",
                                f"invoice {self.number} is in {self.currency}, not {amount.currency}")
        if amount.amount <= 0:
            raise DomainError("application-not-positive", "only a positive amount can be applied to an invoice")
        if self.open_amount < amount:
            raise DomainError("invoice-over-applied",
                              f"invoice {self.number} is open for {self.open_amount.amount}, not {amount.amount}")
        self.paid_amount = (self.paid + amount).amount
        if not confirmed:
            self.unconfirmed_amount = (self.unconfirmed + amount).amount
        self._settle(on)

    def confirm(self, amount: Money, *, on: date) -> None:
        """A bank statement showed `amount` of the cash applied here: paid once none is unconfirmed."""
        if self.unconfirmed < amount:
            raise DomainError("confirmation-exceeds-unconfirmed",
                              f"invoice {self.number} has {self.unconfirmed.amount} unconfirmed, not {amount.amount}")
        self.unconfirmed_amount = (self.unconfirmed - amount).amount
        self._settle(on)

    def unapply(self, amount: Money, *, confirmed: bool) -> None:
        """The bank returned a payment: what it paid here is open again (and dunned again)."""
        if self.paid < amount or (not confirmed and self.unconfirmed < amount):
            raise DomainError("return-exceeds-paid", f"invoice {self.number} was not paid {amount.amount} by it")
        self.paid_amount = (self.paid - amount).amount
        if not confirmed:
            self.unconfirmed_amount = (self.unconfirmed - amount).amount
        self.paid_on = None
        self._settle(None)

    def write_off(self, amount: Money, *, on: date) -> None:
        """Settle `amount` of what is open without cash (the write-off itself is recorded apart)."""
        if amount.currency != self.currency:
            raise RuleViolation("currency-mismatch",
                                f"invoice {self.number} is in {self.currency}, not {amount.currency}")
        if amount.amount <= 0:
            raise RuleViolation("write-off-not-positive", "a write-off must be a positive amount")
        if self.open_amount < amount:
            raise RuleViolation("write-off-exceeds-open-amount",
                                f"invoice {self.number} is open for {self.open_amount.amount} {self.currency}")
        self.written_off_amount = (self.written_off + amount).amount
        self._settle(on)

    def _settle(self, on: date | None) -> None:
        """The status that follows from the amounts; `invoice.paid` once, the day cash the bank
        confirmed (with credits and write-offs) leaves nothing open."""
        if not self.open_amount.is_zero():
            self.status = InvoiceStatus.ISSUED if self.paid.is_zero() else InvoiceStatus.PARTIALLY_PAID
        elif self.paid.is_zero():
            self.status = InvoiceStatus.CREDITED if self.written_off.is_zero() else InvoiceStatus.WRITTEN_OFF
        elif not self.unconfirmed.is_zero():
            self.status = InvoiceStatus.IN_PAYMENT
        elif self.status is not InvoiceStatus.PAID:
            assert on is not None, "an invoice becomes paid on a day cash arrives, a credit or a write-off"
            self.status = InvoiceStatus.PAID
            self.paid_on = on
            self.events.append(InvoicePaid(lineage=self.lineage(), invoice_id=self.id, contract_id=self.contract_id,
                                           paid_on=on))

    def credit(self, *, credit_note_id: uuid.UUID, number: str, reason: str, issue_date: date, issued_by: str,
               plan: BillingPlan, now: datetime, amount: Money | None = None,
               lines: Sequence[LineCredit] | None = None) -> CreditNote:
        """Correct this invoice by a credit note for at most what is still open on it.

        An invoice with lines is credited line by line, each credit line bearing its invoice line's
        VAT: chosen lines (a quantity or a net of each, or all that is left of it), or every line
        whole when none are chosen. An amount (gross) is credited pro rata over what is left of the
        lines (largest remainder) only where that decides the VAT exactly: on an invoice that bears
        no VAT, and on one issued before invoices had lines. VAT is credited cumulatively
        (`_exact_rows`), so crediting a whole invoice in parts gives back its VAT to the cent.
        """
        if plan.contract_id != self.contract_id:
            raise DomainError("invoice-not-of-contract", f"invoice {self.number} is not on this billing plan")
        if not reason.strip():
            raise RuleViolation("credit-reason-required", "a credit note needs the reason for the correction")
        credit_lines_, totals = self._credit_lines(amount, lines)
        amount = totals.gross if totals is not None else amount
        assert amount is not None
        if amount.currency != self.currency:
            raise RuleViolation("currency-mismatch",
                                f"invoice {self.number} is in {self.currency}, not {amount.currency}")
        if amount.amount <= 0:
            raise RuleViolation("credit-amount-not-positive", "a credit note must be for a positive amount")
        if self.open_amount < amount:
            raise RuleViolation("credit-exceeds-open-amount",
                                f"invoice {self.number} is open for {self.open_amount.amount} {self.currency}; "
                                "paid amounts are refunded, not credited")
        self.credited_amount = (self.credited + amount).amount
        if totals is not None:
            credited = self.credited_lines()
            for line in credit_lines_:
                was = credited.get(line.position, NO_BILL)
                credited[line.position] = Billed(was.net + line.net, was.quantity + line.quantity)
            self.line_credited = {str(p): {"net": str(b.net), "quantity": str(b.quantity)} for p, b in credited.items()}
            taxed = dict(self.row_credited)
            for row in totals.breakdown:
                key = _row_key(row.category, row.rate)
                was = taxed.get(key, {"taxable": "0", "tax": "0"})
                taxed[key] = {"taxable": str(Decimal(was["taxable"]) + row.taxable.amount),
                              "tax": str(Decimal(was["tax"]) + row.tax.amount)}
            self.row_credited = taxed
        self._settle(issue_date)
        note = CreditNote(id=credit_note_id, number=number, invoice=self, amount=amount, reason=reason.strip(),
                          issue_date=issue_date, issued_by=issued_by, now=now, lines=tuple(credit_lines_),
                          totals=totals)
        plan.record_credit(amount, on=issue_date)
        return note

    def credited_lines(self) -> dict[int, Billed]:
        return {int(p): Billed(Decimal(b["net"]), Decimal(b["quantity"])) for p, b in self.line_credited.items()}

    def _credit_lines(self, amount: Money | None, chosen: Sequence[LineCredit] | None
                      ) -> tuple[list[InvoiceLine], InvoiceTotals | None]:
        if not self.lines:
            if amount is None or chosen is not None:
                raise RuleViolation(CREDIT_BY_AMOUNT, f"invoice {self.number} was issued before invoices had lines: "
                                    "it is credited by an amount", errors=[{"field": "amount", "message": "required"}])
            return [], None
        credited = self.credited_lines()
        if amount is not None:
            if chosen is not None:
                raise RuleViolation(CREDIT_LINE_INVALID, "a credit note is for an amount or for lines, not both",
                                    errors=[{"field": "amount", "message": "give amount or lines"}])
            if self.tax is not None and not self.tax.is_zero():
                raise RuleViolation(CREDIT_BY_LINES, f"invoice {self.number} bears VAT: it is credited line by line "
                                    "(whole, or a quantity or net of chosen lines), so its VAT is credited with them",
                                    errors=[{"field": "amount", "message": "credit lines instead"}])
            if amount.currency != self.currency or amount.amount <= 0 or self.open_amount < amount:
                return [], None  # the amount checks name what is wrong with it
            left = [Money(line.net - credited.get(line.position, NO_BILL).net, self.currency) for line in self.lines]
            rest = sum(left, Money.zero(self.currency)) - amount
            shares = prorate(left, [amount, rest])[0]
            chosen = [LineCredit(line.position, net=share.amount)
                      for line, share in zip(self.lines, shares, strict=True) if not share.is_zero()]
        lines = credit_lines(self.lines, credited, chosen, self.currency)
        totals = InvoiceTotals.of([TaxedLine(Money(line.net, self.currency), line.vat) for line in lines],
                                  buyer_tax_id=(self.bill_to or {}).get("tax_id"))
        return lines, self._exact_rows(totals, lines, credited)

    def _exact_rows(self, totals: InvoiceTotals, lines: Sequence[InvoiceLine],
                    credited: dict[int, Billed]) -> InvoiceTotals:
        """Each VAT row of a note takes back the VAT of all that is credited of the row so far,
        rounded once, less what earlier notes took back: never more than the invoice charged, never
        a negative amount, and exactly the row's VAT once its lines are all credited. (So a note's
        VAT may differ by a minor unit from its own taxable times the rate, which EN 16931 allows.)"""
        now = dict(credited)
        for line in lines:
            was = now.get(line.position, NO_BILL)
            now[line.position] = Billed(was.net + line.net, was.quantity + line.quantity)
        rows = []
        for row in totals.breakdown:
            key = _row_key(row.category, row.rate)
            members = [x for x in self.lines if _row_key(x.vat.category, x.vat.rate) == key]
            invoiced = next((r for r in self.tax_breakdown if _row_key(r.category, r.rate) == key), None)
            before = self.row_credited.get(key, {"taxable": "0", "tax": "0"})
            if invoiced is not None and all(now.get(x.position, NO_BILL).net == x.net for x in members):
                cumulative = invoiced.tax
            else:
                cumulative = tax_of(Money(Decimal(before["taxable"]), self.currency) + row.taxable, row.rate)
            rows.append(replace(row, tax=cumulative - Money(Decimal(before["tax"]), self.currency)))
        tax = sum((row.tax for row in rows), Money.zero(self.currency))
        return replace(totals, breakdown=tuple(rows), tax=tax, gross=totals.net + tax, payable=totals.net + tax)


CREDIT_BY_AMOUNT = "credit-by-amount"
CREDIT_BY_LINES = "credit-by-lines"


def _row_key(category: TaxCategory, rate: Decimal | None) -> str:
    return f"{category.value}:{'' if rate is None else format(rate.normalize(), 'f')}"


def line_payload(line: InvoiceLine, currency: str) -> InvoiceLinePayload:
    return InvoiceLinePayload(
        position=line.position, code=line.code, description=line.description, quantity=line.quantity,
        unit=line.unit, unit_price=MoneyPayload(amount=line.unit_price, currency=currency),
        discount=MoneyPayload(amount=line.discount, currency=currency) if line.discount else None,
        net=MoneyPayload(amount=line.net, currency=currency), vat=VatPayload.of(line.vat), milestone=line.milestone)


def breakdown_payload(row: TaxBreakdown) -> TaxBreakdownPayload:
    return TaxBreakdownPayload(category=row.category.value, rate=row.rate, taxable=MoneyPayload.of(row.taxable),
                               tax=MoneyPayload.of(row.tax), exemption_reason=row.exemption_reason)


class CreditNote:
    events: list[EventPayload]

    amount = MoneyAttribute("credit_amount")  # gross
    net = OptionalMoneyAttribute("net_amount")
    tax = OptionalMoneyAttribute("tax_amount")

    def __init__(self, *, id: uuid.UUID, number: str, invoice: Invoice, amount: Money, reason: str,
                 issue_date: date, issued_by: str, now: datetime, lines: tuple[InvoiceLine, ...] = (),
                 totals: InvoiceTotals | None = None) -> None:
        self.id = id
        self.number = number
        self.invoice_id = invoice.id
        self.invoice_number = invoice.number
        self.contract_id = invoice.contract_id
        self.account_id = invoice.account_id
        self.currency = amount.currency
        self.credit_amount = amount.amount
        self.reason = reason
        self.issue_date = issue_date
        self.issued_by = issued_by
        self.created_at = now
        self.lines = lines
        self.tax_breakdown = totals.breakdown if totals is not None else ()
        self.net_amount = totals.net.amount if totals is not None else None
        self.tax_amount = totals.tax.amount if totals is not None else None
        self.events = [InvoiceCredited(
            lineage=invoice.lineage(), credit_note_id=id, credit_note_number=number, invoice_id=invoice.id,
            invoice_number=invoice.number, contract_id=invoice.contract_id, account_id=invoice.account_id,
            amount=MoneyPayload.of(amount), reason=reason, issue_date=issue_date,
            invoice_open_amount=MoneyPayload.of(invoice.open_amount),
            net=MoneyPayload.of(totals.net) if totals is not None else None,
            tax=MoneyPayload.of(totals.tax) if totals is not None else None,
            lines=[line_payload(line, self.currency) for line in lines],
            tax_breakdown=[breakdown_payload(row) for row in self.tax_breakdown],
        )]
