"""Command handlers of collections (disputes and promises to pay): load → domain → audit → commit.

The same shape as `handlers`: `(uow, command, principal)`, returning the object the route answers
from, on the service's one clock (`handlers.clock`). What the scheduled run does with them (pause,
keep, break) is in `handlers.run_schedule`.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import date

from sqlalchemy.exc import IntegrityError

from ltc.finance import handlers
from ltc.finance.adapters import collections_queries, queries
from ltc.finance.domain.collections import (
    DISPUTE_ALREADY_OPEN,
    PROMISE_ALREADY_OPEN,
    CollectionsAction,
    CollectionsAudited,
    Dispute,
    DisputeOutcome,
    PromiseToPay,
    require_no_open_dispute,
    require_no_open_promise,
)
from ltc.shared.audit import AuditEntry
from ltc.shared.db import UnitOfWork
from ltc.shared.money import Money
from ltc.shared.roles import Principal
from ltc.shared.rules import DomainError, require_version


async def _insert_once(uow: UnitOfWork, index: str, rule: str, detail: str) -> None:
    """Write what was added; a concurrent request that opened the same invoice's one open dispute
    (or promise) first is answered as the check before it would have answered."""
    try:
        await uow.session.flush()
    except IntegrityError as exc:
        if index in str(exc.orig):
            raise DomainError(rule, detail) from None
        raise


@dataclass(frozen=True)
class OpenDispute:
    dispute_id: uuid.UUID
    invoice_id: uuid.UUID
    reason: str
    disputed_amount: Money | None  # None: all that is open
    expected_version: int | None = None  # the invoice's version the clerk read


async def open_dispute(uow: UnitOfWork, cmd: OpenDispute, principal: Principal) -> Dispute:
    """Record the customer's dispute of an open invoice: its dunning pauses until it is resolved."""
    invoice = await queries.invoice(uow.session, principal, cmd.invoice_id)
    require_version(invoice.version, cmd.expected_version, what=f"invoice {invoice.number}")
    require_no_open_dispute(invoice, await collections_queries.open_dispute_of(uow.session, invoice.id))
    now = handlers.clock()
    dispute = Dispute(id=cmd.dispute_id, invoice=invoice, reason=cmd.reason, amount=cmd.disputed_amount,
                      opened_by=principal.sub, now=now)
    uow.session.add(dispute)
    await _insert_once(uow, "uq_invoice_disputes_open", DISPUTE_ALREADY_OPEN,
                       f"invoice {invoice.number} was disputed a moment ago: resolve that dispute first")
    uow.audit(AuditEntry(now, principal.sub, CollectionsAction.OPENED, CollectionsAudited.DISPUTE, dispute.id, {
        "invoice_id": invoice.id, "invoice_number": invoice.number, "reason": dispute.reason,
        "disputed_amount": dispute.disputed, "invoice_open_amount": invoice.open_amount}))
    await uow.commit()
    return dispute


@dataclass(frozen=True)
class ResolveDispute:
    dispute_id: uuid.UUID
    outcome: DisputeOutcome
    resolution: str
    expected_version: int | None = None  # the dispute's version the clerk read


async def resolve_dispute(uow: UnitOfWork, cmd: ResolveDispute, principal: Principal) -> Dispute:
    """End a dispute with its outcome: the invoice's dunning resumes at the level it had."""
    dispute = await collections_queries.get_dispute(uow.session, cmd.dispute_id, for_update=True)
    await queries.require_visible(uow.session, principal, dispute.account_id, "dispute", dispute.id)
    require_version(dispute.version, cmd.expected_version, what=f"dispute {dispute.id}")
    now = handlers.clock()
    dispute.resolve(outcome=cmd.outcome, resolution=cmd.resolution, by=principal.sub, on=now.date())
    uow.audit(AuditEntry(now, principal.sub, CollectionsAction.RESOLVED, CollectionsAudited.DISPUTE, dispute.id, {
        "invoice_id": dispute.invoice_id, "outcome": dispute.outcome, "resolution": dispute.resolution}))
    await uow.commit()
    return dispute


@dataclass(frozen=True)
class RecordPromise:
    promise_id: uuid.UUID
    invoice_id: uuid.UUID
    amount: Money | None  # None: all that is open
    promised_date: date
    expected_version: int | None = None  # the invoice's version the clerk read


async def record_promise(uow: UnitOfWork, cmd: RecordPromise, principal: Principal) -> PromiseToPay:
    """Record the customer's promise to pay by a date: the invoice's dunning pauses until then."""
    invoice = await queries.invoice(uow.session, principal, cmd.invoice_id)
    require_version(invoice.version, cmd.expected_version, what=f"invoice {invoice.number}")
    require_no_open_promise(invoice, await collections_queries.open_promise_of(uow.session, invoice.id))
    now = handlers.clock()
    promise = PromiseToPay(id=cmd.promise_id, invoice=invoice, amount=cmd.amount, promised_date=cmd.promised_date,
                           recorded_by=principal.sub, now=now)
    uow.session.add(promise)
    await _insert_once(uow, "uq_promises_to_pay_open", PROMISE_ALREADY_OPEN,
                       f"invoice {invoice.number} received a promise to pay a moment ago")
    uow.audit(AuditEntry(now, principal.sub, CollectionsAction.RECORDED, CollectionsAudited.PROMISE_TO_PAY, promise.id, {
        "invoice_id": invoice.id, "invoice_number": invoice.number, "amount": promise.amount,
        "promised_date": promise.promised_date, "paid_at_promise": promise.paid_at_promise,
        "invoice_open_amount": invoice.open_amount}))
    await uow.commit()
    return promise
