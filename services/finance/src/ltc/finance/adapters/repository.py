"""Loading aggregates and numbering invoices; writes go through the unit of work's session."""

from __future__ import annotations

import uuid

from ltc.finance.adapters.orm import billing_plans, invoice_sequences, invoices
from ltc.finance.domain.model import BillingPlan, Invoice, Payment
from ltc.shared.errors import NotFound
from sqlalchemy import select, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession


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


async def lock_plan(session: AsyncSession, contract_id: uuid.UUID) -> None:
    """Take the contract's cash lock without loading the plan (see handlers.record_payment)."""
    locked = (await session.execute(select(billing_plans.c.id).where(billing_plans.c.contract_id == contract_id)
                                    .with_for_update())).scalar()
    if locked is None:
        raise NotFound("billing plan of contract", contract_id)


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


async def invoices_of_contract(session: AsyncSession, contract_id: uuid.UUID) -> list[Invoice]:
    """Every invoice of the contract, fresh; call it holding the plan's lock."""
    stmt = (select(Invoice).where(Invoice.contract_id == contract_id).order_by(Invoice.number)
            .execution_options(populate_existing=True))
    return list((await session.execute(stmt)).scalars())


async def get_payment(session: AsyncSession, payment_id: uuid.UUID) -> Payment:
    payment = await session.get(Payment, payment_id)
    if payment is None:
        raise NotFound("payment", payment_id)
    return payment


async def find_payment_by_bank_reference(session: AsyncSession, bank_reference: str) -> Payment | None:
    return (await session.execute(select(Payment).where(Payment.bank_reference == bank_reference))).scalar_one_or_none()


async def next_invoice_sequence(session: AsyncSession, year: int) -> int:
    """The year's next invoice number; the row stays locked until the issuing transaction ends."""
    await session.execute(insert(invoice_sequences).values(year=year, last_number=0).on_conflict_do_nothing())
    return (await session.execute(
        update(invoice_sequences).where(invoice_sequences.c.year == year)
        .values(last_number=invoice_sequences.c.last_number + 1).returning(invoice_sequences.c.last_number)
    )).scalar_one()
