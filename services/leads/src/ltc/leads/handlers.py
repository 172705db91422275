"""Command and event handlers: load → domain → unit of work commit."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, date, datetime

from ltc.leads.adapters import repository
from ltc.leads.domain.model import Account, Channel, Evidence, Lead, Tier
from ltc.shared.api import check_if_match
from ltc.shared.auth import Principal, Role
from ltc.shared.db import UnitOfWork
from ltc.shared.errors import NotFound
from ltc.shared.messages.envelope import Envelope
from ltc.shared.messages.finance_events import ContractFullyPaid
from ltc.shared.messages.opportunities_events import OpportunityCreated, OpportunityWon
from ltc.shared.money import Money


def _now() -> datetime:
    return datetime.now(UTC)


def may_see(principal: Principal, owner: str) -> bool:
    """ARs see their own accounts and leads; admins and integrations see all."""
    return principal.sub == owner or principal.has_any(Role.ADMIN, Role.INTEGRATION)


def may_change(principal: Principal, owner: str) -> bool:
    return principal.sub == owner or principal.has_any(Role.ADMIN)


async def _visible_lead(uow: UnitOfWork, principal: Principal, lead_id: uuid.UUID, *, change: bool) -> Lead:
    lead = await repository.get_lead(uow.session, lead_id, for_update=change)
    allowed = may_change(principal, lead.owner) if change else may_see(principal, lead.owner)
    if not allowed:
        raise NotFound("lead", lead_id)  # never confirm that someone else's lead exists
    return lead


@dataclass(frozen=True)
class CreateAccount:
    account_id: uuid.UUID
    name: str
    industry: str | None


async def create_account(uow: UnitOfWork, cmd: CreateAccount, principal: Principal) -> None:
    uow.session.add(Account(id=cmd.account_id, name=cmd.name, industry=cmd.industry,
                            owner=principal.sub, created_at=_now()))
    await uow.commit()


@dataclass(frozen=True)
class CaptureLead:
    lead_id: uuid.UUID
    account_id: uuid.UUID
    title: str
    need: str
    channel: Channel
    tier: Tier


async def capture_lead(uow: UnitOfWork, cmd: CaptureLead, principal: Principal) -> None:
    account = await repository.get_account(uow.session, cmd.account_id)
    if not may_see(principal, account.owner):
        raise NotFound("account", cmd.account_id)
    uow.session.add(Lead(id=cmd.lead_id, account=account, title=cmd.title, need=cmd.need, channel=cmd.channel,
                         tier=cmd.tier, owner=principal.sub, now=_now()))
    await uow.commit()


@dataclass(frozen=True)
class GradeLead:
    lead_id: uuid.UUID
    to: str
    evidence: list[Evidence]
    budget: Money | None
    start_date: date | None
    if_match: str | None


async def grade_lead(uow: UnitOfWork, cmd: GradeLead, principal: Principal) -> None:
    lead = await _visible_lead(uow, principal, cmd.lead_id, change=True)
    check_if_match(cmd.if_match, lead.version, required=False)
    if cmd.to == "credible":
        lead.grade_credible(cmd.evidence, by=principal.sub, now=_now())
    else:
        lead.grade_opportunity(budget=cmd.budget, start_date=cmd.start_date, by=principal.sub, now=_now())
    await uow.commit()


async def convert_lead(uow: UnitOfWork, lead_id: uuid.UUID, if_match: str | None, principal: Principal) -> None:
    lead = await _visible_lead(uow, principal, lead_id, change=True)
    check_if_match(if_match, lead.version, required=False)
    account = await repository.get_account(uow.session, lead.account_id)
    lead.convert(account=account, by=principal.sub, now=_now())
    await uow.commit()


async def disqualify_lead(uow: UnitOfWork, lead_id: uuid.UUID, reason: str, if_match: str | None,
                          principal: Principal) -> None:
    lead = await _visible_lead(uow, principal, lead_id, change=True)
    check_if_match(if_match, lead.version, required=False)
    lead.disqualify(reason=reason, by=principal.sub, now=_now())
    await uow.commit()


async def _lead_of(uow: UnitOfWork, lead_id: uuid.UUID | None) -> Lead | None:
    """The lead a later stage's event refers to; opportunities created directly have none."""
    if lead_id is None:
        return None
    return await uow.session.get(Lead, lead_id, with_for_update=True)


async def on_opportunity_created(uow: UnitOfWork, event: OpportunityCreated, envelope: Envelope) -> None:
    lead = await _lead_of(uow, event.lead_id)
    if lead is not None:
        lead.record_opportunity(opportunity_id=event.opportunity_id)


async def on_opportunity_won(uow: UnitOfWork, event: OpportunityWon, envelope: Envelope) -> None:
    lead = await _lead_of(uow, event.lineage.lead_id)
    if lead is not None:
        lead.record_won(opportunity_id=event.opportunity_id, won_at=event.won_at)


async def on_contract_fully_paid(uow: UnitOfWork, event: ContractFullyPaid, envelope: Envelope) -> None:
    lead = await _lead_of(uow, event.lineage.lead_id)
    if lead is not None:
        lead.record_cash_collected(contract_id=event.contract_id, fully_paid_on=event.fully_paid_on)
