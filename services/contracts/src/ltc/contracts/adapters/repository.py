"""Loading aggregates and the records kept beside them (versions, audit trail, policy); writes
go through the unit of work's session."""

from __future__ import annotations

import uuid
from datetime import date, datetime
from typing import Any

from sqlalchemy import ColumnElement, Select, and_, func, insert, literal_column, not_, or_, select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.engine import Row
from sqlalchemy.ext.asyncio import AsyncSession

from ltc.contracts.adapters.orm import contract_audit, contract_policy, contract_versions, contracts
from ltc.contracts.domain.model import Contract, ContractStatus, Health
from ltc.contracts.domain.policy import DEFAULT_POLICY, ContractPolicy
from ltc.shared.errors import NotFound


async def get_contract(session: AsyncSession, contract_id: uuid.UUID, *, for_update: bool = False) -> Contract:
    contract = await session.get(Contract, contract_id, with_for_update=for_update)
    if contract is None:
        raise NotFound("contract", contract_id)
    return contract


async def find_by_opportunity(session: AsyncSession, opportunity_id: uuid.UUID) -> Contract | None:
    result = await session.execute(select(Contract).where(Contract.opportunity_id == opportunity_id))
    return result.scalar_one_or_none()


async def get_policy(session: AsyncSession) -> tuple[ContractPolicy, int]:
    """The policy in force and its version; the defaults (version 0) until an admin sets one."""
    row = (await session.execute(select(contract_policy).order_by(contract_policy.c.version.desc()).limit(1))).first()
    if row is None:
        return DEFAULT_POLICY, 0
    return ContractPolicy.from_json(row.document), row.version


async def save_policy(session: AsyncSession, policy: ContractPolicy, *, expected_version: int, by: str,
                      at: datetime) -> bool:
    """Add the next version after `expected_version`; False when someone added it first."""
    inserted = await session.execute(
        pg_insert(contract_policy).values(version=expected_version + 1, document=policy.to_json(), updated_by=by,
                                          updated_at=at).on_conflict_do_nothing().returning(contract_policy.c.version))
    return inserted.first() is not None


async def policy_history(session: AsyncSession) -> list[Row[Any]]:
    return list((await session.execute(select(contract_policy).order_by(contract_policy.c.version))).all())


async def add_version(session: AsyncSession, contract: Contract, *, change: str, by: str, at: datetime,
                      reason: str | None = None, amendment_id: uuid.UUID | None = None) -> None:
    await session.execute(insert(contract_versions).values(
        contract_id=contract.id, contract_version=contract.contract_version, terms=contract.terms().to_json(),
        change=change, reason=reason, amendment_id=amendment_id, created_by=by, created_at=at))


async def list_versions(session: AsyncSession, contract_id: uuid.UUID) -> list[Row[Any]]:
    result = await session.execute(select(contract_versions).where(contract_versions.c.contract_id == contract_id)
                                   .order_by(contract_versions.c.contract_version))
    return list(result.all())


async def get_version(session: AsyncSession, contract_id: uuid.UUID, version: int) -> Row[Any]:
    row = (await session.execute(select(contract_versions).where(
        contract_versions.c.contract_id == contract_id, contract_versions.c.contract_version == version))).first()
    if row is None:
        raise NotFound("contract version", f"{contract_id}/{version}")
    return row


async def audit(session: AsyncSession, contract_id: uuid.UUID, *, action: str, actor: str, at: datetime,
                details: dict[str, Any]) -> None:
    await session.execute(insert(contract_audit).values(contract_id=contract_id, action=action, actor=actor, at=at,
                                                        details=details))


async def audit_trail(session: AsyncSession, contract_id: uuid.UUID) -> list[Row[Any]]:
    result = await session.execute(select(contract_audit).where(contract_audit.c.contract_id == contract_id)
                                   .order_by(contract_audit.c.seq))
    return list(result.all())


def _milestones_matching(path: str, **variables: str) -> ColumnElement[bool]:
    """Some milestone matches the JSON path; `path` is a constant of this module, never user input."""
    return func.jsonb_path_exists(contracts.c.milestones, literal_column(f"'{path}'::jsonpath"),
                                  func.jsonb_build_object(*[x for kv in variables.items() for x in kv]))


def late_condition(as_of: date) -> ColumnElement[bool]:
    """SQL twin of `Milestone.is_late` (ISO dates compare as strings)."""
    return _milestones_matching('$[*] ? (@.status != "accepted" && @.planned_date < $d)', d=as_of.isoformat())


def at_risk_condition(as_of: date, until: date) -> ColumnElement[bool]:
    """SQL twin of `Milestone.is_at_risk`."""
    return _milestones_matching(
        '$[*] ? ((@.status == "planned" || @.status == "in_progress") && @.planned_date >= $d && @.planned_date <= $u)',
        d=as_of.isoformat(), u=until.isoformat())


def filter_by_health(stmt: Select[Any], health: Health, as_of: date, until: date) -> Select[Any]:
    active = Contract.status == ContractStatus.ACTIVE
    late, at_risk = late_condition(as_of), at_risk_condition(as_of, until)
    if health is Health.LATE:
        return stmt.where(active, late)
    if health is Health.AT_RISK:
        return stmt.where(active, not_(late), at_risk)
    return stmt.where(and_(active, not_(late), not_(at_risk)))


def filter_by_fr(stmt: Select[Any], fr_owner: str) -> Select[Any]:
    """Contracts the FR runs, wholly or through one of their milestones."""
    return stmt.where(or_(Contract.fr_owner == fr_owner,
                          _milestones_matching('$[*] ? (@.owner == $fr)', fr=fr_owner)))
