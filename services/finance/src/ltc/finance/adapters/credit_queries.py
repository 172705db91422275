"""Credit exposure's reads and locks: an account's limits, what it owes and has signed for, and the
figures last published (ltc.finance.domain.credit)."""

from __future__ import annotations

import uuid
from collections.abc import Iterable

from sqlalchemy import exists, func, literal, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from ltc.finance.adapters.orm import accounts, billing_plans, invoices
from ltc.finance.domain.billing_plan import BillingPlan
from ltc.finance.domain.credit import (
    CreditFigures,
    CreditLimit,
    CreditPublished,
    CreditStanding,
    SignedValue,
    exposures,
)
from ltc.finance.domain.invoice import Invoice

# The class id of the advisory locks that serialise one account's credit (pg_advisory_xact_lock's
# two-key form, a key space of its own): any number finance uses for nothing else.
_CREDIT_LOCK_CLASS = 16_005


async def lock_account(session: AsyncSession, account_id: uuid.UUID) -> None:
    """Until the transaction ends, no one else recomputes or sets this account's credit: the figures
    read after this are the ones compared with the last published."""
    await session.execute(select(func.pg_advisory_xact_lock(literal(_CREDIT_LOCK_CLASS),
                                                            func.hashtext(literal(str(account_id))))))


async def figures(session: AsyncSession, account_id: uuid.UUID) -> dict[str, CreditFigures]:
    """The account's exposure per currency, from its invoices and billing plans as they are now."""
    await session.flush()  # what this transaction changed counts too
    open_amounts = [invoice.open_amount for invoice in
                    (await session.execute(select(Invoice).where(Invoice.account_id == account_id))).scalars()]
    plans = (await session.execute(select(BillingPlan).where(BillingPlan.account_id == account_id))).scalars()
    return exposures(open_amounts, [SignedValue(plan.value, plan.invoiced) for plan in plans])


async def limits(session: AsyncSession, account_id: uuid.UUID, *, for_update: bool = False) -> dict[str, CreditLimit]:
    stmt = select(CreditLimit).where(CreditLimit.account_id == account_id)
    if for_update:
        stmt = stmt.with_for_update().execution_options(populate_existing=True)
    return {limit.currency: limit for limit in (await session.execute(stmt)).scalars()}


async def published(session: AsyncSession, account_id: uuid.UUID) -> dict[str, CreditPublished]:
    stmt = select(CreditPublished).where(CreditPublished.account_id == account_id)
    return {row.currency: row for row in (await session.execute(stmt)).scalars()}


async def account_known(session: AsyncSession, account_id: uuid.UUID) -> bool:
    """Whether finance knows the account: from leads (its copy) or from a contract signed with it."""
    stmt = select(or_(exists().where(accounts.c.account_id == account_id),
                      exists().where(billing_plans.c.account_id == account_id)))
    return bool((await session.execute(stmt)).scalar())


async def accounts_of_invoices(session: AsyncSession, invoice_ids: Iterable[uuid.UUID]) -> set[uuid.UUID]:
    ids = set(invoice_ids)
    if not ids:
        return set()
    stmt = select(invoices.c.account_id).where(invoices.c.id.in_(ids), invoices.c.account_id.is_not(None)).distinct()
    return set((await session.execute(stmt)).scalars())


async def account_of_contract(session: AsyncSession, contract_id: uuid.UUID) -> uuid.UUID | None:
    stmt = select(billing_plans.c.account_id).where(billing_plans.c.contract_id == contract_id)
    return (await session.execute(stmt)).scalar()


async def standings(session: AsyncSession, account_id: uuid.UUID) -> list[CreditStanding]:
    """Every currency the account has a limit, invoices or plans in, with its figures now."""
    current = await figures(session, account_id)
    set_limits = await limits(session, account_id)
    return [CreditStanding(account_id, current.get(currency, CreditFigures.zero(currency)), set_limits.get(currency))
            for currency in sorted(current.keys() | set_limits.keys())]
