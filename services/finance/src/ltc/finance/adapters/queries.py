"""The read side: what the routes list and report, and who may see it.

Who sees which receivables is one rule, kept in two forms side by side: `may_see` for an object in
hand and `visible_to` for a query (an integration test holds the two to the same answers).
Finance, integration and admin see every account; an account manager sees the receivables of the
accounts they won an opportunity on, and nothing else: to them the rest is not there (404).
"""

from __future__ import annotations

import uuid
from collections.abc import Collection
from dataclasses import replace
from datetime import date
from typing import Any

from sqlalchemy import ColumnElement, Row, Select, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from ltc.finance.adapters import repository
from ltc.finance.adapters.orm import (
    bank_statements,
    bank_transactions,
    credit_notes,
    invoice_dunning,
    invoices,
    opportunities_won,
    payment_applications,
    payments,
    refunds,
    write_off_requests,
    write_offs,
)
from ltc.finance.config import finance_settings
from ltc.finance.domain.adjustments import (
    BadDebtTiers,
    CashTolerance,
    Refund,
    RefundApproval,
    WriteOff,
    WriteOffRequest,
)
from ltc.finance.domain.bank import BankTransaction, TransactionStatus
from ltc.finance.domain.billing_plan import BillingPlan
from ltc.finance.domain.invoice import CreditNote, Invoice, InvoiceStatus
from ltc.finance.domain.journal import AccountCodes, JournalLine, journal
from ltc.finance.domain.payment import Payment
from ltc.finance.domain.receivables import Exposure, OpenItem, age, exposure
from ltc.finance.domain.tax import DEFAULT_TAX_RULES
from ltc.shared.db import audit_history
from ltc.shared.money import Money
from ltc.shared.pagination import paginate
from ltc.shared.policy import PolicyVersion, current_policy, policy_history
from ltc.shared.roles import Principal, Role
from ltc.shared.rules import NotFound

# --- visibility -------------------------------------------------------------------------------

SEES_EVERY_ACCOUNT = (Role.FINANCE, Role.INTEGRATION, Role.ADMIN)


def sees_every_account(principal: Principal) -> bool:
    return principal.has_any(*SEES_EVERY_ACCOUNT)


async def managed_accounts(session: AsyncSession, principal: Principal) -> frozenset[uuid.UUID]:
    """The accounts `principal` won an opportunity on (finance learns them from `opportunity.won`)."""
    stmt = select(opportunities_won.c.account_id).where(opportunities_won.c.owner == principal.sub).distinct()
    return frozenset(a for a in (await session.execute(stmt)).scalars() if a is not None)


def may_see(principal: Principal, account_id: uuid.UUID | None, managed: Collection[uuid.UUID]) -> bool:
    """Whether `principal` may see a receivable of `account_id`; `managed` are their `managed_accounts`."""
    return sees_every_account(principal) or (account_id is not None and account_id in managed)


def visible_to(principal: Principal, account_id: ColumnElement[uuid.UUID]) -> ColumnElement[bool] | None:
    """`may_see` as a filter on a table's account column; None when the principal sees every account."""
    if sees_every_account(principal):
        return None
    return account_id.in_(select(opportunities_won.c.account_id).where(opportunities_won.c.owner == principal.sub))


def _visible(stmt: Select[Any], principal: Principal, account_id: ColumnElement[uuid.UUID]) -> Select[Any]:
    condition = visible_to(principal, account_id)
    return stmt if condition is None else stmt.where(condition)


async def require_visible(session: AsyncSession, principal: Principal, account_id: uuid.UUID | None, kind: str,
                          ident: object) -> None:
    """Not found, unless `principal` may see receivables of `account_id`."""
    managed = frozenset() if sees_every_account(principal) else await managed_accounts(session, principal)
    if not may_see(principal, account_id, managed):
        raise NotFound(kind, ident)


# --- one object -------------------------------------------------------------------------------


async def invoice(session: AsyncSession, principal: Principal, invoice_id: uuid.UUID) -> Invoice:
    found = await repository.get_invoice(session, invoice_id)
    await require_visible(session, principal, found.account_id, "invoice", invoice_id)
    return found


async def payment(session: AsyncSession, principal: Principal, payment_id: uuid.UUID) -> Payment:
    found = await repository.get_payment(session, payment_id)
    await require_visible(session, principal, found.account_id, "payment", payment_id)
    return found


async def credit_note(session: AsyncSession, principal: Principal, credit_note_id: uuid.UUID) -> CreditNote:
    found = await repository.get_credit_note(session, credit_note_id)
    await require_visible(session, principal, found.account_id, "credit note", credit_note_id)
    return found


async def billing_plan(session: AsyncSession, principal: Principal, contract_id: uuid.UUID) -> BillingPlan:
    found = await repository.get_plan(session, contract_id)
    await require_visible(session, principal, found.account_id, "billing plan of contract", contract_id)
    return found


async def invoice_history(session: AsyncSession, principal: Principal, invoice_id: uuid.UUID) -> list[Row[Any]]:
    """What happened to the invoice and what was filed under it (payments, credit notes, dunning), oldest first."""
    await invoice(session, principal, invoice_id)
    return await audit_history(session, invoice_id)


async def payment_history(session: AsyncSession, principal: Principal, payment_id: uuid.UUID) -> list[Row[Any]]:
    await payment(session, principal, payment_id)
    return await audit_history(session, payment_id)


# --- lists ------------------------------------------------------------------------------------

Paged = tuple[list[Any], str | None]


async def invoices_page(session: AsyncSession, principal: Principal, *, contract_id: uuid.UUID | None,
                        account_id: uuid.UUID | None, status: InvoiceStatus | None, limit: int,
                        cursor: str | None, number: str | None = None,
                        payment_reference: str | None = None) -> Paged:
    stmt = _visible(select(Invoice), principal, invoices.c.account_id)
    if number is not None:
        stmt = stmt.where(invoices.c.number == number)
    if payment_reference is not None:
        # As a remittance carries it: in any case, grouped in fours or not.
        stmt = stmt.where(invoices.c.payment_reference == payment_reference.replace(" ", "").upper())
    if contract_id is not None:
        stmt = stmt.where(invoices.c.contract_id == contract_id)
    if account_id is not None:
        stmt = stmt.where(invoices.c.account_id == account_id)
    if status is not None:
        stmt = stmt.where(invoices.c.status == status)
    return await paginate(session, stmt, created_at=invoices.c.created_at, ident=invoices.c.id, limit=limit,
                          cursor=cursor)


async def payments_page(session: AsyncSession, principal: Principal, *, account_id: uuid.UUID | None,
                        contract_id: uuid.UUID | None, with_unapplied_cash: bool, limit: int,
                        cursor: str | None, bank_reference: str | None = None) -> Paged:
    stmt = _visible(select(Payment), principal, payments.c.account_id)
    if bank_reference is not None:
        stmt = stmt.where(payments.c.bank_reference == bank_reference)
    if account_id is not None:
        stmt = stmt.where(payments.c.account_id == account_id)
    if contract_id is not None:
        stmt = stmt.where(payments.c.contract_id == contract_id)
    if with_unapplied_cash:
        stmt = stmt.where(payments.c.unapplied_amount > 0)
    return await paginate(session, stmt, created_at=payments.c.created_at, ident=payments.c.id, limit=limit,
                          cursor=cursor)


async def bank_transactions_page(session: AsyncSession, *, status: TransactionStatus | None,
                                 account_iban: str | None, limit: int, cursor: str | None) -> Paged:
    """The bank's transactions in the order they were imported: a clerk's suspense list."""
    stmt = select(BankTransaction)
    if status is not None:
        stmt = stmt.where(bank_transactions.c.status == status)
    if account_iban is not None:
        stmt = stmt.where(bank_transactions.c.statement_id.in_(
            select(bank_statements.c.id).where(bank_statements.c.account_iban == account_iban.replace(" ", ""))))
    return await paginate(session, stmt, created_at=bank_transactions.c.created_at, ident=bank_transactions.c.id,
                          limit=limit, cursor=cursor)


async def credit_notes_page(session: AsyncSession, principal: Principal, *, invoice_id: uuid.UUID | None,
                            contract_id: uuid.UUID | None, limit: int, cursor: str | None,
                            number: str | None = None) -> Paged:
    stmt = _visible(select(CreditNote), principal, credit_notes.c.account_id)
    if number is not None:
        stmt = stmt.where(credit_notes.c.number == number)
    if invoice_id is not None:
        stmt = stmt.where(credit_notes.c.invoice_id == invoice_id)
    if contract_id is not None:
        stmt = stmt.where(credit_notes.c.contract_id == contract_id)
    return await paginate(session, stmt, created_at=credit_notes.c.created_at, ident=credit_notes.c.id,
                          limit=limit, cursor=cursor)


# --- receivables ------------------------------------------------------------------------------


async def open_items(session: AsyncSession, principal: Principal, as_of: date, *,
                     account_id: uuid.UUID | None = None, contract_id: uuid.UUID | None = None) -> list[OpenItem]:
    """Each invoice issued by `as_of` with what was open on it that day: its amount less what was
    applied (by payments the bank had not returned by then), credited and written off by then.
    Later payments, returns, credit notes and write-offs do not change the past."""
    applied = (select(payment_applications.c.invoice_id, func.sum(payment_applications.c.amount).label("amount"))
               .join(payments, payments.c.id == payment_applications.c.payment_id)
               .where(payment_applications.c.applied_on <= as_of,
                      (payments.c.returned_on.is_(None)) | (payments.c.returned_on > as_of))
               .group_by(payment_applications.c.invoice_id).subquery())
    credited = (select(credit_notes.c.invoice_id, func.sum(credit_notes.c.credit_amount).label("amount"))
                .where(credit_notes.c.issue_date <= as_of).group_by(credit_notes.c.invoice_id).subquery())
    written_off = (select(write_offs.c.invoice_id, func.sum(write_offs.c.write_off_amount).label("amount"))
                   .where(write_offs.c.written_off_on <= as_of).group_by(write_offs.c.invoice_id).subquery())
    stmt = (select(invoices, func.coalesce(applied.c.amount, 0).label("applied"),
                   func.coalesce(credited.c.amount, 0).label("credited"),
                   func.coalesce(written_off.c.amount, 0).label("written_off"), invoice_dunning.c.level)
            .outerjoin(applied, applied.c.invoice_id == invoices.c.id)
            .outerjoin(credited, credited.c.invoice_id == invoices.c.id)
            .outerjoin(written_off, written_off.c.invoice_id == invoices.c.id)
            .outerjoin(invoice_dunning, invoice_dunning.c.invoice_id == invoices.c.id)
            .where(invoices.c.issue_date <= as_of))
    stmt = _visible(stmt, principal, invoices.c.account_id)
    if account_id is not None:
        stmt = stmt.where(invoices.c.account_id == account_id)
    if contract_id is not None:
        stmt = stmt.where(invoices.c.contract_id == contract_id)
    items = []
    for row in await session.execute(stmt):
        open_amount = Money(row.amount_due, row.currency) - Money(row.applied, row.currency) \
            - Money(row.credited, row.currency) - Money(row.written_off, row.currency)
        if not open_amount.is_zero():
            items.append(OpenItem(invoice_id=row.id, number=row.number, contract_id=row.contract_id,
                                  account_id=row.account_id, issue_date=row.issue_date, due_date=row.due_date,
                                  open_amount=open_amount, dunning_level=row.level))
    return items


async def unapplied_as_of(session: AsyncSession, principal: Principal, as_of: date, *,
                          account_id: uuid.UUID | None = None,
                          contract_id: uuid.UUID | None = None) -> dict[str, Money]:
    """Cash received by `as_of` and not applied, refunded (issued by then) or returned by then, per currency."""
    applied = (select(payment_applications.c.payment_id, func.sum(payment_applications.c.amount).label("amount"))
               .where(payment_applications.c.applied_on <= as_of).group_by(payment_applications.c.payment_id)
               .subquery())
    refunded = (select(refunds.c.payment_id, func.sum(refunds.c.refund_amount).label("amount"))
                .where(refunds.c.issued_on <= as_of).group_by(refunds.c.payment_id).subquery())
    stmt = (select(payments.c.currency,
                   func.sum(payments.c.received_amount - func.coalesce(applied.c.amount, 0)
                            - func.coalesce(refunded.c.amount, 0)).label("held"))
            .outerjoin(applied, applied.c.payment_id == payments.c.id)
            .outerjoin(refunded, refunded.c.payment_id == payments.c.id)
            .where(payments.c.value_date <= as_of,
                   (payments.c.returned_on.is_(None)) | (payments.c.returned_on > as_of))
            .group_by(payments.c.currency))
    stmt = _visible(stmt, principal, payments.c.account_id)
    if account_id is not None:
        stmt = stmt.where(payments.c.account_id == account_id)
    if contract_id is not None:
        stmt = stmt.where(payments.c.contract_id == contract_id)
    return {row.currency: Money(row.held, row.currency) for row in await session.execute(stmt) if row.held}


async def receivables(session: AsyncSession, principal: Principal, as_of: date, *, account_id: uuid.UUID | None,
                      contract_id: uuid.UUID | None) -> list[Exposure]:
    """Per currency, the open invoices aged as of `as_of` beside the cash held unapplied that day."""
    items = await open_items(session, principal, as_of, account_id=account_id, contract_id=contract_id)
    held = await unapplied_as_of(session, principal, as_of, account_id=account_id, contract_id=contract_id)
    return exposure(age(items, as_of), held)


# --- the ERP journal --------------------------------------------------------------------------

# The policy (ltc.shared.policy) holding the ERP's account codes; version 0 is the environment's.
ACCOUNT_CODES = "account-codes"


def _completed(version: PolicyVersion) -> PolicyVersion:
    """A version as whole codes: a key it predates (a version stored with only the four role
    codes, before VAT payable and the revenue and tax maps) is the environment's, as version 0's is,
    so every reader (the journal, GET, the history) sees one shape."""
    environment = finance_settings().account_codes()
    return replace(version, document=AccountCodes.from_json(version.document, defaults=environment).to_json())


async def account_codes(session: AsyncSession) -> PolicyVersion:
    """The account codes in force: the latest an admin set, else the deployment's environment."""
    return _completed(await current_policy(session, ACCOUNT_CODES, finance_settings().account_codes().to_json()))


async def account_codes_history(session: AsyncSession) -> list[PolicyVersion]:
    return [_completed(version) for version in await policy_history(session, ACCOUNT_CODES)]


# The policy holding who our invoices name as the seller; version 0 is the environment's
# (a development placeholder unless the deployment sets `LTC_FINANCE_SELLER_*`).
SELLER_IDENTITY = "seller-identity"


async def seller_identity(session: AsyncSession) -> PolicyVersion:
    """The seller identity in force: the latest an admin set, else the deployment's environment."""
    return await current_policy(session, SELLER_IDENTITY, finance_settings().seller_identity().to_json())


async def seller_identity_history(session: AsyncSession) -> list[PolicyVersion]:
    return await policy_history(session, SELLER_IDENTITY)


# The policy deciding which VAT a line bears by the seller's and the buyer's country; version 0 is
# the built-in table for a German seller (`ltc.finance.domain.tax.DEFAULT_TAX_RULES`).
TAX_RULES = "tax-rules"


async def tax_rules(session: AsyncSession) -> PolicyVersion:
    return await current_policy(session, TAX_RULES, DEFAULT_TAX_RULES)


async def tax_rules_history(session: AsyncSession) -> list[PolicyVersion]:
    return await policy_history(session, TAX_RULES)


# Refunds issued on the clerk's word up to an amount per currency; above it (or in a currency
# not listed) a second finance person approves. Version 0 lists none: every refund is approved.
REFUND_APPROVAL = "refund-approval"
# The tier that decides a bad debt by its amount, per currency; version 0: L3 for every amount.
BAD_DEBT_TIERS = "bad-debt-tiers"


async def refund_approval(session: AsyncSession) -> PolicyVersion:
    return await current_policy(session, REFUND_APPROVAL, RefundApproval().to_json())


async def bad_debt_tiers(session: AsyncSession) -> PolicyVersion:
    return await current_policy(session, BAD_DEBT_TIERS, BadDebtTiers().to_json())


async def refunds_page(session: AsyncSession, principal: Principal, *, status: str | None,
                       account_id: uuid.UUID | None, payment_id: uuid.UUID | None, limit: int,
                       cursor: str | None) -> Paged:
    stmt = _visible(select(Refund), principal, refunds.c.account_id)
    for column, value in ((refunds.c.status, status), (refunds.c.account_id, account_id),
                          (refunds.c.payment_id, payment_id)):
        if value is not None:
            stmt = stmt.where(column == value)
    return await paginate(session, stmt, created_at=refunds.c.created_at, ident=refunds.c.id, limit=limit,
                          cursor=cursor)


async def write_off_requests_page(session: AsyncSession, *, status: str | None,
                                  account_id: uuid.UUID | None, invoice_id: uuid.UUID | None, limit: int,
                                  cursor: str | None) -> Paged:
    # Read by finance and the approvers who decide them, across accounts (the route admits no one else).
    stmt = select(WriteOffRequest)
    for column, value in ((write_off_requests.c.status, status), (write_off_requests.c.account_id, account_id),
                          (write_off_requests.c.invoice_id, invoice_id)):
        if value is not None:
            stmt = stmt.where(column == value)
    return await paginate(session, stmt, created_at=write_off_requests.c.created_at, ident=write_off_requests.c.id,
                          limit=limit, cursor=cursor)


async def write_offs_of(session: AsyncSession, invoice_id: uuid.UUID) -> list[WriteOff]:
    stmt = select(WriteOff).where(write_offs.c.invoice_id == invoice_id).order_by(write_offs.c.created_at)
    return list((await session.execute(stmt)).scalars())


# How short of an invoice a payment may fall and still settle it (the rest written off), per
# currency; version 0 allows none: a tolerance is finance's decision, not a default.
CASH_TOLERANCE = "cash-tolerance"


async def cash_tolerance(session: AsyncSession) -> PolicyVersion:
    return await current_policy(session, CASH_TOLERANCE, CashTolerance().to_json())


async def cash_tolerance_history(session: AsyncSession) -> list[PolicyVersion]:
    return await policy_history(session, CASH_TOLERANCE)


async def journal_lines(session: AsyncSession, start: date, end: date) -> list[JournalLine]:
    """The lines posted from `start` to `end` (inclusive), to the account codes in force."""
    invoices_posted = (await session.execute(select(Invoice).where(invoices.c.issue_date.between(start, end))))
    notes = await session.execute(select(CreditNote).where(credit_notes.c.issue_date.between(start, end)))
    applied = select(payment_applications.c.payment_id).where(payment_applications.c.applied_on.between(start, end))
    paid = await session.execute(select(Payment).where(
        payments.c.value_date.between(start, end) | payments.c.id.in_(applied)
        | payments.c.returned_on.between(start, end)))
    written_off = await session.execute(select(WriteOff).where(write_offs.c.written_off_on.between(start, end)))
    refunded = await session.execute(select(Refund).where(refunds.c.issued_on.between(start, end)))
    codes = AccountCodes.from_json((await account_codes(session)).document)
    return journal(invoices=list(invoices_posted.scalars()), credit_notes=list(notes.scalars()),
                   payments=list(paid.scalars()), codes=codes, start=start, end=end,
                   write_offs=list(written_off.scalars()), refunds=list(refunded.scalars()))
