"""Cash as the bank reports it: statements, their entries, and how an entry finds its invoice.

A statement (ISO 20022 camt.053) of one bank account is imported once: the same statement again
(same id and content) answers as the first import did; another file claiming the same statement id
is refused. Each entry becomes a bank transaction, and a credit is matched by these rules, in order,
each recorded on the transaction with its confidence:

1. `creditor-reference` (certain): the structured ISO 11649 reference (or an `RF…` in the free
   text) is an invoice's `payment_reference`;
2. `invoice-number` (high): the free text names an invoice number (`INV-2026-000001`, any case,
   dashes or spaces optional);
3. `amount-and-payer` (medium): the payer's IBAN has paid one account's invoices before (a matched
   transaction says so), and that account's oldest open invoice is open for exactly the amount;
4. otherwise **suspense**: unidentified cash, kept on the transaction, visible, never lost, for a
   clerk to match later.

A matched credit is recorded as a payment of that invoice (its surplus held as unapplied cash,
as any payment's is). A debit (a return, a charge) is kept for review: returns are the next step.
"""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from enum import StrEnum

from stdnum import iso11649

from ltc.shared.money import Money

STATEMENT_CONFLICT = "bank-statement-conflict"
STATEMENT_UNREADABLE = "bank-statement-unreadable"

_INVOICE_NUMBER = re.compile(r"\bINV[-\s]?(\d{4})[-\s]?(\d{6})\b", re.IGNORECASE)
_CREDITOR_REFERENCE = re.compile(r"\bRF\d{2}[0-9A-Z ]{1,25}", re.IGNORECASE)


class TransactionStatus(StrEnum):
    MATCHED = "matched"  # recorded as a payment of the invoice it names
    SUSPENSE = "suspense"  # a credit nobody can identify yet: kept, visible, waiting for a clerk
    TO_REVIEW = "to_review"  # a debit (a return, a charge): not cash in


class MatchRule(StrEnum):
    CREDITOR_REFERENCE = "creditor-reference"
    INVOICE_NUMBER = "invoice-number"
    AMOUNT_AND_PAYER = "amount-and-payer"


CONFIDENCE = {MatchRule.CREDITOR_REFERENCE: "certain", MatchRule.INVOICE_NUMBER: "high",
              MatchRule.AMOUNT_AND_PAYER: "medium"}


@dataclass(frozen=True)
class BankEntry:
    """One entry of a statement, as the bank wrote it."""

    reference: str  # the bank's own reference of the entry (AcctSvcrRef), else the statement's id + position
    amount: Money
    credit: bool
    value_date: date
    booking_date: date | None = None
    counterparty_name: str | None = None
    counterparty_iban: str | None = None
    end_to_end_id: str | None = None
    creditor_reference: str | None = None  # structured, ISO 11649
    remittance: str | None = None  # unstructured
    return_reason: str | None = None  # ISO 20022 return reason code, on a returned payment


@dataclass(frozen=True)
class ParsedStatement:
    statement_id: str
    account_iban: str
    message_type: str  # e.g. camt.053.001.08
    created_at: datetime | None
    entries: tuple[BankEntry, ...]
    fingerprint: str  # SHA-256 of the statement as the file states it (canonical XML)


@dataclass(frozen=True)
class Clue:
    """What an entry says about the invoice it pays, under the rule that read it."""

    rule: MatchRule
    value: str  # a creditor reference, or an invoice number as we write them


def clues(entry: BankEntry) -> list[Clue]:
    """The references an entry carries, in the order the rules try them."""
    found: list[Clue] = []
    texts = [entry.creditor_reference or "", entry.remittance or ""]
    for text in texts:
        for candidate in _CREDITOR_REFERENCE.findall(text):
            compact = candidate.replace(" ", "").upper()
            if iso11649.is_valid(compact) and Clue(MatchRule.CREDITOR_REFERENCE, compact) not in found:
                found.append(Clue(MatchRule.CREDITOR_REFERENCE, compact))
    for year, sequence in _INVOICE_NUMBER.findall(entry.remittance or ""):
        clue = Clue(MatchRule.INVOICE_NUMBER, f"INV-{year}-{sequence}")
        if clue not in found:
            found.append(clue)
    return found


class BankTransaction:
    """An entry of an imported statement, and what became of it."""

    def __init__(self, *, id: uuid.UUID, statement_id: uuid.UUID, position: int, entry: BankEntry,
                 now: datetime) -> None:
        self.id = id
        self.created_at = now  # when it was imported: the order suspense is worked in
        self.statement_id = statement_id
        self.position = position
        self.reference = entry.reference
        self.currency = entry.amount.currency
        self.amount_value = entry.amount.amount
        self.credit = entry.credit
        self.value_date = entry.value_date
        self.booking_date = entry.booking_date
        self.counterparty_name = entry.counterparty_name
        self.counterparty_iban = entry.counterparty_iban
        self.end_to_end_id = entry.end_to_end_id
        self.creditor_reference = entry.creditor_reference
        self.remittance = entry.remittance
        self.return_reason = entry.return_reason
        self.status = TransactionStatus.SUSPENSE if entry.credit else TransactionStatus.TO_REVIEW
        self.rule: MatchRule | None = None
        self.invoice_id: uuid.UUID | None = None
        self.payment_id: uuid.UUID | None = None

    @property
    def money(self) -> Money:
        return Money(Decimal(self.amount_value), self.currency)

    def matched(self, rule: MatchRule, invoice_id: uuid.UUID, payment_id: uuid.UUID) -> None:
        self.status = TransactionStatus.MATCHED
        self.rule = rule
        self.invoice_id = invoice_id
        self.payment_id = payment_id


class BankStatement:
    def __init__(self, *, id: uuid.UUID, parsed: ParsedStatement, imported_by: str, now: datetime) -> None:
        self.id = id
        self.statement_id = parsed.statement_id
        self.account_iban = parsed.account_iban
        self.message_type = parsed.message_type
        self.created_at = parsed.created_at
        self.content_sha256 = parsed.fingerprint
        self.imported_by = imported_by
        self.imported_at = now
        self.transactions = [BankTransaction(id=uuid.uuid4(), statement_id=id, position=i, entry=entry, now=now)
                             for i, entry in enumerate(parsed.entries)]
