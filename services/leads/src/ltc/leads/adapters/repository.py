"""Loading aggregates; writes go through the unit of work's session."""

from __future__ import annotations

import uuid

from ltc.leads.domain.model import Account, Lead
from ltc.shared.errors import NotFound
from sqlalchemy.ext.asyncio import AsyncSession


async def get_account(session: AsyncSession, account_id: uuid.UUID) -> Account:
    account = await session.get(Account, account_id)
    if account is None:
        raise NotFound("account", account_id)
    return account


async def get_lead(session: AsyncSession, lead_id: uuid.UUID, *, for_update: bool = False) -> Lead:
    lead = await session.get(Lead, lead_id, with_for_update=for_update)
    if lead is None:
        raise NotFound("lead", lead_id)
    return lead
