"""The read side: who sees which opportunity (the rule in Python and in SQL, side by side), the
list, the weighted pipeline, the audit trail and the admin's policies as they are read."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import date
from decimal import ROUND_HALF_UP, Decimal
from enum import StrEnum
from typing import Any, Literal

from sqlalchemy import ColumnElement, Row, String, and_, cast, func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from ltc.opportunities.adapters import repository
from ltc.opportunities.adapters.orm import opportunities
from ltc.opportunities.domain.credit import Credit
from ltc.opportunities.domain.gates import DEFAULT_THRESHOLDS, DecisionPolicy, Tier
from ltc.opportunities.domain.model import Opportunity
from ltc.opportunities.domain.stages import DEFAULT_PROBABILITIES, OPEN_STAGES, Stage, StageProbabilities
from ltc.shared.db import audit_history
from ltc.shared.money import minor_unit_exponent
from ltc.shared.pagination import paginate
from ltc.shared.policy import PolicyVersion, current_policy
from ltc.shared.roles import Principal, Role
from ltc.shared.rules import InvalidInput, NotFound

# -- who sees what -------------------------------------------------------------------------------

# Deciders and operators see every opportunity; the team sees the ones it is on.
SEE_ALL_ROLES = (Role.ADMIN, Role.INTEGRATION, Role.APPROVER_L1, Role.APPROVER_L2, Role.APPROVER_L3)
TEAM_ROLES = (Role.AR, Role.SR, Role.FR)


def may_see(principal: Principal, opportunity: Opportunity) -> bool:
    return opportunity.team_member(principal.sub) or principal.has_any(*SEE_ALL_ROLES)


def visible_to(principal: Principal) -> ColumnElement[bool] | None:
    """`may_see` as a WHERE clause; None when the principal sees every opportunity."""
    if principal.has_any(*SEE_ALL_ROLES):
        return None
    c = opportunities.c
    return or_(c.owner == principal.sub, c.sr == principal.sub, c.fr == principal.sub)


async def visible_opportunity(session: AsyncSession, principal: Principal, opportunity_id: uuid.UUID, *,
                              lock: bool = False) -> Opportunity:
    opportunity = await repository.get_opportunity(session, opportunity_id, for_update=lock)
    if not may_see(principal, opportunity):
        raise NotFound("opportunity", opportunity_id)  # never confirm that someone else's opportunity exists
    return opportunity


# -- lists ---------------------------------------------------------------------------------------

@dataclass(frozen=True)
class CloseMonths:
    """Expected to close from the first day of one month to before the first of another
    (either end open); an opportunity without an expected close date is in no such range."""

    start: date | None
    end: date | None  # exclusive

    @classmethod
    def of(cls, first: str | None, last: str | None) -> CloseMonths | None:
        """From months as `YYYY-MM` (the API checked the form), both inclusive."""
        if first is None and last is None:
            return None
        start = _month(first, "close_month_from") if first else None
        end = _month(last, "close_month_to") if last else None
        if start and end and start > end:
            raise InvalidInput("close_month_to", "must not be before close_month_from")
        if end is not None and (end.year, end.month) == (date.max.year, 12):
            return cls(start, None)  # up to the end of the calendar: no first day after it
        return cls(start, date(end.year + end.month // 12, end.month % 12 + 1, 1) if end else None)


def _month(value: str, field: str) -> date:
    year, month = value.split("-")
    try:
        return date(int(year), int(month), 1)
    except ValueError:  # year 0000: the form is right, the calendar has no such month
        raise InvalidInput(field, "not a month of the calendar (years 0001 to 9999)") from None


async def opportunity_page(session: AsyncSession, principal: Principal, *, lead_id: uuid.UUID | None,
                           account_id: uuid.UUID | None, stage: Stage | None, owner: str | None,
                           pending_tier: Tier | None, closing: CloseMonths | None, limit: int,
                           cursor: str | None) -> tuple[list[Opportunity], str | None]:
    stmt = select(Opportunity)
    if (visible := visible_to(principal)) is not None:
        stmt = stmt.where(visible)
    c = opportunities.c
    filters = ((c.lead_id, lead_id), (c.account_id, account_id), (c.stage, stage), (c.owner, owner),
               (c.pending_gate_tier, pending_tier.value if pending_tier else None))
    for column, value in filters:
        if value is not None:
            stmt = stmt.where(column == value)
    if closing is not None and closing.start is not None:
        stmt = stmt.where(c.expected_close_date >= closing.start)
    if closing is not None and closing.end is not None:
        stmt = stmt.where(c.expected_close_date < closing.end)
    return await paginate(session, stmt, created_at=c.created_at, ident=c.id, limit=limit, cursor=cursor)


# -- pipeline and forecast -----------------------------------------------------------------------

GroupBy = Literal["stage", "owner", "close_month"]


@dataclass(frozen=True)
class PipelineLine:
    """One group's open deals in one currency: how many, their value and their value weighted by
    the stage probability, both in the currency's minor unit (no value: no currency, no amounts)."""

    key: str | None
    currency: str | None
    count: int
    value: Decimal | None
    weighted: Decimal | None

    @classmethod
    def of(cls, key: str | None, currency: str | None, count: int, value: Decimal | None,
           weighted: Decimal | None) -> PipelineLine:
        if currency is None or value is None or weighted is None:
            return cls(key, None, count, None, None)
        quantum = Decimal(1).scaleb(-minor_unit_exponent(currency))
        # The value is a sum of amounts in minor units already; the weighted sum has fractions of
        # one, rounded half up as a person would.
        return cls(key, currency, count, value.quantize(quantum), weighted.quantize(quantum, rounding=ROUND_HALF_UP))


async def pipeline(session: AsyncSession, principal: Principal, *, group_by: GroupBy, include_closed: bool,
                   owner: str | None) -> list[PipelineLine]:
    c = opportunities.c
    key: ColumnElement[Any] = {
        "stage": cast(c.stage, String),
        "owner": c.owner,
        "close_month": func.to_char(c.expected_close_date, "YYYY-MM"),
    }[group_by]
    conditions = [] if include_closed else [c.stage.in_(OPEN_STAGES)]
    if (visible := visible_to(principal)) is not None:
        conditions.append(visible)
    if owner is not None:
        conditions.append(c.owner == owner)
    stmt = (select(key.label("key"), c.value_currency, func.count(), func.sum(c.value_amount),
                   func.sum(c.value_amount * c.probability / 100))
            .where(and_(True, *conditions))
            .group_by(key, c.value_currency)
            .order_by(key, c.value_currency))
    return [PipelineLine.of(*row) for row in (await session.execute(stmt)).all()]


# -- audit trail ---------------------------------------------------------------------------------

# The object types this service files audit entries under. The stakeholders, competitors, risks,
# requirements and gate requests are values inside the opportunity (stored and versioned with it),
# so their changes are entries about the opportunity, naming the item in their changes.
AUDITED_OPPORTUNITY = "opportunity"
AUDITED_POLICY = "policy"


class AuditAction(StrEnum):
    """What was done to an opportunity, as its audit trail names it (the names entries were filed
    under from the start: the trail is read back with them)."""

    CREATE = "create"
    CREATE_FROM_LEAD = "create-from-lead"
    UPDATE_DETAILS = "update-details"
    ASSIGN_TEAM = "assign-team"
    SET_INSIGHT = "set-insight"
    SET_VALUE_PROPOSITION = "set-value-proposition"
    UPDATE_TERMS = "update-terms"
    ADD_STAKEHOLDER = "add-stakeholder"
    REPLACE_STAKEHOLDER = "replace-stakeholder"
    REMOVE_STAKEHOLDER = "remove-stakeholder"
    ADD_COMPETITOR = "add-competitor"
    REPLACE_COMPETITOR = "replace-competitor"
    REMOVE_COMPETITOR = "remove-competitor"
    ADD_RISK = "add-risk"
    REPLACE_RISK = "replace-risk"
    RAISE_REQUIREMENT = "raise-requirement"
    REQUEST_GATE = "request-gate"
    DECIDE = "decide"
    CHANGE_STAGE = "change-stage"
    WIN = "win"
    LOSE = "lose"
    ABANDON = "abandon"


def policy_object_id(name: str) -> uuid.UUID:
    """A policy's stable id in the audit trail (a policy has a name, not an id): uuid5 of its URL.
    Migration 0004 files the configuration changes recorded before it under the same ids."""
    return uuid.uuid5(uuid.NAMESPACE_URL, f"https://ltc.example/policies/{name}")


async def audit_of(session: AsyncSession, opportunity_id: uuid.UUID) -> list[Row[Any]]:
    """Who changed the opportunity, how and when, oldest first."""
    return await audit_history(session, opportunity_id, object_types=(AUDITED_OPPORTUNITY,))


# -- the customer's credit, as finance publishes it ------------------------------------------------

async def credit_of_opportunity(session: AsyncSession, opportunity_id: uuid.UUID) -> dict[str, Credit]:
    """Finance's figures for the opportunity's account, per currency (none known: no limit)."""
    account = select(opportunities.c.account_id).where(opportunities.c.id == opportunity_id).scalar_subquery()
    rows = (await session.execute(select(Credit).where(Credit.account_id == account))).scalars()
    return {credit.currency: credit for credit in rows}


# -- policies an admin sets ----------------------------------------------------------------------

STAGE_PROBABILITIES = "stage_probabilities"
DECISION_THRESHOLDS = "decision_thresholds"
DEFAULT_POLICIES = {STAGE_PROBABILITIES: DEFAULT_PROBABILITIES.to_json(),
                    DECISION_THRESHOLDS: DecisionPolicy(DEFAULT_THRESHOLDS).to_json()}


async def policy(session: AsyncSession, name: str) -> PolicyVersion:
    """The version in force; version 0 is the built-in default, never stored."""
    return await current_policy(session, name, DEFAULT_POLICIES[name])


async def stage_probabilities(session: AsyncSession) -> StageProbabilities:
    return StageProbabilities.from_json((await policy(session, STAGE_PROBABILITIES)).document)


async def decision_policy(session: AsyncSession) -> DecisionPolicy:
    return DecisionPolicy.from_json((await policy(session, DECISION_THRESHOLDS)).document)
