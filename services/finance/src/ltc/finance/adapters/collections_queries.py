"""Disputes and promises to pay: loading them for change, and the read side (lists, one object, history).

Who sees them is the receivables rule of `queries` (`may_see` / `visible_to`): finance, integration
and admin every account's, an account manager those of the accounts they won an opportunity on.
"""

from __future__ import annotations

import uuid
from collections.abc import Collection
from typing import Any

from sqlalchemy import Row, Select, select
from sqlalchemy.ext.asyncio import AsyncSession

from ltc.finance.adapters import queries
from ltc.finance.adapters.orm import invoice_disputes, promises_to_pay
from ltc.finance.domain.collections import Dispute, DisputeStatus, PromiseStatus, PromiseToPay
from ltc.finance.domain.invoice import Invoice
from ltc.finance.domain.receivables import Dunning
from ltc.shared.db import audit_history
from ltc.shared.pagination import paginate
from ltc.shared.roles import Principal
from ltc.shared.rules import NotFound

# --- for change -------------------------------------------------------------------------------


def _locked(stmt: Select[Any], for_update: bool) -> Select[Any]:
    return stmt.with_for_update().execution_options(populate_existing=True) if for_update else stmt


async def get_dispute(session: AsyncSession, dispute_id: uuid.UUID, *, for_update: bool = False) -> Dispute:
    found = (await session.execute(_locked(select(Dispute).where(invoice_disputes.c.id == dispute_id),
                                           for_update))).scalar_one_or_none()
    if found is None:
        raise NotFound("dispute", dispute_id)
    return found


async def get_promise(session: AsyncSession, promise_id: uuid.UUID) -> PromiseToPay:
    found = await session.get(PromiseToPay, promise_id)
    if found is None:
        raise NotFound("promise to pay", promise_id)
    return found


async def open_dispute_of(session: AsyncSession, invoice_id: uuid.UUID) -> Dispute | None:
    stmt = select(Dispute).where(invoice_disputes.c.invoice_id == invoice_id,
                                 invoice_disputes.c.status == DisputeStatus.OPEN)
    return (await session.execute(stmt)).scalar_one_or_none()


async def open_promise_of(session: AsyncSession, invoice_id: uuid.UUID) -> PromiseToPay | None:
    stmt = select(PromiseToPay).where(promises_to_pay.c.invoice_id == invoice_id,
                                      promises_to_pay.c.status == PromiseStatus.OPEN)
    return (await session.execute(stmt)).scalar_one_or_none()


async def open_disputes(session: AsyncSession, invoice_ids: Collection[uuid.UUID]) -> list[Dispute]:
    stmt = select(Dispute).where(invoice_disputes.c.status == DisputeStatus.OPEN,
                                 invoice_disputes.c.invoice_id.in_(list(invoice_ids)))
    return list((await session.execute(stmt)).scalars())


async def open_promises(session: AsyncSession, *, for_update: bool = False) -> list[PromiseToPay]:
    """Every open promise, oldest first (the scheduled run reviews them all, under their row locks)."""
    stmt = select(PromiseToPay).where(promises_to_pay.c.status == PromiseStatus.OPEN).order_by(
        promises_to_pay.c.created_at, promises_to_pay.c.id)
    return list((await session.execute(_locked(stmt, for_update))).scalars())


async def invoices_by_id(session: AsyncSession, invoice_ids: Collection[uuid.UUID]) -> dict[uuid.UUID, Invoice]:
    if not invoice_ids:
        return {}
    stmt = select(Invoice).where(Invoice.id.in_(list(invoice_ids)))
    return {invoice.id: invoice for invoice in (await session.execute(stmt)).scalars()}


# --- the read side ----------------------------------------------------------------------------


async def dispute(session: AsyncSession, principal: Principal, dispute_id: uuid.UUID) -> Dispute:
    found = await get_dispute(session, dispute_id)
    await queries.require_visible(session, principal, found.account_id, "dispute", dispute_id)
    return found


async def promise(session: AsyncSession, principal: Principal, promise_id: uuid.UUID) -> PromiseToPay:
    found = await get_promise(session, promise_id)
    await queries.require_visible(session, principal, found.account_id, "promise to pay", promise_id)
    return found


async def dispute_history(session: AsyncSession, principal: Principal, dispute_id: uuid.UUID) -> list[Row[Any]]:
    await dispute(session, principal, dispute_id)
    return await audit_history(session, dispute_id)


async def promise_history(session: AsyncSession, principal: Principal, promise_id: uuid.UUID) -> list[Row[Any]]:
    await promise(session, principal, promise_id)
    return await audit_history(session, promise_id)


def _visible(stmt: Select[Any], principal: Principal, account_id: Any) -> Select[Any]:
    condition = queries.visible_to(principal, account_id)
    return stmt if condition is None else stmt.where(condition)


async def disputes_page(session: AsyncSession, principal: Principal, *, status: DisputeStatus | None,
                        account_id: uuid.UUID | None, invoice_id: uuid.UUID | None, limit: int,
                        cursor: str | None) -> queries.Paged:
    stmt = _visible(select(Dispute), principal, invoice_disputes.c.account_id)
    if status is not None:
        stmt = stmt.where(invoice_disputes.c.status == status)
    if account_id is not None:
        stmt = stmt.where(invoice_disputes.c.account_id == account_id)
    if invoice_id is not None:
        stmt = stmt.where(invoice_disputes.c.invoice_id == invoice_id)
    return await paginate(session, stmt, created_at=invoice_disputes.c.created_at, ident=invoice_disputes.c.id,
                          limit=limit, cursor=cursor)


async def promises_page(session: AsyncSession, principal: Principal, *, status: PromiseStatus | None,
                        account_id: uuid.UUID | None, invoice_id: uuid.UUID | None, limit: int,
                        cursor: str | None) -> queries.Paged:
    stmt = _visible(select(PromiseToPay), principal, promises_to_pay.c.account_id)
    if status is not None:
        stmt = stmt.where(promises_to_pay.c.status == status)
    if account_id is not None:
        stmt = stmt.where(promises_to_pay.c.account_id == account_id)
    if invoice_id is not None:
        stmt = stmt.where(promises_to_pay.c.invoice_id == invoice_id)
    return await paginate(session, stmt, created_at=promises_to_pay.c.created_at, ident=promises_to_pay.c.id,
                          limit=limit, cursor=cursor)


async def invoice_collections(session: AsyncSession, principal: Principal, invoice_id: uuid.UUID
                              ) -> tuple[Invoice, Dunning | None, list[Dispute], list[PromiseToPay]]:
    """An invoice with its dunning state and every dispute and promise made on it, oldest first."""
    invoice = await queries.invoice(session, principal, invoice_id)
    dunning = await session.get(Dunning, invoice_id)
    disputes = (await session.execute(select(Dispute).where(invoice_disputes.c.invoice_id == invoice_id)
                                      .order_by(invoice_disputes.c.created_at))).scalars()
    promises = (await session.execute(select(PromiseToPay).where(promises_to_pay.c.invoice_id == invoice_id)
                                      .order_by(promises_to_pay.c.created_at))).scalars()
    return invoice, dunning, list(disputes), list(promises)

