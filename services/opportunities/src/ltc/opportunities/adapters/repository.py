"""Loading the opportunity aggregate for a command; writes go through the unit of work's session."""

from __future__ import annotations

import uuid
from datetime import datetime
from decimal import Decimal

from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from ltc.opportunities.adapters.orm import account_credit
from ltc.opportunities.domain.model import Opportunity
from ltc.shared.rules import NotFound


async def get_opportunity(session: AsyncSession, opportunity_id: uuid.UUID, *,
                          for_update: bool = False) -> Opportunity:
    opportunity = await session.get(Opportunity, opportunity_id, with_for_update=for_update)
    if opportunity is None:
        raise NotFound("opportunity", opportunity_id)
    return opportunity


async def find_by_lead(session: AsyncSession, lead_id: uuid.UUID) -> Opportunity | None:
    return (await session.execute(select(Opportunity).where(Opportunity.lead_id == lead_id))).scalar_one_or_none()


async def copy_credit(session: AsyncSession, *, account_id: uuid.UUID, currency: str, limit_amount: Decimal | None,
                      exposure_amount: Decimal, changed_at: datetime) -> bool:
    """Keep finance's figures for the account in the currency unless newer ones are held (`Credit.supersedes`,
    as one statement: the row's lock orders two deliveries); True when the copy was written."""
    stmt = insert(account_credit).values(account_id=account_id, currency=currency, limit_amount=limit_amount,
                                         exposure_amount=exposure_amount, changed_at=changed_at)
    stmt = stmt.on_conflict_do_update(
        index_elements=[account_credit.c.account_id, account_credit.c.currency],
        set_={"limit_amount": stmt.excluded.limit_amount, "exposure_amount": stmt.excluded.exposure_amount,
              "changed_at": stmt.excluded.changed_at},
        where=account_credit.c.changed_at < stmt.excluded.changed_at)
    return (await session.execute(stmt.returning(account_credit.c.account_id))).first() is not None
