"""Loading aggregates for the handlers and numbering documents; writes go through the unit of work's session.

What the routes list and report is read in `queries`."""

from __future__ import annotations

import uuid
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import Table, func, select, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from ltc.finance.adapters.orm import (
    accounts,
    bank_statements,
    bank_transactions,
    billing_plans,
    credit_note_sequences,
    instalments,
    invoice_sequences,
    invoices,
    leads_created,
    opportunities_won,
    payments,
    refunds,
    write_off_requests,
)
from ltc.finance.domain.adjustments import Refund, WriteOffRequest
from ltc.finance.domain.bank import BankStatement, BankTransaction, OpenInvoice, TransactionStatus
from ltc.finance.domain.billing_plan import BillingPlan
from ltc.finance.domain.invoice import OPEN_STATUSES, CreditNote, Invoice
from ltc.finance.domain.parties import AccountChange
from ltc.finance.domain.payment import Payment, PaymentStatus
from ltc.finance.domain.receivables import Dunning
from ltc.shared.rules import NotFound

# An arbitrary key of the finance database's advisory locks, taken by the scheduled run.
SCHEDULED_RUN_LOCK = 6_004_001


async def find_plan(session: AsyncSession, contract_id: uuid.UUID, *, for_update: bool = False) -> BillingPlan | None:
    stmt = select(BillingPlan).where(BillingPlan.contract_id == contract_id)
    if for_update:
        # The plan row is the lock for all cash on its contract; re-read it once the lock is held.
        stmt = stmt.with_for_update().execution_options(populate_existing=True)
    return (await session.execute(stmt)).scalar_one_or_none()


async def get_plan(session: AsyncSession, contract_id: uuid.UUID, *, for_update: bool = False) -> BillingPlan:
    plan = await find_plan(session, contract_id, for_update=for_update)
    if plan is None:
        raise NotFound("billing plan of contract", contract_id)
    return plan


async def lock_plans(session: AsyncSession, *, contract_id: uuid.UUID | None = None,
                     account_id: uuid.UUID | None = None,
                     contract_ids: list[uuid.UUID] | None = None) -> list[uuid.UUID]:
    """Take the cash lock of one contract or of every contract of an account, in a fixed order
    so that two payments never wait on each other; returns the contract ids locked."""
    stmt = select(billing_plans.c.contract_id).order_by(billing_plans.c.id).with_for_update()
    if contract_id is not None:
        stmt = stmt.where(billing_plans.c.contract_id == contract_id)
    if account_id is not None:
        stmt = stmt.where(billing_plans.c.account_id == account_id)
    if contract_ids is not None:
        stmt = stmt.where(billing_plans.c.contract_id.in_(contract_ids))
    locked = list((await session.execute(stmt)).scalars())
    if not locked:
        raise NotFound("billing plan of contract" if contract_id is not None else "account", contract_id or account_id)
    return locked


async def plans_of(session: AsyncSession, contract_ids: list[uuid.UUID]) -> dict[uuid.UUID, BillingPlan]:
    """Fresh plans of contracts whose lock is held."""
    stmt = (select(BillingPlan).where(BillingPlan.contract_id.in_(contract_ids))
            .execution_options(populate_existing=True))
    return {plan.contract_id: plan for plan in (await session.execute(stmt)).scalars()}


async def get_invoice(session: AsyncSession, invoice_id: uuid.UUID) -> Invoice:
    invoice = await session.get(Invoice, invoice_id)
    if invoice is None:
        raise NotFound("invoice", invoice_id)
    return invoice


async def contract_of_invoice(session: AsyncSession, invoice_id: uuid.UUID) -> uuid.UUID:
    contract_id = (await session.execute(select(invoices.c.contract_id).where(invoices.c.id == invoice_id))).scalar()
    if contract_id is None:
        raise NotFound("invoice", invoice_id)
    return contract_id


async def invoice_by_reference(session: AsyncSession, *, payment_reference: str | None = None,
                               number: str | None = None) -> tuple[uuid.UUID, str] | None:
    """The invoice (id, currency) a remittance names by its creditor reference or its number."""
    column = invoices.c.payment_reference if payment_reference is not None else invoices.c.number
    row = (await session.execute(select(invoices.c.id, invoices.c.currency).where(
        column == (payment_reference if payment_reference is not None else number)))).first()
    return (row.id, row.currency) if row is not None else None


async def account_of_payer(session: AsyncSession, counterparty_iban: str) -> uuid.UUID | None:
    """The one account whose invoices this IBAN has paid before, as matched statement entries
    show (None when it paid none, or several accounts' invoices)."""
    paid_for = (select(invoices.c.account_id).join(bank_transactions, bank_transactions.c.invoice_id == invoices.c.id)
                .where(bank_transactions.c.counterparty_iban == counterparty_iban,
                       bank_transactions.c.status == TransactionStatus.MATCHED.value).distinct())
    known = [row for row in (await session.execute(paid_for)).scalars() if row is not None]
    return known[0] if len(known) == 1 else None


OPEN_AMOUNT = invoices.c.amount_due - invoices.c.paid_amount - invoices.c.credited_amount - invoices.c.written_off_amount


async def open_invoices_of_account(session: AsyncSession, account_id: uuid.UUID, currency: str) -> list[OpenInvoice]:
    """The account's open invoices in `currency`, oldest due first."""
    stmt = (select(invoices.c.id, OPEN_AMOUNT.label("open_amount"))
            .where(invoices.c.account_id == account_id, invoices.c.currency == currency,
                   invoices.c.status.in_([s.value for s in OPEN_STATUSES]))
            .order_by(invoices.c.due_date, invoices.c.number))
    return [OpenInvoice(row.id, row.open_amount) for row in await session.execute(stmt)]


async def open_amount_of(session: AsyncSession, invoice_id: uuid.UUID) -> Decimal:
    return (await session.execute(select(OPEN_AMOUNT).where(invoices.c.id == invoice_id))).scalar_one()


async def expected_payment(session: AsyncSession, entry_reference: str, end_to_end_id: str | None) -> Payment | None:
    """A payment recorded by hand, not yet confirmed, that a statement entry may be: the same
    end-to-end id, else the same bank reference."""
    for column, value in ((payments.c.end_to_end_id, end_to_end_id), (payments.c.bank_reference, entry_reference)):
        if value:
            found = (await session.execute(select(Payment).where(
                column == value, payments.c.status == PaymentStatus.RECORDED.value).limit(1))).scalar()
            if found is not None:
                return found
    return None


async def payment_returned_by(session: AsyncSession, end_to_end_id: str | None,
                              references: list[str]) -> Payment | None:
    """The payment (not returned yet) a debit entry sends back: by its end-to-end id, else a bank
    reference of ours the entry quotes."""
    if end_to_end_id:
        found = (await session.execute(select(Payment).where(
            payments.c.end_to_end_id == end_to_end_id,
            payments.c.status != PaymentStatus.RETURNED.value).limit(1))).scalar()
        if found is not None:
            return found
    if references:
        return (await session.execute(select(Payment).where(
            payments.c.bank_reference.in_(references),
            payments.c.status != PaymentStatus.RETURNED.value).limit(1))).scalar()
    return None


async def get_transaction(session: AsyncSession, transaction_id: uuid.UUID, *,
                          for_update: bool = False) -> BankTransaction:
    stmt = select(BankTransaction).where(bank_transactions.c.id == transaction_id)
    if for_update:
        stmt = stmt.with_for_update().execution_options(populate_existing=True)
    found = (await session.execute(stmt)).scalar_one_or_none()
    if found is None:
        raise NotFound("bank transaction", transaction_id)
    return found


async def get_refund(session: AsyncSession, refund_id: uuid.UUID, *, for_update: bool = False) -> Refund:
    stmt = select(Refund).where(refunds.c.id == refund_id)
    if for_update:
        stmt = stmt.with_for_update().execution_options(populate_existing=True)
    found = (await session.execute(stmt)).scalar_one_or_none()
    if found is None:
        raise NotFound("refund", refund_id)
    return found


async def get_write_off_request(session: AsyncSession, request_id: uuid.UUID, *,
                                for_update: bool = False) -> WriteOffRequest:
    stmt = select(WriteOffRequest).where(write_off_requests.c.id == request_id)
    if for_update:
        stmt = stmt.with_for_update().execution_options(populate_existing=True)
    found = (await session.execute(stmt)).scalar_one_or_none()
    if found is None:
        raise NotFound("write-off request", request_id)
    return found


async def payments_of_transaction(session: AsyncSession, transaction_id: uuid.UUID) -> list[Payment]:
    """The payments a statement entry became (one, or one per part of a split)."""
    stmt = select(Payment).where(payments.c.bank_transaction_id == transaction_id).order_by(payments.c.bank_reference)
    return list((await session.execute(stmt)).scalars())


async def find_statement(session: AsyncSession, account_iban: str, statement_id: str) -> BankStatement | None:
    stmt = select(BankStatement).where(bank_statements.c.account_iban == account_iban,
                                       bank_statements.c.statement_id == statement_id)
    return (await session.execute(stmt)).scalar()


async def get_statement(session: AsyncSession, statement_id: uuid.UUID) -> BankStatement:
    found = await session.get(BankStatement, statement_id)
    if found is None:
        raise NotFound("bank statement", statement_id)
    return found


async def invoice_id_by_number(session: AsyncSession, number: str) -> uuid.UUID | None:
    return (await session.execute(select(invoices.c.id).where(invoices.c.number == number))).scalar()


async def invoices_of_contracts(session: AsyncSession, contract_ids: list[uuid.UUID]) -> list[Invoice]:
    """Every invoice of the contracts, fresh; call it holding their plans' locks."""
    stmt = (select(Invoice).where(Invoice.contract_id.in_(contract_ids)).order_by(Invoice.number)
            .execution_options(populate_existing=True))
    return list((await session.execute(stmt)).scalars())


async def get_payment(session: AsyncSession, payment_id: uuid.UUID, *, for_update: bool = False) -> Payment:
    stmt = select(Payment).where(Payment.id == payment_id)
    if for_update:
        stmt = stmt.with_for_update().execution_options(populate_existing=True)
    payment = (await session.execute(stmt)).scalar_one_or_none()
    if payment is None:
        raise NotFound("payment", payment_id)
    return payment


async def find_payment_by_bank_reference(session: AsyncSession, bank_reference: str) -> Payment | None:
    return (await session.execute(select(Payment).where(Payment.bank_reference == bank_reference))).scalar_one_or_none()


async def get_credit_note(session: AsyncSession, credit_note_id: uuid.UUID) -> CreditNote:
    note = await session.get(CreditNote, credit_note_id)
    if note is None:
        raise NotFound("credit note", credit_note_id)
    return note


async def _next_in(session: AsyncSession, table: Table, year: int) -> int:
    # Gap-free: the year's row is incremented under its row lock in the issuing transaction, so a
    # rolled-back document gives its number back.
    await session.execute(insert(table).values(year=year, last_number=0).on_conflict_do_nothing())
    return (await session.execute(
        update(table).where(table.c.year == year)
        .values(last_number=table.c.last_number + 1).returning(table.c.last_number)
    )).scalar_one()


async def next_invoice_sequence(session: AsyncSession, year: int) -> int:
    """The year's next invoice number; the row stays locked until the issuing transaction ends."""
    return await _next_in(session, invoice_sequences, year)


async def next_credit_note_sequence(session: AsyncSession, year: int) -> int:
    return await _next_in(session, credit_note_sequences, year)


async def plans_with_date_instalments_due(session: AsyncSession, as_of: date) -> list[uuid.UUID]:
    stmt = (select(billing_plans.c.contract_id).join(instalments, instalments.c.plan_id == billing_plans.c.id)
            .where(instalments.c.trigger == "date", instalments.c.status == "planned",
                   instalments.c.invoice_on <= as_of).distinct())
    return list((await session.execute(stmt)).scalars())




async def plans_with_held_instalments(session: AsyncSession, *, account_id: uuid.UUID | None = None
                                      ) -> list[uuid.UUID]:
    """Contracts with an instalment held (due, not invoiceable yet), of one account or all."""
    stmt = (select(billing_plans.c.contract_id).join(instalments, instalments.c.plan_id == billing_plans.c.id)
            .where(instalments.c.status == "planned", instalments.c.hold_reason.is_not(None)).distinct())
    if account_id is not None:
        stmt = stmt.where(billing_plans.c.account_id == account_id)
    # In the order lock_plans takes plan locks (by plan id), so a release never deadlocks a payment.
    stmt = stmt.add_columns(billing_plans.c.id).order_by(billing_plans.c.id)
    return [row.contract_id for row in (await session.execute(stmt)).all()]


async def serialize_scheduled_runs(session: AsyncSession) -> None:
    """One scheduled run at a time across replicas and the on-demand endpoint, until the transaction ends."""
    await session.execute(select(func.pg_advisory_xact_lock(SCHEDULED_RUN_LOCK)))


async def overdue_open_invoices(session: AsyncSession, as_of: date) -> list[Invoice]:
    stmt = (select(Invoice).where(Invoice.status.in_(OPEN_STATUSES), Invoice.due_date < as_of)
            .order_by(Invoice.due_date, Invoice.number))
    return list((await session.execute(stmt)).scalars())


async def dunning_states(session: AsyncSession, invoice_ids: list[uuid.UUID]) -> dict[uuid.UUID, Dunning]:
    stmt = (select(Dunning).where(Dunning.invoice_id.in_(invoice_ids)).with_for_update()
            .execution_options(populate_existing=True))
    return {d.invoice_id: d for d in (await session.execute(stmt)).scalars()}




async def remember_opportunity_won(session: AsyncSession, *, opportunity_id: uuid.UUID,
                                   account_id: uuid.UUID | None, owner: str, won_on: date) -> None:
    await session.execute(insert(opportunities_won).values(
        opportunity_id=opportunity_id, account_id=account_id, owner=owner, won_on=won_on).on_conflict_do_nothing())
    await session.execute(update(billing_plans).where(billing_plans.c.opportunity_id == opportunity_id,
                                                      billing_plans.c.won_on.is_(None)).values(won_on=won_on))


async def remember_lead_created(session: AsyncSession, *, lead_id: uuid.UUID, created_on: date) -> None:
    await session.execute(insert(leads_created).values(lead_id=lead_id, created_on=created_on)
                          .on_conflict_do_nothing())
    await session.execute(update(billing_plans).where(billing_plans.c.lead_id == lead_id,
                                                      billing_plans.c.lead_created_on.is_(None))
                          .values(lead_created_on=created_on))


async def flow_dates(session: AsyncSession, *, lead_id: uuid.UUID | None,
                     opportunity_id: uuid.UUID | None) -> tuple[date | None, date | None]:
    """(lead created on, opportunity won on), as far as finance has heard of them."""
    lead_created_on = won_on = None
    if lead_id is not None:
        lead_created_on = (await session.execute(
            select(leads_created.c.created_on).where(leads_created.c.lead_id == lead_id))).scalar()
    if opportunity_id is not None:
        won_on = (await session.execute(
            select(opportunities_won.c.won_on).where(opportunities_won.c.opportunity_id == opportunity_id))).scalar()
    return lead_created_on, won_on


async def copy_account(session: AsyncSession, *, account_id: uuid.UUID, name: str, owner: str,
                       billing: dict[str, Any] | None, as_of: datetime, change: AccountChange) -> bool:
    """Replace finance's copy of an account unless it holds a newer state (`parties.supersedes`, as
    one statement: the row's lock orders two deliveries); True when the copy was written."""
    values = dict(account_id=account_id, name=name, owner=owner, billing=billing, as_of=as_of, copied_from=change)
    stmt = insert(accounts).values(**values)
    newer = (accounts.c.as_of <= stmt.excluded.as_of if change is AccountChange.UPDATED
             else accounts.c.as_of < stmt.excluded.as_of)
    stmt = stmt.on_conflict_do_update(index_elements=[accounts.c.account_id], set_={
        key: stmt.excluded[key] for key in values if key != "account_id"}, where=newer)
    written = await session.execute(stmt.returning(accounts.c.account_id))
    return written.first() is not None


async def account_billing(session: AsyncSession, account_id: uuid.UUID | None) -> dict[str, Any] | None:
    """The account's billing identity as finance's copy knows it; None when it knows none."""
    if account_id is None:
        return None
    return (await session.execute(select(accounts.c.billing).where(accounts.c.account_id == account_id))).scalar()
