"""Collections over HTTP: disputes and promises to pay on an invoice, which pause its dunning.

Raising a dispute is for finance and for the account's manager (`ar`, on the accounts they won
an opportunity on: the customer usually tells them first); resolving one and recording a promise
to pay belong to finance, which runs collections. Everyone who may read an invoice reads them.
"""

from __future__ import annotations

import uuid
from datetime import date, datetime
from functools import partial
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Response
from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from ltc.finance import collections, handlers
from ltc.finance.adapters import collections_queries
from ltc.finance.domain.collections import (
    CollectionsAction,
    CollectionsAudited,
    Dispute,
    DisputeOutcome,
    DisputeStatus,
    Hold,
    HoldReason,
    PromiseStatus,
    PromiseToPay,
    dunning_holds,
)
from ltc.finance.domain.invoice import Invoice
from ltc.finance.domain.receivables import DunningLevel
from ltc.shared.api import Cursor, ExpectedVersion, IdempotencyKey, Limit, Once, Page, Versioned, etag, run
from ltc.shared.auth import Principal, Role, require_roles
from ltc.shared.messages import MoneyPayload
from ltc.shared.service import ReadSession, Uow

router = APIRouter()

Clerk = Annotated[Principal, Depends(require_roles(Role.FINANCE))]
Raiser = Annotated[Principal, Depends(require_roles(Role.FINANCE, Role.AR))]
Reader = Annotated[Principal, Depends(require_roles(Role.FINANCE, Role.INTEGRATION, Role.ADMIN, Role.AR))]

Text1000 = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=1000)]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


# --- bodies -------------------------------------------------------------------------------------


class DisputeCreate(_Strict):
    reason: Text1000 = Field(description="what the customer contests, as they put it")
    disputed_amount: MoneyPayload | None = Field(default=None, description=(
        "the part of the invoice contested, in its currency, at most what is open (422 "
        "`disputed-amount-exceeds-open-amount`; not positive or another currency: `disputed-amount-invalid`); "
        "left out: all that is open"))


class DisputeResolutionCreate(_Strict):
    outcome: DisputeOutcome = Field(description=(
        "`customer_right` (correct the invoice with a credit note: the dispute changes no amount), "
        "`customer_wrong` (the invoice stands) or `withdrawn` (the customer dropped it)"))
    resolution: Text1000 = Field(description="what was decided, and why")


class PromiseToPayCreate(_Strict):
    amount: MoneyPayload | None = Field(default=None, description=(
        "what the customer promised to pay, in the invoice's currency, at most what is open (422 "
        "`promised-amount-exceeds-open-amount`; not positive or another currency: `promised-amount-invalid`); "
        "left out: all that is open"))
    promised_date: date = Field(description=(
        "the day it is promised by: today or later (422 `promised-date-passed`); dunning pauses until then, and "
        "the scheduled run of the day after breaks the promise unless the amount came in"))


# --- answers ------------------------------------------------------------------------------------


class DisputeRead(Versioned):
    id: uuid.UUID
    invoice_id: uuid.UUID
    invoice_number: str
    contract_id: uuid.UUID
    account_id: uuid.UUID | None
    status: DisputeStatus
    reason: str
    disputed_amount: MoneyPayload
    opened_on: date
    opened_by: str
    outcome: DisputeOutcome | None
    resolution: str | None
    resolved_on: date | None
    resolved_by: str | None
    created_at: datetime
    pauses_dunning: bool = Field(description="open: the invoice is not dunned until it is resolved")

    @classmethod
    def of(cls, dispute: Dispute) -> DisputeRead:
        return cls(id=dispute.id, invoice_id=dispute.invoice_id, invoice_number=dispute.invoice_number,
                   contract_id=dispute.contract_id, account_id=dispute.account_id, status=dispute.status,
                   reason=dispute.reason, disputed_amount=MoneyPayload.of(dispute.disputed),
                   opened_on=dispute.opened_on, opened_by=dispute.opened_by, outcome=dispute.outcome,
                   resolution=dispute.resolution, resolved_on=dispute.resolved_on, resolved_by=dispute.resolved_by,
                   created_at=dispute.created_at, version=dispute.version, pauses_dunning=dispute.is_open)


class PromiseToPayRead(Versioned):
    id: uuid.UUID
    invoice_id: uuid.UUID
    invoice_number: str
    contract_id: uuid.UUID
    account_id: uuid.UUID | None
    status: PromiseStatus = Field(description=(
        "`open`; `kept` (the amount came in since the promise), `broken` (it had not by the day after the date: "
        "dunning resumed one level up) or `settled` (the invoice was settled otherwise first), as the scheduled "
        "run found"))
    amount: MoneyPayload
    promised_date: date
    paid_since: MoneyPayload = Field(description="what the invoice received since the promise (when closed: by then)")
    recorded_on: date
    recorded_by: str
    closed_on: date | None
    created_at: datetime
    pauses_dunning: bool = Field(description="open and its date not passed (today): the invoice is not dunned")

    @classmethod
    def of(cls, promise: PromiseToPay, invoice: Invoice) -> PromiseToPayRead:
        return cls(id=promise.id, invoice_id=promise.invoice_id, invoice_number=promise.invoice_number,
                   contract_id=promise.contract_id, account_id=promise.account_id, status=promise.status,
                   amount=MoneyPayload.of(promise.amount), promised_date=promise.promised_date,
                   paid_since=MoneyPayload.of(promise.paid_since(invoice)), recorded_on=promise.recorded_on,
                   recorded_by=promise.recorded_by, closed_on=promise.closed_on, created_at=promise.created_at,
                   version=promise.version, pauses_dunning=promise.holds(handlers.today()))


class DunningHoldRead(BaseModel):
    reason: HoldReason
    dispute_id: uuid.UUID | None = Field(description="the open dispute that pauses it")
    promise_id: uuid.UUID | None = Field(description="the promise to pay that pauses it")
    until: date | None = Field(description="a promise's date; a dispute pauses until it is resolved")

    @classmethod
    def of(cls, hold: Hold) -> DunningHoldRead:
        return cls(reason=hold.reason, until=hold.until,
                   dispute_id=hold.by_id if hold.reason is HoldReason.DISPUTE else None,
                   promise_id=hold.by_id if hold.reason is HoldReason.PROMISE_TO_PAY else None)


class InvoiceCollectionsRead(BaseModel):
    """Where collections stand on one invoice today."""

    invoice_id: uuid.UUID
    invoice_number: str
    open_amount: MoneyPayload
    due_date: date
    dunning_level: DunningLevel | None = Field(description="the last dunning step taken")
    dunning_paused_by: DunningHoldRead | None = Field(description="what pauses its dunning today; null: dunned")
    disputes: list[DisputeRead] = Field(description="every dispute of the invoice, oldest first")
    promises_to_pay: list[PromiseToPayRead] = Field(description="every promise to pay it, oldest first")


class CollectionsHistoryEntryRead(BaseModel):
    """One change of a dispute or promise in the audit trail."""

    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    action: CollectionsAction
    actor: str = Field(description="the user's id, or `system:scheduled-run` for what the scheduled run decided")
    at: datetime
    object_type: CollectionsAudited
    object_id: uuid.UUID
    changes: dict[str, Any]


def _dispute_answer(response: Response, dispute: Dispute, *, created: bool = False) -> DisputeRead:
    response.headers["ETag"] = etag(dispute.version)
    if created:
        response.headers["Location"] = f"/api/v1/disputes/{dispute.id}"
    return DisputeRead.of(dispute)


async def _promise_answer(session: Any, response: Response, promise: PromiseToPay, *,
                          created: bool = False) -> PromiseToPayRead:
    response.headers["ETag"] = etag(promise.version)
    if created:
        response.headers["Location"] = f"/api/v1/promises-to-pay/{promise.id}"
    invoices = await collections_queries.invoices_by_id(session, [promise.invoice_id])
    return PromiseToPayRead.of(promise, invoices[promise.invoice_id])


async def _promises_read(session: Any, promises: list[PromiseToPay]) -> list[PromiseToPayRead]:
    invoices = await collections_queries.invoices_by_id(session, {p.invoice_id for p in promises})
    return [PromiseToPayRead.of(p, invoices[p.invoice_id]) for p in promises]


# --- disputes -----------------------------------------------------------------------------------


@router.post("/invoices/{invoice_id}/disputes", status_code=201, response_model=DisputeRead, tags=["collections"],
             summary="Record the customer's dispute of an open invoice: its dunning pauses until it is resolved "
                     "(it changes nothing on the invoice: no If-Match)",
             description="One open dispute per invoice (409 `dispute-already-open`); an invoice with nothing open "
                         "cannot be disputed (409 `invoice-not-open`). The invoice stays open and in the "
                         "receivables; only its dunning pauses. Finance, or the account's manager (`ar`).")
async def open_dispute(invoice_id: uuid.UUID, body: DisputeCreate, uow: Uow, principal: Raiser, response: Response,
                       idempotency_key: IdempotencyKey = None) -> DisputeRead:
    # A creation beside the invoice, as a bad-debt request is: the invoice's ETag would not go stale,
    # and one open dispute per invoice (409) is what keeps two clerks from opening two.
    command = collections.OpenDispute(
        uuid.uuid4(), invoice_id, body.reason,
        body.disputed_amount.to_money() if body.disputed_amount is not None else None, None)
    return await run(uow, collections.open_dispute, command, principal,
                     answer=partial(_dispute_answer, response, created=True),
                     once=Once(idempotency_key, f"POST /invoices/{invoice_id}/disputes", body, command.dispute_id,
                               collections_queries.get_dispute))


@router.post("/disputes/{dispute_id}/resolution", response_model=DisputeRead, tags=["collections"],
             summary="Resolve a dispute with its outcome: the invoice's dunning resumes at the level it had; "
                     "If-Match the dispute's ETag",
             description="A resolved dispute is not resolved again (409 `dispute-not-open`).")
async def resolve_dispute(dispute_id: uuid.UUID, body: DisputeResolutionCreate, uow: Uow, principal: Clerk,
                          response: Response, version: ExpectedVersion,
                          idempotency_key: IdempotencyKey = None) -> DisputeRead:
    command = collections.ResolveDispute(dispute_id, body.outcome, body.resolution, version)
    return await run(uow, collections.resolve_dispute, command, principal,
                     answer=partial(_dispute_answer, response),
                     once=Once(idempotency_key, f"POST /disputes/{dispute_id}/resolution", body, dispute_id,
                               collections_queries.get_dispute))


@router.get("/disputes/{dispute_id}", response_model=DisputeRead, tags=["collections"],
            summary="A dispute: what the customer contests, and how it was resolved")
async def read_dispute(dispute_id: uuid.UUID, session: ReadSession, principal: Reader,
                       response: Response) -> DisputeRead:
    return _dispute_answer(response, await collections_queries.dispute(session, principal, dispute_id))


@router.get("/disputes/{dispute_id}/history", response_model=list[CollectionsHistoryEntryRead],
            tags=["collections"], summary="Who opened and resolved the dispute, and when: its audit trail, oldest first")
async def dispute_history(dispute_id: uuid.UUID, session: ReadSession,
                          principal: Reader) -> list[CollectionsHistoryEntryRead]:
    entries = await collections_queries.dispute_history(session, principal, dispute_id)
    return [CollectionsHistoryEntryRead.model_validate(row) for row in entries]


@router.get("/disputes", response_model=Page[DisputeRead], tags=["collections"],
            summary="Disputes in the order they were opened; by status (`open`: the clerk's worklist), account "
                    "or invoice")
async def list_disputes(session: ReadSession, principal: Reader, status: DisputeStatus | None = None,
                        account_id: uuid.UUID | None = None, invoice_id: uuid.UUID | None = None,
                        limit: Limit = 50, cursor: Cursor = None) -> Page[DisputeRead]:
    rows, next_cursor = await collections_queries.disputes_page(
        session, principal, status=status, account_id=account_id, invoice_id=invoice_id, limit=limit, cursor=cursor)
    return Page[DisputeRead](items=[DisputeRead.of(d) for d in rows], next_cursor=next_cursor)


# --- promises to pay ----------------------------------------------------------------------------


@router.post("/invoices/{invoice_id}/promises-to-pay", status_code=201, response_model=PromiseToPayRead,
             tags=["collections"],
             summary="Record the customer's promise to pay an open invoice by a date: its dunning pauses until "
                     "then (it changes nothing on the invoice: no If-Match)",
             description="One open promise per invoice (409 `promise-already-open`). The scheduled run closes it "
                         "as kept once the amount came in since the promise; the run of the day after its date "
                         "breaks it otherwise (`promise_to_pay.broken`; dunning resumes one level up).")
async def record_promise(invoice_id: uuid.UUID, body: PromiseToPayCreate, uow: Uow, principal: Clerk,
                         response: Response, idempotency_key: IdempotencyKey = None) -> PromiseToPayRead:
    command = collections.RecordPromise(uuid.uuid4(), invoice_id,
                                        body.amount.to_money() if body.amount is not None else None,
                                        body.promised_date, None)

    async def answer(promise: PromiseToPay) -> PromiseToPayRead:
        return await _promise_answer(uow.session, response, promise, created=True)

    return await run(uow, collections.record_promise, command, principal, answer=answer,
                     once=Once(idempotency_key, f"POST /invoices/{invoice_id}/promises-to-pay", body,
                               command.promise_id, collections_queries.get_promise))


@router.get("/promises-to-pay/{promise_id}", response_model=PromiseToPayRead, tags=["collections"],
            summary="A promise to pay: how much by when, what came in since, and whether it held")
async def read_promise(promise_id: uuid.UUID, session: ReadSession, principal: Reader,
                       response: Response) -> PromiseToPayRead:
    return await _promise_answer(session, response, await collections_queries.promise(session, principal, promise_id))


@router.get("/promises-to-pay/{promise_id}/history", response_model=list[CollectionsHistoryEntryRead],
            tags=["collections"],
            summary="Who recorded the promise and what the scheduled run found (kept, broken): its audit trail")
async def promise_history(promise_id: uuid.UUID, session: ReadSession,
                          principal: Reader) -> list[CollectionsHistoryEntryRead]:
    entries = await collections_queries.promise_history(session, principal, promise_id)
    return [CollectionsHistoryEntryRead.model_validate(row) for row in entries]


@router.get("/promises-to-pay", response_model=Page[PromiseToPayRead], tags=["collections"],
            summary="Promises to pay in the order they were recorded; by status (`broken`: the report of promises "
                    "not kept), account or invoice")
async def list_promises(session: ReadSession, principal: Reader, status: PromiseStatus | None = None,
                        account_id: uuid.UUID | None = None, invoice_id: uuid.UUID | None = None,
                        limit: Limit = 50, cursor: Cursor = None) -> Page[PromiseToPayRead]:
    rows, next_cursor = await collections_queries.promises_page(
        session, principal, status=status, account_id=account_id, invoice_id=invoice_id, limit=limit, cursor=cursor)
    return Page[PromiseToPayRead](items=await _promises_read(session, rows), next_cursor=next_cursor)


# --- one invoice ----------------------------------------------------------------------------------


@router.get("/invoices/{invoice_id}/collections", response_model=InvoiceCollectionsRead, tags=["collections"],
            summary="Where collections stand on an invoice: its dunning level, what pauses its dunning today, "
                    "and its disputes and promises to pay")
async def read_invoice_collections(invoice_id: uuid.UUID, session: ReadSession,
                                   principal: Reader) -> InvoiceCollectionsRead:
    invoice, dunning, disputes, promises = await collections_queries.invoice_collections(session, principal,
                                                                                         invoice_id)
    hold = dunning_holds(disputes, promises, handlers.today()).get(invoice.id) if invoice.is_open else None
    return InvoiceCollectionsRead(
        invoice_id=invoice.id, invoice_number=invoice.number, open_amount=MoneyPayload.of(invoice.open_amount),
        due_date=invoice.due_date, dunning_level=dunning.level if dunning is not None else None,
        dunning_paused_by=DunningHoldRead.of(hold) if hold is not None else None,
        disputes=[DisputeRead.of(d) for d in disputes],
        promises_to_pay=[PromiseToPayRead.of(p, invoice) for p in promises])
