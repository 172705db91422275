"""Command and event handlers: load → domain → one commit, each change audited.

A command handler is `handler(uow, command, principal)`: the command names the object it acts on
and, where the API passes one, the version the caller read (`expected_version`); the handler
commits and returns the object the route answers from.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import Any, Literal

from ltc.leads.adapters import queries, repository
from ltc.leads.domain.accounts import Account, Contact, Tier, billing_identity, contact_snapshot
from ltc.leads.domain.activities import Activity, ActivityKind
from ltc.leads.domain.duplicates import duplicate_candidates
from ltc.leads.domain.history import AuditAction, Audited
from ltc.leads.domain.model import Channel, Evidence, Grade, Lead, PainStatus
from ltc.shared.audit import AuditEntry
from ltc.shared.db import UnitOfWork
from ltc.shared.messages.envelope import Envelope
from ltc.shared.messages.finance_events import ContractFullyPaid
from ltc.shared.messages.opportunities_events import OpportunityCreated, OpportunityLost, OpportunityWon
from ltc.shared.money import Money
from ltc.shared.roles import Principal, Role
from ltc.shared.rules import DomainError, Forbidden, RuleViolation, require_version


def clock() -> datetime:
    """The time every date-dependent rule is given (the domain never reads the clock itself)."""
    return datetime.now(UTC)


def _forbidden(kind: str, owner: str | None) -> Forbidden:
    return Forbidden("not-owner", f"this {kind} belongs to {owner}; only its owner or an admin may change it")


def _audit(uow: UnitOfWork, about: Account | Contact | Lead | Activity, action: AuditAction, actor: str,
           changes: dict[str, Any] | None = None) -> None:
    """An entry about `about`, filed under the account (and the lead) whose history shows it."""
    under: tuple[uuid.UUID, ...]
    kind: Audited
    if isinstance(about, Account):
        kind, under = Audited.ACCOUNT, ()
    elif isinstance(about, Contact):
        kind, under = Audited.CONTACT, (about.account_id,)
    elif isinstance(about, Lead):
        kind, under = Audited.LEAD, (about.account_id,)
    else:
        kind, under = Audited.ACTIVITY, tuple(i for i in (about.lead_id, about.account_id) if i is not None)
    uow.audit(AuditEntry(at=clock(), actor=actor, action=action, object_type=kind, object_id=about.id,
                         changes=changes, filed_under=under))


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
    billing: dict[str, Any] | None = None  # the billing identity's fields, checked by the domain


def _new_account(uow: UnitOfWork, cmd: CreateAccount, principal: Principal) -> Account:
    account = Account(id=cmd.account_id, name=cmd.name, industry=cmd.industry, tier=cmd.tier, region=cmd.region,
                      website=cmd.website, notes=cmd.notes, billing=billing_identity(cmd.billing),
                      owner=principal.sub, created_at=clock())
    uow.session.add(account)
    _audit(uow, account, AuditAction.CREATED, principal.sub, {**account.snapshot(), "billing": account.billing})
    return account


async def create_account(uow: UnitOfWork, cmd: CreateAccount, principal: Principal) -> Account:
    account = _new_account(uow, cmd, principal)
    await uow.commit()
    return account


async def _account_to_change(uow: UnitOfWork, principal: Principal, account_id: uuid.UUID,
                             expected_version: int | None) -> Account:
    account = await repository.get_account(uow.session, account_id, for_update=True)
    if not queries.may_change_account(principal, account):
        raise _forbidden("account", account.owner)
    require_version(account.version, expected_version)
    return account


@dataclass(frozen=True)
class UpdateAccount:
    account_id: uuid.UUID
    changes: dict[str, Any]  # only the fields the client sent
    expected_version: int | None


async def update_account(uow: UnitOfWork, cmd: UpdateAccount, principal: Principal) -> Account:
    account = await _account_to_change(uow, principal, cmd.account_id, cmd.expected_version)
    if "owner" in cmd.changes and not principal.has_any(Role.ADMIN) and cmd.changes["owner"] != account.owner:
        # Handing an account over is a management decision, not the owner's alone.
        raise Forbidden("owner-reassignment", "only an admin reassigns an account")
    changed = account.update_account(cmd.changes, now=clock())
    if changed:
        _audit(uow, account, AuditAction.UPDATED, principal.sub, changed)
    await uow.commit()
    return account


@dataclass(frozen=True)
class CreateContact:
    contact_id: uuid.UUID
    account_id: uuid.UUID
    fields: dict[str, Any]


async def create_contact(uow: UnitOfWork, cmd: CreateContact, principal: Principal) -> Contact:
    account = await repository.get_account(uow.session, cmd.account_id)
    if not queries.may_change_account(principal, account):
        raise _forbidden("account", account.owner)
    contact = Contact(id=cmd.contact_id, account_id=account.id, created_by=principal.sub, now=clock(), **cmd.fields)
    uow.session.add(contact)
    _audit(uow, contact, AuditAction.CREATED, principal.sub, cmd.fields)
    await uow.commit()
    return contact


@dataclass(frozen=True)
class UpdateContact:
    contact_id: uuid.UUID
    changes: dict[str, Any]  # only the fields the client sent
    expected_version: int | None


async def update_contact(uow: UnitOfWork, cmd: UpdateContact, principal: Principal) -> Contact:
    contact = await repository.get_contact(uow.session, cmd.contact_id, for_update=True)
    account = await repository.get_account(uow.session, contact.account_id)
    if not queries.may_change_account(principal, account):
        raise _forbidden("account", account.owner)
    require_version(contact.version, cmd.expected_version)
    changed = contact.update_contact(cmd.changes, now=clock())
    if changed:
        _audit(uow, contact, AuditAction.UPDATED, principal.sub, changed)
    await uow.commit()
    return contact


# Leads


async def _lead_to_change(uow: UnitOfWork, principal: Principal, lead_id: uuid.UUID,
                          expected_version: int | None) -> Lead:
    lead = await repository.get_lead(uow.session, lead_id, for_update=True)
    if not queries.may_change_lead(principal, lead):
        raise _forbidden("lead", lead.owner)
    require_version(lead.version, expected_version)
    return lead


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


@dataclass(frozen=True)
class Captured:
    """A captured lead, and whether this very request captured it: then no activity can name it
    yet, and its score needs no look-up of them."""

    lead: Lead
    just_now: bool


def _owner_at_capture(cmd: CaptureLead, principal: Principal) -> str | None:
    """The caller owns what it captures unless it says otherwise; only an admin gives a lead to someone else."""
    if not cmd.owner_given:
        return principal.sub
    if cmd.owner not in (None, principal.sub) and not principal.has_any(Role.ADMIN):
        raise Forbidden("owner-assignment", "an account manager captures leads for themself or for the unassigned pool")
    return cmd.owner


async def capture_lead(uow: UnitOfWork, cmd: CaptureLead, principal: Principal) -> Captured:
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
    _audit(uow, lead, AuditAction.CAPTURED, principal.sub,
           {"title": lead.title, "need": lead.need, "channel": lead.channel, "tier": lead.tier, "owner": lead.owner,
            "reported_by": lead.reported_by, "contact_ids": lead.contact_ids,
            "confirmed_distinct": cmd.confirm_distinct})
    await uow.commit()
    return Captured(lead, just_now=True)


@dataclass(frozen=True)
class UpdateLead:
    lead_id: uuid.UUID
    changes: dict[str, Any]  # only the fields the client sent
    expected_version: int | None


async def update_lead(uow: UnitOfWork, cmd: UpdateLead, principal: Principal) -> Lead:
    lead = await _lead_to_change(uow, principal, cmd.lead_id, cmd.expected_version)
    changes = cmd.changes
    # An owner may hand the lead over; an unassigned lead may only be claimed, not given away.
    if "owner" in changes and lead.owner is None and changes["owner"] not in (None, principal.sub) \
            and not principal.has_any(Role.ADMIN):
        raise Forbidden("owner-assignment", "an account manager may claim an unassigned lead for themself only")
    if changes.get("contact_ids"):
        await _require_contacts(uow, lead.account_id, changes["contact_ids"])
    changed = lead.update_lead(changes, now=clock())
    if changed:
        _audit(uow, lead, AuditAction.UPDATED, principal.sub, changed)
    await uow.commit()
    return lead


@dataclass(frozen=True)
class GradeLead:
    lead_id: uuid.UUID
    to: Literal[Grade.CREDIBLE, Grade.OPPORTUNITY]
    evidence: list[Evidence]
    budget: Money | None
    start_date: date | None
    expected_version: int | None


async def grade_lead(uow: UnitOfWork, cmd: GradeLead, principal: Principal) -> Lead:
    lead = await _lead_to_change(uow, principal, cmd.lead_id, cmd.expected_version)
    # Evidence may name who said it: only a contact of the lead's account (it feeds the score
    # and the power map handed to the opportunity).
    named = list(dict.fromkeys(e.contact_id for e in cmd.evidence if e.contact_id))
    await _require_contacts(uow, lead.account_id, named, "evidence.contact_id")
    before = lead.grade
    if cmd.to is Grade.CREDIBLE:
        lead.grade_credible(cmd.evidence, by=principal.sub, now=clock())
    else:
        lead.grade_opportunity(budget=cmd.budget, start_date=cmd.start_date, by=principal.sub, now=clock())
    _audit(uow, lead, AuditAction.GRADED, principal.sub,
           {"grade": {"from": before, "to": lead.grade},
            **{k: v for k, v in lead.grade_history[-1].items() if k not in ("from", "to", "by", "at")}})
    await uow.commit()
    return lead


@dataclass(frozen=True)
class ConvertLead:
    lead_id: uuid.UUID
    expected_version: int | None


async def convert_lead(uow: UnitOfWork, cmd: ConvertLead, principal: Principal) -> Lead:
    lead = await _lead_to_change(uow, principal, cmd.lead_id, cmd.expected_version)
    account = await repository.get_account(uow.session, lead.account_id)
    scored = (await queries.score_leads(uow.session, [lead], today=clock().date()))[lead.id]
    lead.convert(account=account, by=principal.sub, now=clock(), score=scored.score.total,
                 contacts=[contact_snapshot(c, strength) for c, strength in scored.contacts])
    _audit(uow, lead, AuditAction.CONVERTED, principal.sub,
           {"grade": {"from": "opportunity", "to": "converted"}, "score": scored.score.total})
    await uow.commit()
    return lead


@dataclass(frozen=True)
class DisqualifyLead:
    lead_id: uuid.UUID
    reason: str
    expected_version: int | None


async def disqualify_lead(uow: UnitOfWork, cmd: DisqualifyLead, principal: Principal) -> Lead:
    lead = await _lead_to_change(uow, principal, cmd.lead_id, cmd.expected_version)
    before = lead.grade
    lead.disqualify(reason=cmd.reason, by=principal.sub, now=clock())
    _audit(uow, lead, AuditAction.DISQUALIFIED, principal.sub,
           {"grade": {"from": before, "to": lead.grade}, "reason": cmd.reason})
    await uow.commit()
    return lead


@dataclass(frozen=True)
class AddPain:
    pain_id: uuid.UUID
    lead_id: uuid.UUID
    description: str
    contact_id: uuid.UUID | None
    expected_version: int | None


async def add_pain(uow: UnitOfWork, cmd: AddPain, principal: Principal) -> Lead:
    """Answers the lead the pain point was added to."""
    lead = await _lead_to_change(uow, principal, cmd.lead_id, cmd.expected_version)
    if cmd.contact_id is not None:
        await _require_contacts(uow, lead.account_id, [cmd.contact_id], "contact_id")
    pain = lead.add_pain(pain_id=cmd.pain_id, description=cmd.description, contact_id=cmd.contact_id,
                         by=principal.sub, now=clock())
    _audit(uow, lead, AuditAction.PAIN_ADDED, principal.sub,
           {"pain_id": pain["id"], "description": pain["description"], "status": pain["status"]})
    await uow.commit()
    return lead


@dataclass(frozen=True)
class AdvancePain:
    lead_id: uuid.UUID
    pain_id: uuid.UUID
    to: PainStatus
    note: str | None
    expected_version: int | None


async def advance_pain(uow: UnitOfWork, cmd: AdvancePain, principal: Principal) -> Lead:
    lead = await _lead_to_change(uow, principal, cmd.lead_id, cmd.expected_version)
    before = next((p["status"] for p in lead.pains if p["id"] == str(cmd.pain_id)), None)
    lead.advance_pain(cmd.pain_id, to=cmd.to, note=cmd.note, by=principal.sub, now=clock())
    _audit(uow, lead, AuditAction.PAIN_ADVANCED, principal.sub,
           {"pain_id": cmd.pain_id, "status": {"from": before, "to": cmd.to}, "note": cmd.note})
    await uow.commit()
    return lead


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


async def create_activity(uow: UnitOfWork, cmd: CreateActivity, principal: Principal) -> Activity:
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
    _audit(uow, activity, AuditAction.ACTIVITY_PLANNED, principal.sub,
           {"kind": cmd.kind, "subject": cmd.subject, "planned_on": cmd.planned_on,
            "contact_ids": activity.contact_ids})
    await uow.commit()
    return activity


async def _activity_to_change(uow: UnitOfWork, principal: Principal, activity_id: uuid.UUID,
                              expected_version: int | None) -> Activity:
    activity = await repository.get_activity(uow.session, activity_id, for_update=True)
    if not queries.may_change_activity(principal, activity):
        raise _forbidden("activity", activity.created_by)
    require_version(activity.version, expected_version)
    return activity


@dataclass(frozen=True)
class ReplanActivity:
    activity_id: uuid.UUID
    changes: dict[str, Any]  # subject, planned_on, plan, contact_ids: only those the client sent
    expected_version: int | None


async def replan_activity(uow: UnitOfWork, cmd: ReplanActivity, principal: Principal) -> Activity:
    activity = await _activity_to_change(uow, principal, cmd.activity_id, cmd.expected_version)
    changes = cmd.changes
    if changes.get("contact_ids") is not None:
        await _require_contacts(uow, activity.account_id, changes["contact_ids"])
    changed = activity.replan(subject=changes.get("subject"), planned_on=changes.get("planned_on"),
                              plan=changes.get("plan"), contact_ids=changes.get("contact_ids"), now=clock())
    if changed:
        _audit(uow, activity, AuditAction.ACTIVITY_REPLANNED, principal.sub, changed)
    await uow.commit()
    return activity


@dataclass(frozen=True)
class RecordOutcome:
    activity_id: uuid.UUID
    outcome: dict[str, Any]
    occurred_on: date
    next_step_on: date | None
    expected_version: int | None


async def record_outcome(uow: UnitOfWork, cmd: RecordOutcome, principal: Principal) -> Activity:
    activity = await _activity_to_change(uow, principal, cmd.activity_id, cmd.expected_version)
    activity.record_outcome(cmd.outcome, occurred_on=cmd.occurred_on, next_step_on=cmd.next_step_on, now=clock())
    _audit(uow, activity, AuditAction.ACTIVITY_DONE, principal.sub,
           {"occurred_on": cmd.occurred_on, "outcome": cmd.outcome})
    await uow.commit()
    return activity


@dataclass(frozen=True)
class CancelActivity:
    activity_id: uuid.UUID
    expected_version: int | None


async def cancel_activity(uow: UnitOfWork, cmd: CancelActivity, principal: Principal) -> Activity:
    activity = await _activity_to_change(uow, principal, cmd.activity_id, cmd.expected_version)
    activity.cancel(now=clock())
    _audit(uow, activity, AuditAction.ACTIVITY_CANCELLED, principal.sub)
    await uow.commit()
    return activity


# The closed loop: what the later stages tell us about a lead


async def _lead_of(uow: UnitOfWork, lead_id: uuid.UUID | None) -> Lead | None:
    """The lead a later stage's event refers to; opportunities created directly have none."""
    if lead_id is None:
        return None
    return await uow.session.get(Lead, lead_id, with_for_update=True)


def _audit_event(uow: UnitOfWork, lead: Lead, envelope: Envelope, changes: dict[str, Any]) -> None:
    _audit(uow, lead, AuditAction.OUTCOME_RECORDED, f"event:{envelope.type}", changes)


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

