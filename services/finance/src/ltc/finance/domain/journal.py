"""Journal lines for the ERP general ledger: every finance document as a balanced double entry.

- invoice issued: debit receivable for the gross; credit revenue for the net, split by line, and
  credit VAT payable for the tax, by category and rate (below);
- credit note: the mirror: debit revenue by line and VAT by category and rate, credit receivable;
- payment received: debit cash for the whole receipt, credit receivable for what was applied on
  receipt and credit unapplied cash (a liability) for the rest;
- unapplied cash applied later: debit unapplied cash, credit receivable.

**Revenue by line.** Each line's net goes to the revenue account of its product code if the
configuration maps that code, else of its VAT category if that is mapped, else the default
revenue account: the product is the more specific fact (a licence and its support are booked
apart whatever their VAT), the category the fallback (exempt or export revenue kept apart). The
entry has one revenue line per account, the sum of the nets of the document's lines that go
there, in the order the account is first met: the ledger books by account, and an invoice of
forty lines on one product would otherwise post forty lines the ERP sums again; the lines
themselves travel on `invoice.issued` and the e-invoice, for whoever needs them one by one.

**Tax by category and rate.** Each row of the VAT breakdown that bears tax goes to the tax
account configured for its category and rate, keyed `S:19` (the rate in percent without
trailing zeros), else to the default VAT payable account; rows sharing an account are one line;
a row of no tax (zero-rated, exempt, reverse charge, ...) posts nothing. (A credit note's rows are
never below zero, since notes credit VAT cumulatively; should one ever be, it posts on the other
side, never as a negative amount.)

Each entry's debits equal its credits, exactly, in the currency's minor unit: a document's line
nets add up to its net and its breakdown's tax to its tax (EN 16931 BR-CO-10, BR-CO-14), and its
amount is net plus tax (BR-CO-15), so the receivable equals what the revenue and tax lines post;
a document for which that does not hold is refused (`UnbalancedDocument`), never posted askew.
An invoice issued before invoices had lines, and a credit note without lines, post their whole
amount to the default revenue account as they always did.

The account codes are the ERP's: an admin maintains them as a policy (`AccountCodes`); until one
is set, the deployment's environment gives them.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, fields
from datetime import date
from decimal import Decimal, InvalidOperation
from enum import StrEnum
from typing import Any, Protocol

from ltc.finance.domain.adjustments import Refund, WriteOff
from ltc.finance.domain.invoice import CreditNote, Invoice
from ltc.finance.domain.payment import Payment
from ltc.shared.lines import TaxCategory, Vat
from ltc.shared.money import Money
from ltc.shared.rules import RuleViolation

ACCOUNT_CODES_NOT_DISTINCT = "account-codes-not-distinct"
ACCOUNT_CODES_INVALID = "account-codes-invalid"

# The default VAT payable account of a deployment that names none (`LTC_FINANCE_ACCOUNT_VAT_PAYABLE`):
# a liability beside unapplied cash (2150) in the same placeholder chart as the other defaults.
DEFAULT_VAT_PAYABLE = "2200"
# The default expense a written-off receivable is posted to (`LTC_FINANCE_ACCOUNT_WRITE_OFF`).
DEFAULT_WRITE_OFF = "6900"

# The accounts the revenue and tax maps may never name: a revenue or tax posting on them would mix
# a sale into the customer's debt or the bank, and debit and credit one account in one entry.
_NOT_FOR_REVENUE_OR_TAX = ("receivable", "cash", "unapplied_cash")
_MAPS = ("tax_accounts", "revenue_by_product", "revenue_by_category")


def rate_text(rate: Decimal) -> str:
    """A rate in percent as the configuration keys it: `19`, `7`, `5.5`, `0` (no trailing zeros)."""
    return format(rate.normalize(), "f")


def tax_key(category: TaxCategory, rate: Decimal | None) -> str:
    """The key of a category and rate in `AccountCodes.tax_accounts`: `S:19`; `O` has no rate."""
    return category.value if rate is None else f"{category.value}:{rate_text(rate)}"


def canonical_tax_key(key: str) -> str:
    """`key` as `tax_key` spells it (`S:19.0` is `S:19`); ValueError when it names no category and
    rate a line can bear (EN 16931: a positive rate for S, 0 for Z, E, AE, K and G, none for O)."""
    category_text, colon, rate_part = key.strip().partition(":")
    try:
        category = TaxCategory(category_text.strip())
    except ValueError:
        raise ValueError(f"{key!r}: the category must be one of {', '.join(c.value for c in TaxCategory)}, "
                         "as in S:19") from None
    rate: Decimal | None = None
    if colon:
        try:
            rate = Decimal(rate_part.strip())
        except InvalidOperation:
            raise ValueError(f"{key!r}: the rate must be a number in percent, as in S:19") from None
        if not rate.is_finite():
            raise ValueError(f"{key!r}: the rate must be a number in percent, as in S:19")
    # The exemption reason is the invoice's to give, not the key's: only the category and rate count.
    if Vat(category, rate, "any").problems("key"):
        raise ValueError(f"{key!r}: category {category.value} cannot bear that rate (S a positive one, as in "
                         "S:19; Z, E, AE, K and G the rate 0; O none)")
    return tax_key(category, rate)


@dataclass(frozen=True)
class AccountCodes:
    """The ERP accounts the entries post to: one per role, and the revenue and tax accounts by line.

    `tax_accounts` maps `"<category>:<rate>"` (`S:19`, `S:7`) to the account its VAT is posted
    to (default `vat_payable`); `revenue_by_product` a product or service code, and
    `revenue_by_category` a VAT category (`S`, `E`, ...), to the account a line's net is posted to
    (default `revenue`; a product's mapping comes before its category's).
    """

    receivable: str
    revenue: str
    cash: str
    unapplied_cash: str
    vat_payable: str = DEFAULT_VAT_PAYABLE
    write_off: str = DEFAULT_WRITE_OFF
    tax_accounts: Mapping[str, str] = field(default_factory=dict)
    revenue_by_product: Mapping[str, str] = field(default_factory=dict)
    revenue_by_category: Mapping[str, str] = field(default_factory=dict)

    def roles(self) -> dict[str, str]:
        return {"receivable": self.receivable, "revenue": self.revenue, "cash": self.cash,
                "unapplied_cash": self.unapplied_cash, "vat_payable": self.vat_payable, "write_off": self.write_off}

    def revenue_account(self, code: str | None, category: TaxCategory) -> str:
        """Where a line's net is posted: its product's account, else its category's, else `revenue`."""
        if code is not None and code in self.revenue_by_product:
            return self.revenue_by_product[code]
        return self.revenue_by_category.get(category.value, self.revenue)

    def tax_account(self, category: TaxCategory, rate: Decimal | None) -> str:
        """Where the VAT of one category and rate is posted: its configured account, else `vat_payable`."""
        return self.tax_accounts.get(tax_key(category, rate), self.vat_payable)

    def key_problems(self) -> list[dict[str, str]]:
        """Every map key that names nothing a line can have, each naming its field."""
        found = []
        for key in self.tax_accounts:
            try:
                if canonical_tax_key(key) != key:
                    found.append({"field": f"tax_accounts.{key}",
                                  "message": f"spelt {canonical_tax_key(key)!r} (the rate without trailing zeros)"})
            except ValueError as exc:
                found.append({"field": f"tax_accounts.{key}", "message": str(exc)})
        categories = {c.value for c in TaxCategory}
        found += [{"field": f"revenue_by_category.{key}", "message": f"{key!r} is not a VAT category"}
                  for key in self.revenue_by_category if key not in categories]
        found += [{"field": f"revenue_by_product.{key}", "message": "a product code is not blank"}
                  for key in self.revenue_by_product if not key.strip()]
        return found

    def require_distinct(self) -> None:
        """What codes must be before they are stored. An entry that debits and credits one account
        posts nothing: each role (receivable, revenue, cash, unapplied cash, VAT payable) has its own
        account, and the revenue and tax maps never name the receivable, cash or unapplied cash
        account (they may share accounts among themselves and with revenue or VAT payable: two
        products booked to one revenue account is a chart-of-accounts choice). Their keys must be
        ones a line can have (`account-codes-invalid`)."""
        problems = self.key_problems()
        if problems:
            raise RuleViolation(ACCOUNT_CODES_INVALID, "; ".join(f"{p['field']}: {p['message']}" for p in problems),
                                errors=problems)
        codes = self.roles()
        values = list(codes.values())
        shared = {code for code in values if values.count(code) > 1}
        errors = [{"field": role, "message": f"{code} is also another role's account"}
                  for role, code in codes.items() if code in shared]
        reserved = {codes[role]: role for role in _NOT_FOR_REVENUE_OR_TAX}
        for name in _MAPS:
            for key, code in getattr(self, name).items():
                if code in reserved:
                    shared.add(code)
                    errors.append({"field": f"{name}.{key}", "message": f"{code} is the {reserved[code]} account"})
        if errors:
            raise RuleViolation(ACCOUNT_CODES_NOT_DISTINCT,
                                f"account codes {', '.join(sorted(shared))} are given to more than one role",
                                errors=errors)

    def to_json(self) -> dict[str, Any]:
        return {**self.roles(), **{name: dict(getattr(self, name)) for name in _MAPS}}

    @classmethod
    def from_json(cls, document: Mapping[str, Any], *, defaults: AccountCodes | None = None) -> AccountCodes:
        """A key the document lacks (it was stored before the key existed) is the default's: `defaults`
        (the deployment's version 0) if given, else the dataclass's (an empty map)."""
        values: dict[str, Any] = {}
        for f in fields(cls):
            if f.name in document:
                raw = document[f.name]
                values[f.name] = {str(k): str(v) for k, v in raw.items()} if f.name in _MAPS else str(raw)
            elif defaults is not None:
                values[f.name] = getattr(defaults, f.name)
        return cls(**values)


class DocumentType(StrEnum):
    """The finance document a journal entry posts."""

    INVOICE = "invoice"
    CREDIT_NOTE = "credit_note"
    PAYMENT = "payment"
    WRITE_OFF = "write_off"
    REFUND = "refund"


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


class UnbalancedDocument(ValueError):
    """A document whose lines and VAT do not add up to its amount: corrupt, so never posted."""


class _Line(Protocol):
    """What the journal reads of an invoice's or credit note's line (`ltc.finance.domain.lines.InvoiceLine`)."""

    position: int
    code: str | None
    net: Decimal
    vat: Vat


class _TaxRow(Protocol):
    """What the journal reads of a VAT breakdown row (`ltc.finance.domain.tax.TaxBreakdown`)."""

    category: TaxCategory
    rate: Decimal | None
    tax: Money


@dataclass(frozen=True)
class _Posting:
    account_code: str
    amount: Decimal
    description: str


def _amount(amount: Decimal, currency: str) -> Decimal:
    """In the currency's own minor unit, as the ERP books it."""
    return Money(amount, currency).amount


def _split(lines: Sequence[_Line], breakdown: Sequence[_TaxRow], amount: Money, codes: AccountCodes,
           what: str) -> list[_Posting]:
    """The revenue and tax side of a document's entry; `amount` (its gross) is the other side.

    Without lines (a document from before lines) the whole amount is revenue, as it always was."""
    if not lines:
        return [_Posting(codes.revenue, amount.amount, what)]
    currency = amount.currency
    revenue: dict[str, Decimal] = {}
    positions: dict[str, list[str]] = {}
    for line in lines:
        account = codes.revenue_account(line.code, line.vat.category)
        revenue[account] = revenue.get(account, Decimal(0)) + _amount(line.net, currency)
        positions.setdefault(account, []).append(str(line.position))
    tax: dict[str, Decimal] = {}
    rates: dict[str, list[str]] = {}
    for row in breakdown:
        if not row.tax.amount:
            continue  # zero-rated, exempt, reverse-charged...: no VAT to owe
        account = codes.tax_account(row.category, row.rate)
        tax[account] = tax.get(account, Decimal(0)) + _amount(row.tax.amount, currency)
        rates.setdefault(account, []).append(f"{row.category.value} {rate_text(row.rate or Decimal(0))}%")
    postings = [_Posting(account, _amount(total, currency), f"{what}: revenue, line {', '.join(positions[account])}")
                for account, total in revenue.items() if total]
    postings += [_Posting(account, _amount(total, currency), f"{what}: VAT {', '.join(rates[account])}")
                 for account, total in tax.items()]
    posted = sum((p.amount for p in postings), Decimal(0))
    if posted != amount.amount:
        raise UnbalancedDocument(f"{what}: its lines and VAT add up to {posted} {currency}, "
                                 f"not its amount {amount.amount}")
    return postings


def _entry(entry_id: str, on: date, doc_type: DocumentType, doc_id: uuid.UUID, number: str, *,
           debits: Sequence[_Posting], credits: Sequence[_Posting], currency: str,
           contract_id: uuid.UUID | None, account_id: uuid.UUID | None) -> list[JournalLine]:
    zero = _amount(Decimal(0), currency)
    common = dict(entry_id=entry_id, posting_date=on, document_type=doc_type, document_id=doc_id,
                  document_number=number, currency=currency, contract_id=contract_id, account_id=account_id)
    # A negative posting is the same amount on the other side: ledgers take no negative debits or
    # credits. (Defensive: credit notes credit VAT cumulatively, so their rows are not negative.)
    def line(posting: _Posting, *, debit: bool) -> JournalLine:
        if posting.amount < 0:
            debit, amount = not debit, -posting.amount
        else:
            amount = posting.amount
        return JournalLine(account_code=posting.account_code, debit=amount if debit else zero,
                           credit=zero if debit else amount, description=posting.description, **common)

    return [line(p, debit=True) for p in debits] + [line(p, debit=False) for p in credits]


def _pair(entry_id: str, on: date, doc_type: DocumentType, doc_id: uuid.UUID, number: str, debit_code: str,
          credit_code: str, amount: Decimal, currency: str, contract_id: uuid.UUID | None,
          account_id: uuid.UUID | None, description: str) -> list[JournalLine]:
    return _entry(entry_id, on, doc_type, doc_id, number, debits=[_Posting(debit_code, amount, description)],
                  credits=[_Posting(credit_code, amount, description)], currency=currency,
                  contract_id=contract_id, account_id=account_id)


def invoice_lines(invoice: Invoice, codes: AccountCodes) -> list[JournalLine]:
    what = f"invoice {invoice.number}, instalment {invoice.instalment}"
    return _entry(f"invoice:{invoice.id}", invoice.issue_date, DocumentType.INVOICE, invoice.id, invoice.number,
                  debits=[_Posting(codes.receivable, invoice.amount.amount, what)],
                  credits=_split(invoice.lines, invoice.tax_breakdown, invoice.amount, codes, what),
                  currency=invoice.currency, contract_id=invoice.contract_id, account_id=invoice.account_id)


def credit_note_lines(note: CreditNote, codes: AccountCodes) -> list[JournalLine]:
    what = f"credit note {note.number} on invoice {note.invoice_number}: {note.reason}"
    # A note issued before credit notes had lines has none (nor the attribute, in code before them).
    lines = getattr(note, "lines", None) or ()
    breakdown = getattr(note, "tax_breakdown", None) or ()
    return _entry(f"credit_note:{note.id}", note.issue_date, DocumentType.CREDIT_NOTE, note.id, note.number,
                  debits=_split(lines, breakdown, note.amount, codes, what),
                  credits=[_Posting(codes.receivable, note.amount.amount, what)],
                  currency=note.currency, contract_id=note.contract_id, account_id=note.account_id)


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


def return_lines(payment: Payment, codes: AccountCodes) -> list[JournalLine]:
    """The bank took the cash back: cash is credited, and what it had paid of each invoice is
    receivable again (debited), what it held unapplied is no longer held."""
    assert payment.returned_on is not None
    entry = f"return:{payment.id}"
    common = dict(document_type=DocumentType.PAYMENT, document_id=payment.id, document_number=payment.bank_reference,
                  currency=payment.currency, account_id=payment.account_id, entry_id=entry,
                  posting_date=payment.returned_on)
    zero = Decimal(0) * payment.amount.amount
    why = f"returned by the bank ({payment.return_reason or 'no reason given'})"
    lines = [JournalLine(account_code=codes.cash, debit=zero, credit=payment.amount.amount,
                         contract_id=payment.contract_id, description=f"receipt {payment.bank_reference} {why}",
                         **common)]
    reopened = zero
    for application in payment.applications:
        amount = _amount(application.amount, payment.currency)
        reopened += amount
        lines.append(JournalLine(account_code=codes.receivable, debit=amount, credit=zero,
                                 contract_id=application.contract_id,
                                 description=f"invoice {application.invoice_id} open again: {why}", **common))
    held = payment.amount.amount - reopened
    if held:
        lines.append(JournalLine(account_code=codes.unapplied_cash, debit=held, credit=zero,
                                 contract_id=payment.contract_id, description=f"unapplied cash {why}", **common))
    return lines


def write_off_lines(write_off: WriteOff, codes: AccountCodes) -> list[JournalLine]:
    return _pair(f"write_off:{write_off.id}", write_off.written_off_on, DocumentType.WRITE_OFF, write_off.id,
                 write_off.invoice_number, codes.write_off, codes.receivable,
                 _amount(write_off.amount.amount, write_off.currency), write_off.currency, write_off.contract_id,
                 write_off.account_id, f"{write_off.kind.value.replace('_', ' ')} of invoice "
                                       f"{write_off.invoice_number} written off: {write_off.reason}")


def refund_lines(refund: Refund, codes: AccountCodes) -> list[JournalLine]:
    assert refund.issued_on is not None
    return _pair(f"refund:{refund.id}", refund.issued_on, DocumentType.REFUND, refund.id, refund.bank_reference,
                 codes.unapplied_cash, codes.cash, _amount(refund.amount.amount, refund.currency), refund.currency,
                 refund.contract_id, refund.account_id,
                 f"refund of unapplied cash of {refund.bank_reference} to {refund.beneficiary_iban}: {refund.reason}")


def journal(*, invoices: Iterable[Invoice], credit_notes: Iterable[CreditNote], payments: Iterable[Payment],
            codes: AccountCodes, start: date, end: date, write_offs: Iterable[WriteOff] = (),
            refunds: Iterable[Refund] = ()) -> list[JournalLine]:
    """Every line posted from `start` to `end` (inclusive), ordered by date then entry."""
    lines: list[JournalLine] = []
    lines.extend(line for r in refunds if r.issued_on is not None and start <= r.issued_on <= end
                 for line in refund_lines(r, codes))
    lines.extend(line for w in write_offs if start <= w.written_off_on <= end for line in write_off_lines(w, codes))
    lines.extend(line for i in invoices if start <= i.issue_date <= end for line in invoice_lines(i, codes))
    lines.extend(line for n in credit_notes if start <= n.issue_date <= end for line in credit_note_lines(n, codes))
    for payment in payments:
        lines.extend(payment_lines(payment, codes, start, end))
        if payment.returned_on is not None and start <= payment.returned_on <= end:
            lines.extend(return_lines(payment, codes))
    return sorted(lines, key=lambda line: (line.posting_date, line.entry_id))
