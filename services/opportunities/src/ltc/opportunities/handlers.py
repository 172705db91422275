"""Command and event handlers: load → domain → unit of work commit."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, date, datetime

from ltc.opportunities.adapters import repository
from ltc.opportunities.domain.model import CommercialTerms, Opportunity
from ltc.shared.api import check_if_match
from ltc.shared.auth import Principal, Role
from ltc.shared.db import UnitOfWork
from ltc.shared.errors import NotFound, ProblemError
from ltc.shared.messages.envelope import Envelope
from ltc.shared.messages.leads_events import LeadConverted
from ltc.shared.money import Money

# The iron triangle and the decision tiers work on every opportunity; a later issue narrows
# this to the opportunity's own team.
SEE_ALL_ROLES = (Role.ADMIN, Role.INTEGRATION, Role.SR, Role.FR,
                 Role.APPROVER_L1, Role.APPROVER_L2, Role.APPROVER_L3)


def _now() -> datetime:
    return datetime.now(UTC)


def may_see(principal: Principal, owner: str) -> bool:
    return principal.sub == owner or principal.has_any(*SEE_ALL_ROLES)


def may_change(principal: Principal, owner: str) -> bool:
    """The owning account manager directs the opportunity; admins may step in."""
    return principal.sub == owner or principal.has_any(Role.ADMIN)


async def visible_opportunity(uow: UnitOfWork, principal: Principal, opportunity_id: uuid.UUID, *,
                              change: bool) -> Opportunity:
    opportunity = await repository.get_opportunity(uow.session, opportunity_id, for_update=change)
    if not may_see(principal, opportunity.owner):
        raise NotFound("opportunity", opportunity_id)  # never confirm that someone else's opportunity exists
    if change and not may_change(principal, opportunity.owner):
        raise ProblemError(403, "not-opportunity-owner", "Forbidden",
                           "only the owning account manager or an admin may change this opportunity")
    return opportunity


@dataclass(frozen=True)
class CreateOpportunity:
    opportunity_id: uuid.UUID
    title: str
    account_name: str
    account_id: uuid.UUID | None
    need: str
    budget: Money | None
    start_date: date | None


async def create_opportunity(uow: UnitOfWork, cmd: CreateOpportunity, principal: Principal) -> None:
    """Directly, without a lead: e.g. a tender that reached us."""
    uow.session.add(Opportunity(id=cmd.opportunity_id, lead_id=None, account_id=cmd.account_id,
                                account_name=cmd.account_name, title=cmd.title, need=cmd.need, budget=cmd.budget,
                                start_date=cmd.start_date, owner=principal.sub, now=_now()))
    await uow.commit()


async def win_opportunity(uow: UnitOfWork, opportunity_id: uuid.UUID, terms: CommercialTerms, if_match: str | None,
                          principal: Principal) -> None:
    opportunity = await visible_opportunity(uow, principal, opportunity_id, change=True)
    check_if_match(if_match, opportunity.version, required=False)
    opportunity.win(terms, by=principal.sub, now=_now())
    await uow.commit()


async def lose_opportunity(uow: UnitOfWork, opportunity_id: uuid.UUID, reason: str, competitor: str | None,
                           if_match: str | None, principal: Principal) -> None:
    opportunity = await visible_opportunity(uow, principal, opportunity_id, change=True)
    check_if_match(if_match, opportunity.version, required=False)
    opportunity.lose(reason=reason, competitor=competitor, by=principal.sub, now=_now())
    await uow.commit()


async def abandon_opportunity(uow: UnitOfWork, opportunity_id: uuid.UUID, reason: str, if_match: str | None,
                              principal: Principal) -> None:
    opportunity = await visible_opportunity(uow, principal, opportunity_id, change=True)
    check_if_match(if_match, opportunity.version, required=False)
    opportunity.abandon(reason=reason, by=principal.sub, now=_now())
    await uow.commit()


async def on_lead_converted(uow: UnitOfWork, event: LeadConverted, envelope: Envelope) -> None:
    """One opportunity per converted lead, owned by the lead's account manager."""
    if await repository.find_by_lead(uow.session, event.lead_id) is not None:
        return
    uow.session.add(Opportunity(
        id=uuid.uuid4(), lead_id=event.lead_id, account_id=event.account_id, account_name=event.account_name,
        title=event.title, need=event.need, budget=event.budget.to_money(), start_date=event.start_date,
        owner=event.owner, now=_now(),
    ))
