"""Routes only translate HTTP into commands and read models; the rules live in the domain."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Depends, Response
from ltc.finance import handlers
from ltc.finance.adapters import repository
from ltc.finance.api.schemas import BillingPlanRead, InvoiceRead, PaymentCreate, PaymentRead
from ltc.finance.domain.model import Invoice, InvoiceStatus
from ltc.shared.api import Cursor, IdempotencyKey, Limit, Page, create_idempotently, etag, paginate
from ltc.shared.auth import Principal, Role, require_roles
from ltc.shared.service import ReadSession, Uow
from sqlalchemy import select

router = APIRouter()

Cashier = Annotated[Principal, Depends(require_roles(Role.FINANCE, Role.INTEGRATION))]
Reader = Annotated[Principal, Depends(require_roles(Role.FINANCE, Role.INTEGRATION, Role.ADMIN, Role.AR))]


@router.post("/payments", status_code=201, response_model=PaymentRead, tags=["payments"],
             summary="Record a bank payment and apply it; a known bank reference answers 200 with the first one")
async def record_payment(body: PaymentCreate, uow: Uow, principal: Cashier, response: Response,
                         idempotency_key: IdempotencyKey = None) -> PaymentRead:
    try:
        payment_id = await create_idempotently(
            uow, principal=principal.sub, key=idempotency_key, endpoint="POST /payments", body=body,
            create=lambda new_id: handlers.record_payment(uow, handlers.RecordPayment(
                new_id, body.bank_reference, body.payer, body.amount.to_money(), body.value_date, body.invoice_id,
                body.contract_id), principal),
        )
        response.headers["Location"] = f"/api/v1/payments/{payment_id}"
    except handlers.PaymentAlreadyRecorded as repeat:
        payment_id = repeat.payment_id
        response.status_code = 200
    async with uow:
        payment = await repository.get_payment(uow.session, payment_id)
    return PaymentRead.of(payment)


@router.get("/payments/{payment_id}", response_model=PaymentRead, tags=["payments"])
async def read_payment(payment_id: uuid.UUID, session: ReadSession, principal: Reader) -> PaymentRead:
    return PaymentRead.of(await repository.get_payment(session, payment_id))


@router.get("/invoices/{invoice_id}", response_model=InvoiceRead, tags=["invoices"])
async def read_invoice(invoice_id: uuid.UUID, session: ReadSession, principal: Reader,
                       response: Response) -> InvoiceRead:
    invoice = await repository.get_invoice(session, invoice_id)
    response.headers["ETag"] = etag(invoice.version)
    return InvoiceRead.of(invoice)


@router.get("/invoices", response_model=Page[InvoiceRead], tags=["invoices"])
async def list_invoices(session: ReadSession, principal: Reader, contract_id: uuid.UUID | None = None,
                        status: InvoiceStatus | None = None, limit: Limit = 50,
                        cursor: Cursor = None) -> Page[InvoiceRead]:
    stmt = select(Invoice)
    if contract_id is not None:
        stmt = stmt.where(Invoice.contract_id == contract_id)
    if status is not None:
        stmt = stmt.where(Invoice.status == status)
    rows, next_cursor = await paginate(session, stmt, created_at=Invoice.created_at, ident=Invoice.id,
                                       limit=limit, cursor=cursor)
    return Page[InvoiceRead](items=[InvoiceRead.of(invoice) for invoice in rows], next_cursor=next_cursor)


@router.get("/billing-plans/{contract_id}", response_model=BillingPlanRead, tags=["billing plans"],
            summary="A contract's billing plan: instalments, invoiced, collected and open balance")
async def read_billing_plan(contract_id: uuid.UUID, session: ReadSession, principal: Reader,
                            response: Response) -> BillingPlanRead:
    plan = await repository.get_plan(session, contract_id)
    response.headers["ETag"] = etag(plan.version)
    return BillingPlanRead.of(plan)
