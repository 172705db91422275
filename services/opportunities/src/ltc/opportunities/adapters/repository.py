"""Loading aggregates and settings; writes go through the unit of work's session."""

from __future__ import annotations

import uuid
from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import insert, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from ltc.opportunities.adapters.orm import audit_log, configuration
from ltc.opportunities.domain.gates import DEFAULT_THRESHOLDS, DecisionPolicy, TierThresholds
from ltc.opportunities.domain.model import DEFAULT_PROBABILITIES, Opportunity, Stage, StageProbabilities
from ltc.shared.errors import NotFound

PROBABILITIES = "stage_probabilities"
THRESHOLDS = "decision_thresholds"


async def get_opportunity(session: AsyncSession, opportunity_id: uuid.UUID, *,
                          for_update: bool = False) -> Opportunity:
    opportunity = await session.get(Opportunity, opportunity_id, with_for_update=for_update)
    if opportunity is None:
        raise NotFound("opportunity", opportunity_id)
    return opportunity


async def find_by_lead(session: AsyncSession, lead_id: uuid.UUID) -> Opportunity | None:
    return (await session.execute(select(Opportunity).where(Opportunity.lead_id == lead_id))).scalar_one_or_none()


async def record_audit(session: AsyncSession, *, opportunity_id: uuid.UUID | None, actor: str, action: str,
                       detail: dict[str, Any], at: datetime) -> None:
    await session.execute(insert(audit_log).values(opportunity_id=opportunity_id, actor=actor, action=action,
                                                   detail=detail, at=at))


def probabilities_from_json(value: dict[str, str]) -> StageProbabilities:
    return StageProbabilities({Stage(k): Decimal(v) for k, v in value.items()})


def probabilities_to_json(probabilities: StageProbabilities) -> dict[str, str]:
    return {stage.value: str(p) for stage, p in probabilities.by_stage.items()}


def thresholds_from_json(value: dict[str, dict[str, str]]) -> DecisionPolicy:
    return DecisionPolicy({currency: TierThresholds(Decimal(b["l2_from"]), Decimal(b["l3_from"]))
                           for currency, b in value.items()})


def thresholds_to_json(policy: DecisionPolicy) -> dict[str, dict[str, str]]:
    return {currency: {"l2_from": str(b.l2_from), "l3_from": str(b.l3_from)}
            for currency, b in policy.thresholds.items()}


DEFAULTS = {PROBABILITIES: probabilities_to_json(DEFAULT_PROBABILITIES),
            THRESHOLDS: thresholds_to_json(DecisionPolicy(DEFAULT_THRESHOLDS))}


async def read_setting(session: AsyncSession, key: str) -> tuple[Any, int]:
    """The stored value and its version; version 0 is the built-in default, never saved."""
    row = (await session.execute(select(configuration.c.value, configuration.c.version)
                                 .where(configuration.c.key == key))).first()
    return (row.value, row.version) if row else (DEFAULTS[key], 0)


async def write_setting(session: AsyncSession, key: str, value: Any, *, version: int, by: str,
                        at: datetime) -> int | None:
    """Store a new value over `version`: the new version, or None when someone else got there first."""
    if version == 0:
        await session.execute(insert(configuration).values(key=key, value=value, version=1, updated_by=by,
                                                           updated_at=at))
        return 1
    result = await session.execute(
        update(configuration).where(configuration.c.key == key, configuration.c.version == version)
        .values(value=value, version=version + 1, updated_by=by, updated_at=at))
    return version + 1 if result.rowcount == 1 else None


async def stage_probabilities(session: AsyncSession) -> StageProbabilities:
    return probabilities_from_json((await read_setting(session, PROBABILITIES))[0])


async def decision_policy(session: AsyncSession) -> DecisionPolicy:
    return thresholds_from_json((await read_setting(session, THRESHOLDS))[0])
