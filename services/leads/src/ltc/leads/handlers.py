"""Command and event handlers: load → domain → unit of work commit, each change audited."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from ltc.leads.adapters import repository
from ltc.leads.domain.accounts import Account, Contact, Tier, contact_snapshot
from ltc.leads.domain.activities import Activity, ActivityKind
from ltc.leads.domain.audit import AuditEntry
from ltc.leads.domain.duplicates import duplicate_candidates
from ltc.leads.domain.model import Channel, Evidence, Lead, PainStatus
from ltc.leads.domain.scoring import LeadScore, score_lead
from ltc.shared.api import check_if_match
from ltc.shared.auth import Principal, Role
from ltc.shared.db import UnitOfWork
from ltc.shared.errors import DomainError, Forbidden, RuleViolation
from ltc.shared.messages.envelope import Envelope
from ltc.shared.messages.finance_events import ContractFullyPaid
from ltc.shared.messages.opportunities_events import OpportunityCreated, OpportunityLost, OpportunityWon
from ltc.shared.money import Money


def clock() -> datetime:
    """The time every date-dependent rule is given (the domain never reads the clock itself)."""
    return datetime.now(UTC)


def may_change_lead(principal: Principal, lead: Lead) -> bool:
    """Admins, and account managers on their own or on unassigned leads."""
    if principal.has_any(Role.ADMIN):
        return True
    return principal.has_any(Role.AR) and lead.owner in (None, principal.sub)


def may_change_account(principal: Principal, account: Account) -> bool:
    return principal.has_any(Role.ADMIN) or (principal.has_any(Role.AR) and account.owner == principal.sub)


def _forbidden(kind: str, owner: str | None) -> Forbidden:
    return Forbidden("not-owner",
                        f"this {kind} belongs to {owner}; only its owner or an admin may change it")


async def _lead_to_change(uow: UnitOfWork, principal: Principal, lead_id: uuid.UUID, if_match: str | None,
                          *, required: bool = False) -> Lead:
    lead = await repository.get_lead(uow.session, lead_id, for_update=True)
    if not may_change_lead(principal, lead):
        raise _forbidden("lead", lead.owner)
    check_if_match(if_match, lead.version, required=required)
    return lead


async def _account_to_change(uow: UnitOfWork, principal: Principal, account_id: uuid.UUID,
                             if_match: str | None) -> Account:
    account = await repository.get_account(uow.session, account_id, for_update=True)
    if not may_change_account(principal, account):
        raise _forbidden("account", account.owner)
    check_if_match(if_match, account.version, required=True)
    return account


def _audit(uow: UnitOfWork, *, entity: str, entity_id: uuid.UUID, action: str, actor: str,
           changes: dict[str, Any] | None = None, lead_id: uuid.UUID | None = None,
           account_id: uuid.UUID | None = None) -> None:
    uow.session.add(AuditEntry(entity=entity, entity_id=entity_id, action=action, actor=actor, at=clock(),
                               changes=changes, lead_id=lead_id, account_id=account_id))


# Accounts and contacts


@dataclass(frozen=True)
class CreateAccount:
    account_id: uuid.UUID
    name: str
    industry: str | None
    tier: Tier = Tier.NORMAL
    region: str | None = None
    website: str | None = None
    notes: str | None = None


def _new_account(uow: UnitOfWork, cmd: CreateAccount, principal: Principal) -> Account:
    account = Account(id=cmd.account_id, name=cmd.name, industry=cmd.industry, tier=cmd.tier, region=cmd.region,
                      website=cmd.website, notes=cmd.notes, owner=principal.sub, created_at=clock())
    uow.session.add(account)
    _audit(uow, entity="account", entity_id=account.id, account_id=account.id, action="created",
           actor=principal.sub, changes=account.snapshot())
    return account


async def create_account(uow: UnitOfWork, cmd: CreateAccount, principal: Principal) -> None:
    _new_account(uow, cmd, principal)
    await uow.commit()


async def update_account(uow: UnitOfWork, account_id: uuid.UUID, changes: dict[str, Any], if_match: str | None,
                         principal: Principal) -> None:
    account = await _account_to_change(uow, principal, account_id, if_match)
    if "owner" in changes and not principal.has_any(Role.ADMIN) and changes["owner"] != account.owner:
        # Handing an account over is a management decision, not the owner's alone.
        raise Forbidden("owner-reassignment", "only an admin reassigns an account")
    changed = account.update(changes, now=clock())
    if changed:
        _audit(uow, entity="account", entity_id=account.id, account_id=account.id, action="updated",
               actor=principal.sub, changes=changed)
    await uow.commit()


@dataclass(frozen=True)
class CreateContact:
    contact_id: uuid.UUID
    account_id: uuid.UUID
    fields: dict[str, Any]


async def create_contact(uow: UnitOfWork, cmd: CreateContact, principal: Principal) -> None:
    account = await repository.get_account(uow.session, cmd.account_id)
    if not may_change_account(principal, account):
        raise _forbidden("account", account.owner)
    contact = Contact(id=cmd.contact_id, account_id=account.id, created_by=principal.sub, now=clock(), **cmd.fields)
    uow.session.add(contact)
    _audit(uow, entity="contact", entity_id=contact.id, account_id=account.id, action="created",
           actor=principal.sub, changes=cmd.fields)
    await uow.commit()


async def update_contact(uow: UnitOfWork, contact_id: uuid.UUID, changes: dict[str, Any], if_match: str | None,
                         principal: Principal) -> None:
    contact = await repository.get_contact(uow.session, contact_id, for_update=True)
    account = await repository.get_account(uow.session, contact.account_id)
    if not may_change_account(principal, account):
        raise _forbidden("account", account.owner)
    check_if_match(if_match, contact.version, required=True)
    changed = contact.update(changes, now=clock())
    if changed:
        _audit(uow, entity="contact", entity_id=contact.id, account_id=account.id, action="updated",
               actor=principal.sub, changes=changed)
    await uow.commit()


# Leads


@dataclass(frozen=True)
class CaptureLead:
    lead_id: uuid.UUID
    account_id: uuid.UUID | None
    title: str
    need: str
    channel: Channel
    tier: Tier
    new_account: CreateAccount | None = None
    owner: str | None = None
    owner_given: bool = False
    reported_by: str | None = None
    contact_ids: list[uuid.UUID] = field(default_factory=list)
    confirm_distinct: bool = False


def _owner_at_capture(cmd: CaptureLead, principal: Principal) -> str | None:
    """The caller owns what it captures unless it says otherwise; only an admin gives a lead to someone else."""
    if not cmd.owner_given:
        return principal.sub
    if cmd.owner not in (None, principal.sub) and not principal.has_any(Role.ADMIN):
        raise Forbidden("owner-assignment", "an account manager captures leads for themself or for the unassigned pool")
    return cmd.owner


async def _require_contacts(uow: UnitOfWork, account_id: uuid.UUID, contact_ids: list[uuid.UUID],
                            field_name: str = "contact_ids") -> dict[str, Contact]:
    found = await repository.contacts_of_account(uow.session, account_id, (str(c) for c in contact_ids))
    missing = [str(c) for c in contact_ids if str(c) not in found]
    if missing:
        raise RuleViolation("contact-not-of-account", "these contacts are not contacts of the account: "
                            + ", ".join(missing),
                            errors=[{"field": field_name, "message": f"{c} is not a contact of the account"}
                                    for c in missing])
    return found


async def capture_lead(uow: UnitOfWork, cmd: CaptureLead, principal: Principal) -> Lead:
    owner = _owner_at_capture(cmd, principal)
    if cmd.new_account is not None:
        account_id = _new_account(uow, cmd.new_account, principal).id
    else:
        assert cmd.account_id is not None
        # Locking the account serialises captures on it, so two concurrent duplicates cannot both pass.
        account_id = await repository.lock_account(uow.session, cmd.account_id)
        await _require_contacts(uow, account_id, cmd.contact_ids)
        if not cmd.confirm_distinct:
            candidates = duplicate_candidates(title=cmd.title, need=cmd.need,
                                              open_leads=await repository.open_leads_of(uow.session, account_id))
            if candidates:
                raise DomainError(
                    "duplicate-lead",
                    "the account already has an open lead for what looks like the same need: "
                    + ", ".join(c.lead_id for c in candidates)
                    + "; send confirm_distinct=true if it really is another lead",
                    errors=[{"lead_id": c.lead_id, "title": c.title, "similarity": c.similarity} for c in candidates],
                )
    lead = Lead(id=cmd.lead_id, account_id=account_id, title=cmd.title, need=cmd.need, channel=cmd.channel,
                tier=cmd.tier, owner=owner, now=clock(), reported_by=cmd.reported_by, contact_ids=cmd.contact_ids)
    uow.session.add(lead)
    _audit(uow, entity="lead", entity_id=lead.id, lead_id=lead.id, account_id=account_id, action="captured",
           actor=principal.sub, changes={"title": lead.title, "need": lead.need, "channel": lead.channel,
                                         "tier": lead.tier, "owner": lead.owner, "reported_by": lead.reported_by,
                                         "contact_ids": lead.contact_ids, "confirmed_distinct": cmd.confirm_distinct})
    await uow.commit()
    return lead


async def update_lead(uow: UnitOfWork, lead_id: uuid.UUID, changes: dict[str, Any], if_match: str | None,
                      principal: Principal) -> None:
    lead = await _lead_to_change(uow, principal, lead_id, if_match, required=True)
    # An owner may hand the lead over; an unassigned lead may only be claimed, not given away.
    if "owner" in changes and lead.owner is None and changes["owner"] not in (None, principal.sub) \
            and not principal.has_any(Role.ADMIN):
        raise Forbidden("owner-assignment", "an account manager may claim an unassigned lead for themself only")
    if changes.get("contact_ids"):
        await _require_contacts(uow, lead.account_id, changes["contact_ids"])
    changed = lead.update(changes, now=clock())
    if changed:
        _audit(uow, entity="lead", entity_id=lead.id, lead_id=lead.id, account_id=lead.account_id,
               action="updated", actor=principal.sub, changes=changed)
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
    lead = await _lead_to_change(uow, principal, cmd.lead_id, cmd.if_match)
    # Evidence may name who said it: only a contact of the lead's account (it feeds the score
    # and the power map handed to the opportunity).
    named = list(dict.fromkeys(e.contact_id for e in cmd.evidence if e.contact_id))
    await _require_contacts(uow, lead.account_id, named, "evidence.contact_id")
    before = lead.grade
    if cmd.to == "credible":
        lead.grade_credible(cmd.evidence, by=principal.sub, now=clock())
    else:
        lead.grade_opportunity(budget=cmd.budget, start_date=cmd.start_date, by=principal.sub, now=clock())
    _audit(uow, entity="lead", entity_id=lead.id, lead_id=lead.id, account_id=lead.account_id, action="graded",
           actor=principal.sub, changes={"grade": {"from": before, "to": lead.grade},
                                         **{k: v for k, v in lead.grade_history[-1].items()
                                            if k not in ("from", "to", "by", "at")}})
    await uow.commit()


@dataclass(frozen=True)
class ScoredLead:
    score: LeadScore
    contacts: list[tuple[Contact, int]]  # the contacts involved, with their relationship strength


async def score_leads(session: AsyncSession, leads: list[Lead], *, fresh: bool = False) -> dict[uuid.UUID, ScoredLead]:
    """Score leads with a fixed number of queries, whatever their number.

    A `fresh` lead (just captured, in this request) has no activities yet: nothing to look up for
    it unless it names contacts, whose relationships come from their other activities.
    """
    met = ({str(lead.id): set() for lead in leads} if fresh
           else await repository.contacts_met_on_leads(session, [lead.id for lead in leads]))
    involved = {lead.id: lead.contacts_involved(met[str(lead.id)]) for lead in leads}
    everyone = await repository.contacts_by_id(session, set().union(*involved.values()))
    strengths = await repository.relationships(session, everyone.values(), today=clock().date())
    scored = {}
    for lead in leads:
        contacts = sorted(((everyone[c], strengths[c].strength) for c in involved[lead.id] if c in everyone),
                          key=lambda pair: (pair[0].name, str(pair[0].id)))
        scored[lead.id] = ScoredLead(score_lead(lead, contact_strengths={c.name: s for c, s in contacts}), contacts)
    return scored


async def convert_lead(uow: UnitOfWork, lead_id: uuid.UUID, if_match: str | None, principal: Principal) -> None:
    lead = await _lead_to_change(uow, principal, lead_id, if_match)
    account = await repository.get_account(uow.session, lead.account_id)
    scored = (await score_leads(uow.session, [lead]))[lead.id]
    lead.convert(account=account, by=principal.sub, now=clock(), score=scored.score.total,
                 contacts=[contact_snapshot(c, strength) for c, strength in scored.contacts])
    _audit(uow, entity="lead", entity_id=lead.id, lead_id=lead.id, account_id=lead.account_id, action="converted",
           actor=principal.sub, changes={"grade": {"from": "opportunity", "to": "converted"}, "score": scored.score.total})
    await uow.commit()


async def disqualify_lead(uow: UnitOfWork, lead_id: uuid.UUID, reason: str, if_match: str | None,
                          principal: Principal) -> None:
    lead = await _lead_to_change(uow, principal, lead_id, if_match)
    before = lead.grade
    lead.disqualify(reason=reason, by=principal.sub, now=clock())
    _audit(uow, entity="lead", entity_id=lead.id, lead_id=lead.id, account_id=lead.account_id,
           action="disqualified", actor=principal.sub,
           changes={"grade": {"from": before, "to": lead.grade}, "reason": reason})
    await uow.commit()


@dataclass(frozen=True)
class AddPain:
    pain_id: uuid.UUID
    lead_id: uuid.UUID
    description: str
    contact_id: uuid.UUID | None


async def add_pain(uow: UnitOfWork, cmd: AddPain, principal: Principal) -> None:
    lead = await _lead_to_change(uow, principal, cmd.lead_id, None)
    if cmd.contact_id is not None:
        await _require_contacts(uow, lead.account_id, [cmd.contact_id], "contact_id")
    pain = lead.add_pain(pain_id=cmd.pain_id, description=cmd.description, contact_id=cmd.contact_id,
                         by=principal.sub, now=clock())
    _audit(uow, entity="lead", entity_id=lead.id, lead_id=lead.id, account_id=lead.account_id,
           action="pain_added", actor=principal.sub,
           changes={"pain_id": pain["id"], "description": pain["description"], "status": pain["status"]})
    await uow.commit()


async def advance_pain(uow: UnitOfWork, lead_id: uuid.UUID, pain_id: uuid.UUID, to: PainStatus, note: str | None,
                       if_match: str | None, principal: Principal) -> None:
    lead = await _lead_to_change(uow, principal, lead_id, if_match)
    before = next((p["status"] for p in lead.pains if p["id"] == str(pain_id)), None)
    lead.advance_pain(pain_id, to=to, note=note, by=principal.sub, now=clock())
    _audit(uow, entity="lead", entity_id=lead.id, lead_id=lead.id, account_id=lead.account_id,
           action="pain_advanced", actor=principal.sub,
           changes={"pain_id": pain_id, "status": {"from": before, "to": to}, "note": note})
    await uow.commit()


# Activities


@dataclass(frozen=True)
class CreateActivity:
    activity_id: uuid.UUID
    kind: ActivityKind
    account_id: uuid.UUID
    lead_id: uuid.UUID | None
    contact_ids: list[uuid.UUID]
    subject: str
    planned_on: date | None
    plan: dict[str, Any] | None


async def create_activity(uow: UnitOfWork, cmd: CreateActivity, principal: Principal) -> None:
    """Anyone of the iron triangle keeps the connection with the customer, on any account."""
    account = await repository.get_account(uow.session, cmd.account_id)
    if cmd.lead_id is not None:
        lead = await repository.get_lead(uow.session, cmd.lead_id)
        if lead.account_id != account.id:
            raise RuleViolation("lead-not-of-account", "the lead belongs to another account",
                                errors=[{"field": "lead_id", "message": "not a lead of this account"}])
    await _require_contacts(uow, account.id, cmd.contact_ids)
    activity = Activity(id=cmd.activity_id, kind=cmd.kind, account_id=account.id, lead_id=cmd.lead_id,
                        contact_ids=cmd.contact_ids, subject=cmd.subject, planned_on=cmd.planned_on, plan=cmd.plan,
                        created_by=principal.sub, now=clock())
    uow.session.add(activity)
    _audit(uow, entity="activity", entity_id=activity.id, lead_id=cmd.lead_id, account_id=account.id,
           action="activity_planned", actor=principal.sub,
           changes={"kind": cmd.kind, "subject": cmd.subject, "planned_on": cmd.planned_on,
                    "contact_ids": activity.contact_ids})
    await uow.commit()


async def _activity_to_change(uow: UnitOfWork, principal: Principal, activity_id: uuid.UUID,
                              if_match: str | None) -> Activity:
    activity = await repository.get_activity(uow.session, activity_id, for_update=True)
    if activity.created_by != principal.sub and not principal.has_any(Role.ADMIN):
        raise _forbidden("activity", activity.created_by)
    check_if_match(if_match, activity.version, required=True)
    return activity


async def replan_activity(uow: UnitOfWork, activity_id: uuid.UUID, changes: dict[str, Any], if_match: str | None,
                          principal: Principal) -> None:
    activity = await _activity_to_change(uow, principal, activity_id, if_match)
    if changes.get("contact_ids") is not None:
        await _require_contacts(uow, activity.account_id, changes["contact_ids"])
    changed = activity.replan(subject=changes.get("subject"), planned_on=changes.get("planned_on"),
                              plan=changes.get("plan"), contact_ids=changes.get("contact_ids"), now=clock())
    if changed:
        _audit(uow, entity="activity", entity_id=activity.id, lead_id=activity.lead_id,
               account_id=activity.account_id, action="activity_replanned", actor=principal.sub, changes=changed)
    await uow.commit()


async def record_outcome(uow: UnitOfWork, activity_id: uuid.UUID, outcome: dict[str, Any], occurred_on: date,
                         next_step_on: date | None, if_match: str | None, principal: Principal) -> None:
    activity = await _activity_to_change(uow, principal, activity_id, if_match)
    activity.record_outcome(outcome, occurred_on=occurred_on, next_step_on=next_step_on, now=clock())
    _audit(uow, entity="activity", entity_id=activity.id, lead_id=activity.lead_id, account_id=activity.account_id,
           action="activity_done", actor=principal.sub, changes={"occurred_on": occurred_on, "outcome": outcome})
    await uow.commit()


async def cancel_activity(uow: UnitOfWork, activity_id: uuid.UUID, if_match: str | None,
                          principal: Principal) -> None:
    activity = await _activity_to_change(uow, principal, activity_id, if_match)
    activity.cancel(now=clock())
    _audit(uow, entity="activity", entity_id=activity.id, lead_id=activity.lead_id, account_id=activity.account_id,
           action="activity_cancelled", actor=principal.sub)
    await uow.commit()


# The closed loop: what the later stages tell us about a lead


async def _lead_of(uow: UnitOfWork, lead_id: uuid.UUID | None) -> Lead | None:
    """The lead a later stage's event refers to; opportunities created directly have none."""
    if lead_id is None:
        return None
    return await uow.session.get(Lead, lead_id, with_for_update=True)


def _audit_event(uow: UnitOfWork, lead: Lead, envelope: Envelope, changes: dict[str, Any]) -> None:
    _audit(uow, entity="lead", entity_id=lead.id, lead_id=lead.id, account_id=lead.account_id,
           action="outcome_recorded", actor=f"event:{envelope.type}", changes=changes)


async def on_opportunity_created(uow: UnitOfWork, event: OpportunityCreated, envelope: Envelope) -> None:
    lead = await _lead_of(uow, event.lead_id)
    if lead is not None:
        lead.record_opportunity(opportunity_id=event.opportunity_id)
        _audit_event(uow, lead, envelope, {"opportunity_id": event.opportunity_id})


async def on_opportunity_won(uow: UnitOfWork, event: OpportunityWon, envelope: Envelope) -> None:
    lead = await _lead_of(uow, event.lineage.lead_id)
    if lead is not None:
        lead.record_won(opportunity_id=event.opportunity_id, won_at=event.won_at)
        _audit_event(uow, lead, envelope, {"opportunity_id": event.opportunity_id, "won_at": event.won_at})


async def on_opportunity_lost(uow: UnitOfWork, event: OpportunityLost, envelope: Envelope) -> None:
    lead = await _lead_of(uow, event.lineage.lead_id)
    if lead is not None:
        lead.record_lost(opportunity_id=event.opportunity_id, lost_at=event.lost_at, reason=event.reason)
        _audit_event(uow, lead, envelope, {"opportunity_id": event.opportunity_id, "lost_at": event.lost_at,
                                           "reason": event.reason, "competitor": event.competitor})


async def on_contract_fully_paid(uow: UnitOfWork, event: ContractFullyPaid, envelope: Envelope) -> None:
    lead = await _lead_of(uow, event.lineage.lead_id)
    if lead is not None:
        lead.record_cash_collected(contract_id=event.contract_id, fully_paid_on=event.fully_paid_on,
                                   collected=event.collected.to_money())
        _audit_event(uow, lead, envelope, {"contract_id": event.contract_id, "cash_collected_on": event.fully_paid_on,
                                           "collected": event.collected.model_dump(mode="json")})

