"""Loading aggregates; writes go through the unit of work's session."""

from __future__ import annotations

import uuid

from ltc.contracts.domain.model import Contract
from ltc.shared.errors import NotFound
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession


async def get_contract(session: AsyncSession, contract_id: uuid.UUID, *, for_update: bool = False) -> Contract:
    contract = await session.get(Contract, contract_id, with_for_update=for_update)
    if contract is None:
        raise NotFound("contract", contract_id)
    return contract


async def find_by_opportunity(session: AsyncSession, opportunity_id: uuid.UUID) -> Contract | None:
    result = await session.execute(select(Contract).where(Contract.opportunity_id == opportunity_id))
    return result.scalar_one_or_none()
