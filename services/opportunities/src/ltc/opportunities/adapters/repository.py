"""Loading the opportunity aggregate for a command; writes go through the unit of work's session."""

from __future__ import annotations

import uuid

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

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
