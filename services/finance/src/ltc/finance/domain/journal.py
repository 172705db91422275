"""Journal lines for the ERP general ledger: every finance document as a balanced double entry.

- invoice issued: debit receivable, credit revenue;
- credit note: debit revenue, credit receivable;
- payment received: debit cash for the whole receipt, credit receivable for what was applied on
  receipt and credit unapplied cash (a liability) for the rest;
- unapplied cash applied later: debit unapplied cash, credit receivable.

Each entry's debits equal its credits. The account codes are the ERP's: an admin maintains them as
a policy (`AccountCodes`); until one is set, the deployment's environment gives them.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from dataclasses import asdict, dataclass, fields
from datetime import date
from decimal import Decimal
from enum import StrEnum
from typing import Any

from ltc.finance.domain.invoice import CreditNote, Invoice
from ltc.finance.domain.payment import Payment
from ltc.shared.money import Money
from ltc.shared.rules import RuleViolation

ACCOUNT_CODES_NOT_DISTINCT = "account-codes-not-distinct"


@dataclass(frozen=True)
class AccountCodes:
    """The ERP accounts the entries post to, one per role."""

    receivable: str
    revenue: str
    cash: str
    unapplied_cash: str

    def require_distinct(self) -> None:
        """An entry that debits and credits one account posts nothing: each role has its own account."""
        codes = self.to_json()
        shared = sorted({code for code in codes.values() if list(codes.values()).count(code) > 1})
        if shared:
            raise RuleViolation(ACCOUNT_CODES_NOT_DISTINCT,
                                f"account codes {', '.join(shared)} are given to more than one role",
                                errors=[{"field": role, "message": f"{code} is also another role's account"}
                                        for role, code in codes.items() if code in shared])

    def to_json(self) -> dict[str, str]:
        return asdict(self)

    @classmethod
    def from_json(cls, document: dict[str, Any]) -> AccountCodes:
        return cls(**{f.name: str(document[f.name]) for f in fields(cls)})


class DocumentType(StrEnum):
    """The finance document a journal entry posts."""

    INVOICE = "invoice"
    CREDIT_NOTE = "credit_note"
    PAYMENT = "payment"


@dataclass(frozen=True)
class JournalLine:
    entry_id: str  # the lines of one entry balance; the id is stable across exports
    posting_date: date
    document_type: DocumentType
    document_id: uuid.UUID
    document_number: str
    account_code: str
    debit: Decimal
    credit: Decimal
    currency: str
    contract_id: uuid.UUID | None
    account_id: uuid.UUID | None
    description: str


def _pair(entry_id: str, on: date, doc_type: DocumentType, doc_id: uuid.UUID, number: str, debit_code: str,
          credit_code: str, amount: Decimal, currency: str, contract_id: uuid.UUID | None,
          account_id: uuid.UUID | None, description: str) -> list[JournalLine]:
    zero = Decimal(0) * amount
    common = dict(entry_id=entry_id, posting_date=on, document_type=doc_type, document_id=doc_id,
                  document_number=number, currency=currency, contract_id=contract_id, account_id=account_id,
                  description=description)
    return [JournalLine(account_code=debit_code, debit=amount, credit=zero, **common),
            JournalLine(account_code=credit_code, debit=zero, credit=amount, **common)]


def _amount(amount: Decimal, currency: str) -> Decimal:
    """In the currency's own minor unit, as the ERP books it."""
    return Money(amount, currency).amount


def invoice_lines(invoice: Invoice, codes: AccountCodes) -> list[JournalLine]:
    return _pair(f"invoice:{invoice.id}", invoice.issue_date, DocumentType.INVOICE, invoice.id, invoice.number,
                 codes.receivable, codes.revenue, invoice.amount.amount, invoice.currency, invoice.contract_id,
                 invoice.account_id, f"invoice {invoice.number}, instalment {invoice.instalment}")


def credit_note_lines(note: CreditNote, codes: AccountCodes) -> list[JournalLine]:
    return _pair(f"credit_note:{note.id}", note.issue_date, DocumentType.CREDIT_NOTE, note.id, note.number,
                 codes.revenue, codes.receivable, note.amount.amount, note.currency, note.contract_id, note.account_id,
                 f"credit note {note.number} on invoice {note.invoice_number}: {note.reason}")


def payment_lines(payment: Payment, codes: AccountCodes, start: date, end: date) -> list[JournalLine]:
    """The receipt's entry if its value date is in range, and each later application in range."""
    lines: list[JournalLine] = []
    common = dict(document_type=DocumentType.PAYMENT, document_id=payment.id, document_number=payment.bank_reference,
                  currency=payment.currency, account_id=payment.account_id)
    zero = Decimal(0) * payment.amount.amount
    if start <= payment.value_date <= end:
        entry = f"payment:{payment.id}"
        lines.append(JournalLine(entry_id=entry, posting_date=payment.value_date, account_code=codes.cash,
                                 debit=payment.amount.amount, credit=zero, contract_id=payment.contract_id,
                                 description=f"receipt {payment.bank_reference} from {payment.payer}", **common))
        at_receipt = [a for a in payment.applications if a.at_receipt]
        for application in at_receipt:
            lines.append(JournalLine(entry_id=entry, posting_date=payment.value_date, account_code=codes.receivable,
                                     debit=zero, credit=_amount(application.amount, payment.currency),
                                     contract_id=application.contract_id,
                                     description=f"applied to invoice {application.invoice_id}", **common))
        held = payment.amount.amount - sum((_amount(a.amount, payment.currency) for a in at_receipt), zero)
        if held:
            lines.append(JournalLine(entry_id=entry, posting_date=payment.value_date,
                                     account_code=codes.unapplied_cash, debit=zero, credit=held,
                                     contract_id=payment.contract_id, description="held as unapplied cash", **common))
    for application in payment.applications:
        if application.at_receipt or not start <= application.applied_on <= end:
            continue
        lines.extend(_pair(f"application:{application.id}", application.applied_on, DocumentType.PAYMENT, payment.id,
                           payment.bank_reference, codes.unapplied_cash, codes.receivable,
                           _amount(application.amount, payment.currency),
                           payment.currency, application.contract_id, payment.account_id,
                           f"unapplied cash applied to invoice {application.invoice_id}"))
    return lines


def journal(*, invoices: Iterable[Invoice], credit_notes: Iterable[CreditNote], payments: Iterable[Payment],
            codes: AccountCodes, start: date, end: date) -> list[JournalLine]:
    """Every line posted from `start` to `end` (inclusive), ordered by date then entry."""
    lines: list[JournalLine] = []
    lines.extend(line for i in invoices if start <= i.issue_date <= end for line in invoice_lines(i, codes))
    lines.extend(line for n in credit_notes if start <= n.issue_date <= end for line in credit_note_lines(n, codes))
    for payment in payments:
        lines.extend(payment_lines(payment, codes, start, end))
    return sorted(lines, key=lambda line: (line.posting_date, line.entry_id))
