"""Cash as the bank reports it: statements, their entries, and how an entry finds its invoice.

A statement (ISO 20022 camt.053) of one bank account is imported once: the same statement again
(same id and content) answers as the first import did; another file claiming the same statement id
is refused. Each entry becomes a bank transaction, and a credit is matched by these rules, in order,
each recorded on the transaction with its confidence:

0. `expected-payment` (certain): a payment recorded by hand (not yet confirmed) has the entry's
   end-to-end id or bank reference, amount and currency: the entry **confirms** it, and the
   invoices it paid go from `in_payment` to `paid`;
1. `creditor-reference` (certain): the structured ISO 11649 reference (or an `RF…` in the free
   text) is an invoice's `payment_reference`;
2. `invoice-number` (high): the free text names an invoice number (`INV-2026-000001`, any case,
   dashes or spaces optional);
3. `amount-and-payer` (medium): the payer's IBAN has paid one account's invoices before (a matched
   transaction says so), and that account's oldest open invoice is open for exactly the amount,
   or falls short of it by no more than the currency's tolerance (the difference is written off);
4. `sum-of-invoices` (medium): the amount is exactly what several of that account's open
   invoices are open for together (the fewest, then the oldest such set);
5. otherwise **suspense**: unidentified cash, kept on the transaction, visible, never lost, for a
   clerk to match by hand later, split across invoices and accounts, or send back.

A matched credit is recorded as a payment (its surplus held as unapplied cash, as any payment's
is); one that names an invoice but falls short by no more than the tolerance pays it and the
difference is written off (`invoice.written_off`, kind `small_balance`, its own journal entry). A
larger shortfall leaves the rest open. A debit that carries the end-to-end id (or names the bank
reference) of one of our payments for its whole amount is that payment's **return**: the payment
is returned and what it paid is open again. Any other debit is kept for review.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from enum import StrEnum
from itertools import combinations

from stdnum import iso11649

from ltc.shared.money import Money
from ltc.shared.rules import DomainError, RuleViolation

STATEMENT_CONFLICT = "bank-statement-conflict"
STATEMENT_UNREADABLE = "bank-statement-unreadable"

_INVOICE_NUMBER = re.compile(r"\bINV[-\s]?(\d{4})[-\s]?(\d{6})\b", re.IGNORECASE)
_CREDITOR_REFERENCE = re.compile(r"\bRF\d{2}[0-9A-Z ]{1,25}", re.IGNORECASE)


class TransactionStatus(StrEnum):
    MATCHED = "matched"  # recorded as (or confirmed) a payment; by hand, split over several
    SUSPENSE = "suspense"  # a credit nobody can identify yet: kept, visible, waiting for a clerk
    TO_REVIEW = "to_review"  # a debit that is none of our payments' return (a charge): not cash in
    RETURN = "return"  # a debit returning one of our payments
    SENT_BACK = "sent_back"  # a suspense credit a clerk returned to the payer


class MatchRule(StrEnum):
    EXPECTED_PAYMENT = "expected-payment"
    CREDITOR_REFERENCE = "creditor-reference"
    INVOICE_NUMBER = "invoice-number"
    AMOUNT_AND_PAYER = "amount-and-payer"
    SUM_OF_INVOICES = "sum-of-invoices"
    BY_HAND = "by-hand"  # a clerk allocated it from suspense
    RETURN_OF_PAYMENT = "return-of-payment"


CONFIDENCE = {MatchRule.EXPECTED_PAYMENT: "certain", MatchRule.CREDITOR_REFERENCE: "certain",
              MatchRule.INVOICE_NUMBER: "high", MatchRule.AMOUNT_AND_PAYER: "medium",
              MatchRule.SUM_OF_INVOICES: "medium", MatchRule.BY_HAND: "certain",
              MatchRule.RETURN_OF_PAYMENT: "certain"}

# More open invoices than this are not searched for a set that sums to a payment: 2^12 sets at most.
SUM_SEARCH_LIMIT = 12


@dataclass(frozen=True)
class OpenInvoice:
    """An open invoice of the paying account, oldest due first, as the amount rules see it."""

    invoice_id: uuid.UUID
    open_amount: Decimal


def single_match(amount: Decimal, candidates: Sequence[OpenInvoice], tolerance: Decimal) -> OpenInvoice | None:
    """The oldest invoice open for exactly `amount`, else the oldest one it falls short of by no
    more than `tolerance` (never one it would over-pay)."""
    exact = next((c for c in candidates if c.open_amount == amount), None)
    if exact is not None or tolerance <= 0:
        return exact
    return next((c for c in candidates if Decimal(0) < c.open_amount - amount <= tolerance), None)


def sum_match(amount: Decimal, candidates: Sequence[OpenInvoice]) -> list[OpenInvoice] | None:
    """The fewest (then oldest) of at least two of the oldest `SUM_SEARCH_LIMIT` open invoices whose
    open amounts add up to exactly `amount`; None when no such set exists."""
    pool = list(candidates[:SUM_SEARCH_LIMIT])
    for size in range(2, len(pool) + 1):
        for chosen in combinations(pool, size):  # in pool order: the oldest sets come first
            if sum((c.open_amount for c in chosen), Decimal(0)) == amount:
                return list(chosen)
    return None


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
        self.resolved_by: str | None = None  # the clerk who allocated or sent back a suspense credit
        self.resolution_note: str | None = None

    @property
    def money(self) -> Money:
        return Money(Decimal(self.amount_value), self.currency)

    def matched(self, rule: MatchRule, invoice_id: uuid.UUID | None, payment_id: uuid.UUID) -> None:
        self.status = TransactionStatus.MATCHED
        self.rule = rule
        self.invoice_id = invoice_id
        self.payment_id = payment_id

    def returned(self, payment_id: uuid.UUID) -> None:
        self.status = TransactionStatus.RETURN
        self.rule = MatchRule.RETURN_OF_PAYMENT
        self.payment_id = payment_id

    def require_suspense(self) -> None:
        if self.status is not TransactionStatus.SUSPENSE:
            raise DomainError("transaction-not-in-suspense", f"bank transaction {self.id} is {self.status.value}: "
                                                              "only cash in suspense is allocated or sent back")

    def allocated(self, *, by: str, payment_id: uuid.UUID, invoice_id: uuid.UUID | None, note: str | None) -> None:
        self.require_suspense()
        self.matched(MatchRule.BY_HAND, invoice_id, payment_id)
        self.resolved_by = by
        self.resolution_note = note

    def sent_back(self, *, by: str, note: str) -> None:
        self.require_suspense()
        if not note.strip():
            raise RuleViolation("reason-required", "say why the cash goes back to the payer",
                                errors=[{"field": "reason", "message": "required"}])
        self.status = TransactionStatus.SENT_BACK
        self.resolved_by = by
        self.resolution_note = note.strip()


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
