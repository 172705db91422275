"""Invoices and the credit notes that correct them.

An invoice bills one instalment of a billing plan; numbers run gap-free per calendar year. It
takes payments up to what is open on it and is paid when nothing is. A credit note corrects an
issued invoice by reducing what is open on it, never by changing the invoice: paid money is
refunded, not credited.
"""

from __future__ import annotations

import uuid
from datetime import date, datetime, timedelta
from decimal import Decimal
from enum import StrEnum
from typing import TYPE_CHECKING, Any

from ltc.finance.domain.lines import InvoiceLine
from ltc.finance.domain.tax import InvoiceTotals, TaxBreakdown
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
    PAID = "paid"
    CREDITED = "credited"  # settled by credit notes alone: nothing was, or is, to be paid


OPEN_STATUSES = (InvoiceStatus.ISSUED, InvoiceStatus.PARTIALLY_PAID)


def invoice_number(year: int, sequence: int) -> str:
    """`INV-2026-000001`: numbered per calendar year without gaps, as tax authorities expect."""
    return f"INV-{year}-{sequence:06d}"


def credit_note_number(year: int, sequence: int) -> str:
    """`CN-2026-000001`: credit notes have their own gap-free yearly sequence."""
    return f"CN-{year}-{sequence:06d}"


class Invoice:
    events: list[EventPayload]

    amount = MoneyAttribute("amount_due")
    paid = MoneyAttribute("paid_amount")
    credited = MoneyAttribute("credited_amount")

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
        self.net_amount = totals.net.amount
        self.tax_amount = totals.tax.amount
        self.amount_due = totals.gross.amount
        self.paid_amount = Decimal(0)
        self.credited_amount = Decimal(0)
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
            buyer_reference=(bill_to or {}).get("buyer_reference"),
        )]

    def lineage(self) -> Lineage:
        return Lineage(lead_id=self.lead_id, opportunity_id=self.opportunity_id, contract_id=self.contract_id)

    @property
    def open_amount(self) -> Money:
        return self.amount - self.paid - self.credited

    @property
    def is_open(self) -> bool:
        return not self.open_amount.is_zero()

    def apply(self, amount: Money, *, on: date) -> None:
        """Take part of a payment; an invoice never takes more than it is open for."""
        if amount.currency != self.currency:
            raise RuleViolation("currency-mismatch",
                                f"invoice {self.number} is in {self.currency}, not {amount.currency}")
        if amount.amount <= 0:
            raise DomainError("application-not-positive", "only a positive amount can be applied to an invoice")
        if self.open_amount < amount:
            raise DomainError("invoice-over-applied",
                              f"invoice {self.number} is open for {self.open_amount.amount}, not {amount.amount}")
        self.paid_amount = (self.paid + amount).amount
        if self.open_amount.is_zero():
            self.status = InvoiceStatus.PAID
            self.paid_on = on
            self.events.append(InvoicePaid(lineage=self.lineage(), invoice_id=self.id, contract_id=self.contract_id,
                                           paid_on=on))
        else:
            self.status = InvoiceStatus.PARTIALLY_PAID

    def credit(self, *, credit_note_id: uuid.UUID, number: str, amount: Money, reason: str, issue_date: date,
               issued_by: str, plan: BillingPlan, now: datetime) -> CreditNote:
        """Correct this invoice by a credit note for at most what is still open on it."""
        if plan.contract_id != self.contract_id:
            raise DomainError("invoice-not-of-contract", f"invoice {self.number} is not on this billing plan")
        if not reason.strip():
            raise RuleViolation("credit-reason-required", "a credit note needs the reason for the correction")
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
        if self.open_amount.is_zero():
            self.status = InvoiceStatus.PAID if not self.paid.is_zero() else InvoiceStatus.CREDITED
            if self.status is InvoiceStatus.PAID:
                self.paid_on = issue_date
                self.events.append(InvoicePaid(lineage=self.lineage(), invoice_id=self.id,
                                               contract_id=self.contract_id, paid_on=issue_date))
        note = CreditNote(id=credit_note_id, number=number, invoice=self, amount=amount, reason=reason.strip(),
                          issue_date=issue_date, issued_by=issued_by, now=now)
        plan.record_credit(amount, on=issue_date)
        return note


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

    amount = MoneyAttribute("credit_amount")

    def __init__(self, *, id: uuid.UUID, number: str, invoice: Invoice, amount: Money, reason: str,
                 issue_date: date, issued_by: str, now: datetime) -> None:
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
        self.events = [InvoiceCredited(
            lineage=invoice.lineage(), credit_note_id=id, credit_note_number=number, invoice_id=invoice.id,
            invoice_number=invoice.number, contract_id=invoice.contract_id, account_id=invoice.account_id,
            amount=MoneyPayload.of(amount), reason=reason, issue_date=issue_date,
            invoice_open_amount=MoneyPayload.of(invoice.open_amount),
        )]
