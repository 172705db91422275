"""Loading aggregates to change them, and the facts a command's rules check; writes go through the
unit of work's session. What the API only reads lives in `queries`."""

from __future__ import annotations

import uuid
from collections.abc import Iterable

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from ltc.leads.domain.accounts import Account, Contact
from ltc.leads.domain.activities import Activity
from ltc.leads.domain.model import OPEN_GRADES, Lead
from ltc.shared.rules import NotFound


async def get_account(session: AsyncSession, account_id: uuid.UUID, *, for_update: bool = False) -> Account:
    account = await session.get(Account, account_id, with_for_update=for_update)
    if account is None:
        raise NotFound("account", account_id)
    return account


async def lock_account(session: AsyncSession, account_id: uuid.UUID) -> uuid.UUID:
    """Lock an account's row (no object loaded: the caller needs the lock, not the account)."""
    found = (await session.execute(select(Account.id).where(Account.id == account_id).with_for_update())).scalar()
    if found is None:
        raise NotFound("account", account_id)
    return found


async def get_contact(session: AsyncSession, contact_id: uuid.UUID, *, for_update: bool = False) -> Contact:
    contact = await session.get(Contact, contact_id, with_for_update=for_update)
    if contact is None:
        raise NotFound("contact", contact_id)
    return contact


async def get_lead(session: AsyncSession, lead_id: uuid.UUID, *, for_update: bool = False) -> Lead:
    lead = await session.get(Lead, lead_id, with_for_update=for_update)
    if lead is None:
        raise NotFound("lead", lead_id)
    return lead


async def get_activity(session: AsyncSession, activity_id: uuid.UUID, *, for_update: bool = False) -> Activity:
    activity = await session.get(Activity, activity_id, with_for_update=for_update)
    if activity is None:
        raise NotFound("activity", activity_id)
    return activity


async def open_leads_of(session: AsyncSession, account_id: uuid.UUID) -> list[Lead]:
    stmt = select(Lead).where(Lead.account_id == account_id, Lead.grade.in_(OPEN_GRADES))
    return list((await session.execute(stmt)).scalars())


async def contacts_of_account(session: AsyncSession, account_id: uuid.UUID,
                              contact_ids: Iterable[str]) -> dict[str, Contact]:
    """The given contacts, if they belong to the account; the caller decides what a missing one means."""
    ids = [uuid.UUID(c) for c in contact_ids]
    if not ids:
        return {}
    stmt = select(Contact).where(Contact.id.in_(ids), Contact.account_id == account_id)
    return {str(c.id): c for c in (await session.execute(stmt)).scalars()}
