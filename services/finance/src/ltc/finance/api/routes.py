"""Routes only translate HTTP into commands and read models; the rules live in the domain."""

from __future__ import annotations

import uuid
from datetime import date
from typing import Annotated

from fastapi import APIRouter, Depends, Query, Response
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from ltc.finance import handlers
from ltc.finance.adapters import repository
from ltc.finance.api.schemas import (
    BillingPlanRead,
    CreditNoteCreate,
    CreditNoteRead,
    DunnedInvoiceRead,
    InvoiceRead,
    JournalLineRead,
    JournalRead,
    PaymentApplicationCreate,
    PaymentCreate,
    PaymentRead,
    ReceivablesRead,
    ScheduledRunCreate,
    ScheduledRunRead,
)
from ltc.finance.config import finance_settings
from ltc.finance.domain.journal import journal
from ltc.finance.domain.model import CreditNote, Invoice, InvoiceStatus, Payment
from ltc.finance.domain.receivables import age
from ltc.shared.api import (
    Cursor,
    IdempotencyKey,
    IfMatch,
    Limit,
    Page,
    act_idempotently,
    create_idempotently,
    etag,
    paginate,
)
from ltc.shared.auth import Principal, Role, require_roles
from ltc.shared.db import current
from ltc.shared.errors import NotFound, ProblemError
from ltc.shared.service import ReadSession, Uow

router = APIRouter()

Cashier = Annotated[Principal, Depends(require_roles(Role.FINANCE, Role.INTEGRATION))]
Clerk = Annotated[Principal, Depends(require_roles(Role.FINANCE))]
Scheduler = Annotated[Principal, Depends(require_roles(Role.FINANCE, Role.ADMIN))]
Exporter = Annotated[Principal, Depends(require_roles(Role.FINANCE, Role.INTEGRATION, Role.ADMIN))]
Reader = Annotated[Principal, Depends(require_roles(Role.FINANCE, Role.INTEGRATION, Role.ADMIN, Role.AR))]

MAX_JOURNAL_DAYS = 366


def _sees_every_account(principal: Principal) -> bool:
    return principal.has_any(Role.FINANCE, Role.INTEGRATION, Role.ADMIN)


async def _check_account(session: AsyncSession, principal: Principal, account_id: uuid.UUID | None,
                         kind: str, ident: object) -> None:
    """An account manager sees the receivables of the accounts they won business with, nothing else (404)."""
    if _sees_every_account(principal):
        return
    if account_id is None or not await repository.manages_account(session, principal.sub, account_id):
        raise NotFound(kind, ident)


async def _account_scope(session: AsyncSession, principal: Principal, account_id: uuid.UUID | None) -> None:
    """A list across accounts: finance sees them all; an account manager names one of theirs."""
    if _sees_every_account(principal):
        return
    if account_id is None:
        raise ProblemError(422, "account-required", "Invalid request", "account_id: name one of your accounts",
                           errors=[{"field": "account_id", "message": "required for account managers"}])
    await _check_account(session, principal, account_id, "account", account_id)


def _today() -> date:
    return handlers.clock().date()


@router.post("/payments", status_code=201, response_model=PaymentRead, tags=["payments"],
             summary="Record a bank payment and apply it; a known bank reference answers 200 with the first one, or 409 "
                     "when the receipt says otherwise")
async def record_payment(body: PaymentCreate, uow: Uow, principal: Cashier, response: Response,
                         idempotency_key: IdempotencyKey = None) -> PaymentRead:
    try:
        payment_id = await create_idempotently(
            uow, principal=principal.sub, key=idempotency_key, endpoint="POST /payments", body=body,
            create=lambda new_id: handlers.record_payment(uow, handlers.RecordPayment(
                new_id, body.bank_reference, body.payer, body.amount.to_money(), body.value_date, body.invoice_id,
                body.contract_id, body.account_id), principal),
        )
        response.headers["Location"] = f"/api/v1/payments/{payment_id}"
    except handlers.PaymentAlreadyRecorded as repeat:
        payment_id = repeat.payment_id
        response.status_code = 200
    async with uow:
        payment = await repository.get_payment(uow.session, payment_id)
    return PaymentRead.of(payment)


@router.post("/payments/{payment_id}/applications", response_model=PaymentRead, tags=["payments"],
             summary="Apply a payment's unapplied cash: to an invoice, or oldest due first across its account")
async def apply_unapplied_cash(payment_id: uuid.UUID, body: PaymentApplicationCreate, uow: Uow, principal: Clerk,
                               response: Response, if_match: IfMatch = None,
                               idempotency_key: IdempotencyKey = None) -> PaymentRead:
    # Cash moves here: a retry after a lost answer must not apply what is left a second time
    # (send an Idempotency-Key, or If-Match with the payment's ETag).
    async def answer() -> PaymentRead:
        payment = await current(uow.session, Payment, payment_id)
        if payment is None:
            raise NotFound("payment", payment_id)
        response.headers["ETag"] = etag(payment.version)
        return PaymentRead.of(payment)

    return await act_idempotently(
        uow, principal.sub, idempotency_key, f"POST /payments/{payment_id}/applications", body, payment_id,
        lambda: handlers.apply_unapplied_cash(uow, handlers.ApplyUnappliedCash(
            payment_id, body.invoice_id, body.applied_on or _today(), if_match), principal),
        then=answer)


@router.get("/payments/{payment_id}", response_model=PaymentRead, tags=["payments"])
async def read_payment(payment_id: uuid.UUID, session: ReadSession, principal: Reader,
                       response: Response) -> PaymentRead:
    payment = await repository.get_payment(session, payment_id)
    await _check_account(session, principal, payment.account_id, "payment", payment_id)
    response.headers["ETag"] = etag(payment.version)
    return PaymentRead.of(payment)


@router.get("/payments", response_model=Page[PaymentRead], tags=["payments"])
async def list_payments(session: ReadSession, principal: Reader, account_id: uuid.UUID | None = None,
                        contract_id: uuid.UUID | None = None,
                        with_unapplied_cash: Annotated[bool, Query(description="only payments still holding cash")]
                        = False, limit: Limit = 50, cursor: Cursor = None) -> Page[PaymentRead]:
    stmt = select(Payment)
    await _account_scope(session, principal, account_id)
    if account_id is not None:
        stmt = stmt.where(Payment.account_id == account_id)
    if contract_id is not None:
        stmt = stmt.where(Payment.contract_id == contract_id)
    if with_unapplied_cash:
        stmt = stmt.where(Payment.unapplied_amount > 0)
    rows, next_cursor = await paginate(session, stmt, created_at=Payment.created_at, ident=Payment.id,
                                       limit=limit, cursor=cursor)
    return Page[PaymentRead](items=[PaymentRead.of(p) for p in rows], next_cursor=next_cursor)


@router.get("/invoices/{invoice_id}", response_model=InvoiceRead, tags=["invoices"])
async def read_invoice(invoice_id: uuid.UUID, session: ReadSession, principal: Reader,
                       response: Response) -> InvoiceRead:
    invoice = await repository.get_invoice(session, invoice_id)
    await _check_account(session, principal, invoice.account_id, "invoice", invoice_id)
    response.headers["ETag"] = etag(invoice.version)
    return InvoiceRead.of(invoice)


@router.get("/invoices", response_model=Page[InvoiceRead], tags=["invoices"])
async def list_invoices(session: ReadSession, principal: Reader, contract_id: uuid.UUID | None = None,
                        account_id: uuid.UUID | None = None, status: InvoiceStatus | None = None, limit: Limit = 50,
                        cursor: Cursor = None) -> Page[InvoiceRead]:
    stmt = select(Invoice)
    if not _sees_every_account(principal):
        stmt = stmt.where(Invoice.account_id.in_(await repository.managed_accounts(session, principal.sub)))
    if contract_id is not None:
        stmt = stmt.where(Invoice.contract_id == contract_id)
    if account_id is not None:
        stmt = stmt.where(Invoice.account_id == account_id)
    if status is not None:
        stmt = stmt.where(Invoice.status == status)
    rows, next_cursor = await paginate(session, stmt, created_at=Invoice.created_at, ident=Invoice.id,
                                       limit=limit, cursor=cursor)
    return Page[InvoiceRead](items=[InvoiceRead.of(invoice) for invoice in rows], next_cursor=next_cursor)


@router.post("/invoices/{invoice_id}/credit-notes", status_code=201, response_model=CreditNoteRead,
             tags=["credit notes"], summary="Correct an issued invoice with a numbered credit note")
async def issue_credit_note(invoice_id: uuid.UUID, body: CreditNoteCreate, uow: Uow, principal: Clerk,
                            response: Response, idempotency_key: IdempotencyKey = None) -> CreditNoteRead:
    note_id = await create_idempotently(
        uow, principal=principal.sub, key=idempotency_key, endpoint=f"POST /invoices/{invoice_id}/credit-notes",
        body=body, create=lambda new_id: handlers.issue_credit_note(uow, handlers.IssueCreditNote(
            new_id, invoice_id, body.amount.to_money(), body.reason), principal))
    async with uow:
        note = await repository.get_credit_note(uow.session, note_id)
    response.headers["Location"] = f"/api/v1/credit-notes/{note_id}"
    return CreditNoteRead.of(note)


@router.get("/credit-notes/{credit_note_id}", response_model=CreditNoteRead, tags=["credit notes"])
async def read_credit_note(credit_note_id: uuid.UUID, session: ReadSession, principal: Reader) -> CreditNoteRead:
    note = await repository.get_credit_note(session, credit_note_id)
    await _check_account(session, principal, note.account_id, "credit note", credit_note_id)
    return CreditNoteRead.of(note)


@router.get("/credit-notes", response_model=Page[CreditNoteRead], tags=["credit notes"])
async def list_credit_notes(session: ReadSession, principal: Exporter, invoice_id: uuid.UUID | None = None,
                            contract_id: uuid.UUID | None = None, limit: Limit = 50,
                            cursor: Cursor = None) -> Page[CreditNoteRead]:
    stmt = select(CreditNote)
    if invoice_id is not None:
        stmt = stmt.where(CreditNote.invoice_id == invoice_id)
    if contract_id is not None:
        stmt = stmt.where(CreditNote.contract_id == contract_id)
    rows, next_cursor = await paginate(session, stmt, created_at=CreditNote.created_at, ident=CreditNote.id,
                                       limit=limit, cursor=cursor)
    return Page[CreditNoteRead](items=[CreditNoteRead.of(n) for n in rows], next_cursor=next_cursor)


@router.get("/billing-plans/{contract_id}", response_model=BillingPlanRead, tags=["billing plans"],
            summary="A contract's billing plan: instalments, invoiced, collected, credited and open balance")
async def read_billing_plan(contract_id: uuid.UUID, session: ReadSession, principal: Reader,
                            response: Response) -> BillingPlanRead:
    plan = await repository.get_plan(session, contract_id)
    await _check_account(session, principal, plan.account_id, "billing plan of contract", contract_id)
    response.headers["ETag"] = etag(plan.version)
    return BillingPlanRead.of(plan)


@router.get("/receivables", response_model=ReceivablesRead, tags=["receivables"],
            summary="Open invoices aged as of a date, per currency; the buckets add up to the invoices listed")
async def read_receivables(session: ReadSession, principal: Reader, as_of: date | None = None,
                           account_id: uuid.UUID | None = None,
                           contract_id: uuid.UUID | None = None) -> ReceivablesRead:
    await _account_scope(session, principal, account_id)
    as_of = as_of or _today()
    items = await repository.open_items(session, as_of, account_id=account_id, contract_id=contract_id)
    unapplied = await repository.unapplied_as_of(session, as_of, account_id=account_id, contract_id=contract_id)
    return ReceivablesRead.of(as_of=as_of, account_id=account_id, contract_id=contract_id,
                              aging=age(items, as_of), unapplied=unapplied)


@router.post("/dunning-runs", response_model=ScheduledRunRead, tags=["receivables"],
             summary="Run the scheduled job now as of a date: bill instalments due by date, advance dunning")
async def run_dunning(body: ScheduledRunCreate, uow: Uow, principal: Scheduler) -> ScheduledRunRead:
    async with uow:
        result = await handlers.run_schedule(uow, body.as_of)
    return ScheduledRunRead(as_of=result.as_of, invoices_issued=result.invoiced, dunned=[
        DunnedInvoiceRead(invoice_id=i.invoice_id, number=i.number, contract_id=i.contract_id, dunning_level=level,
                          days_overdue=(result.as_of - i.due_date).days, open_amount=i.open_amount.to_json())
        for i, level in result.dunned])


@router.get("/journal-lines", response_model=JournalRead, tags=["erp"],
            summary="Double-entry journal lines posted in a date range (inclusive), with the ERP's account codes")
async def read_journal(session: ReadSession, principal: Exporter,
                       start: Annotated[date, Query(alias="from")], end: Annotated[date, Query(alias="to")]) -> JournalRead:
    if end < start:
        raise ProblemError(422, "validation-error", "Invalid request", "to: must not be before from",
                           errors=[{"field": "to", "message": "must not be before from"}])
    if (end - start).days >= MAX_JOURNAL_DAYS:
        raise ProblemError(422, "validation-error", "Invalid request", f"to: at most {MAX_JOURNAL_DAYS} days per export",
                           errors=[{"field": "to", "message": f"at most {MAX_JOURNAL_DAYS} days per export"}])
    invoices, notes, payments = await repository.documents_posted_between(session, start, end)
    lines = journal(invoices=invoices, credit_notes=notes, payments=payments,
                    codes=finance_settings().account_codes(), start=start, end=end)
    return JournalRead(start=start, end=end, lines=[JournalLineRead.of(line) for line in lines])
