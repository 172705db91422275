"""The read side of contracts: who sees which contract, the list and monitoring queries with their
SQL filters, and the records the API reads beside a contract (versions, audit trail, policy history).

Each SQL filter here has its Python twin next to it, and they must agree: `visible_to` is
`may_see`, `late_condition` is `Milestone.is_late`, `at_risk_condition` is `Milestone.is_at_risk`.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

from sqlalchemy import ColumnElement, Select, and_, func, literal_column, not_, or_, select
from sqlalchemy.engine import Row
from sqlalchemy.ext.asyncio import AsyncSession

from ltc.contracts.adapters.orm import contract_versions, contracts
from ltc.contracts.adapters.repository import AUDITED_AS, POLICY_NAME, get_contract
from ltc.contracts.domain.approval import APPROVER_ROLES
from ltc.contracts.domain.model import Contract, ContractStatus, Health
from ltc.contracts.domain.review import REVIEWER_ROLES
from ltc.contracts.domain.values import Milestone
from ltc.shared.db import audit_history
from ltc.shared.pagination import paginate
from ltc.shared.policy import PolicyVersion, policy_history
from ltc.shared.roles import Principal, Role
from ltc.shared.rules import NotFound

# --- visibility ------------------------------------------------------------------------------------

# Roles that follow every contract (review, execution, approval, finance, ERP); an AR sees only
# the contracts they own.
READ_ALL_ROLES = (
    Role.ADMIN, Role.INTEGRATION, Role.FR, Role.FINANCE, *REVIEWER_ROLES.values(), *APPROVER_ROLES,
)


def may_see(principal: Principal, contract: Contract) -> bool:
    return principal.sub == contract.owner or principal.has_any(*READ_ALL_ROLES)


def visible_to(principal: Principal) -> ColumnElement[bool] | None:
    """SQL twin of `may_see`: the contracts `principal` may see; None when that is every contract."""
    if principal.has_any(*READ_ALL_ROLES):
        return None
    return contracts.c.owner == principal.sub


def _visible(stmt: Select[Any], principal: Principal) -> Select[Any]:
    condition = visible_to(principal)
    return stmt if condition is None else stmt.where(condition)


async def visible_contract(session: AsyncSession, principal: Principal, contract_id: uuid.UUID) -> Contract:
    """The contract, if `principal` may see it; else not found (never confirm that someone else's exists)."""
    contract = await get_contract(session, contract_id)
    if not may_see(principal, contract):
        raise NotFound("contract", contract_id)
    return contract


# --- monitoring filters ----------------------------------------------------------------------------


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


def _with_health(stmt: Select[Any], health: Health, as_of: date, until: date) -> Select[Any]:
    """SQL twin of `Contract.health`: late beats at risk beats on track, for contracts in execution."""
    active = contracts.c.status == ContractStatus.ACTIVE
    late, at_risk = late_condition(as_of), at_risk_condition(as_of, until)
    if health is Health.LATE:
        return stmt.where(active, late)
    if health is Health.AT_RISK:
        return stmt.where(active, not_(late), at_risk)
    return stmt.where(and_(active, not_(late), not_(at_risk)))


def _run_by(stmt: Select[Any], fr_owner: str) -> Select[Any]:
    """Contracts the FR runs, wholly or through one of their milestones."""
    return stmt.where(or_(contracts.c.fr_owner == fr_owner,
                          _milestones_matching('$[*] ? (@.owner == $fr)', fr=fr_owner)))


# --- lists -----------------------------------------------------------------------------------------


async def list_contracts(session: AsyncSession, principal: Principal, *, as_of: date, at_risk_days: int,
                         limit: int, cursor: str | None, number: str | None = None,
                         opportunity_id: uuid.UUID | None = None, status: ContractStatus | None = None,
                         account_id: uuid.UUID | None = None, owner: str | None = None, fr_owner: str | None = None,
                         health: Health | None = None) -> tuple[list[Contract], str | None]:
    """A page of the contracts `principal` sees, oldest first; health is judged on `as_of`."""
    stmt = _visible(select(Contract), principal)
    for column, wanted in ((contracts.c.number, number), (contracts.c.opportunity_id, opportunity_id),
                           (contracts.c.status, status), (contracts.c.account_id, account_id),
                           (contracts.c.owner, owner)):
        if wanted is not None:
            stmt = stmt.where(column == wanted)
    if fr_owner is not None:
        stmt = _run_by(stmt, fr_owner)
    if health is not None:
        stmt = _with_health(stmt, health, as_of, as_of + timedelta(days=at_risk_days))
    return await paginate(session, stmt, created_at=contracts.c.created_at, ident=contracts.c.id, limit=limit,
                          cursor=cursor)


@dataclass(frozen=True)
class LateMilestone:
    contract: Contract
    milestone: Milestone
    days_late: int


async def late_milestones(session: AsyncSession, principal: Principal, *, as_of: date, fr_owner: str | None,
                          account_id: uuid.UUID | None, limit: int) -> list[LateMilestone]:
    """Milestones past their planned date without acceptance on contracts in execution, the
    latest first; `fr_owner` is whoever runs the milestone (its own FR, else the contract's)."""
    stmt = _visible(select(Contract).where(contracts.c.status == ContractStatus.ACTIVE, late_condition(as_of)),
                    principal)
    if account_id is not None:
        stmt = stmt.where(contracts.c.account_id == account_id)
    late = []
    for contract in (await session.execute(stmt.order_by(contracts.c.created_at, contracts.c.id))).scalars():
        for milestone in contract.late_milestones(as_of):
            runner = milestone.owner or contract.fr_owner
            if fr_owner is None or runner == fr_owner:
                late.append(LateMilestone(contract, milestone, (as_of - milestone.planned_date).days))
    late.sort(key=lambda m: (-m.days_late, str(m.contract.id)))
    return late[:limit]


# --- records kept beside a contract ----------------------------------------------------------------


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


async def audit_trail(session: AsyncSession, contract_id: uuid.UUID) -> list[Row[Any]]:
    """Who did what to the contract, oldest first (rows of the shared `audit_trail`)."""
    return await audit_history(session, contract_id, object_types=[AUDITED_AS])


async def contract_policy_history(session: AsyncSession) -> list[PolicyVersion]:
    return await policy_history(session, POLICY_NAME)
