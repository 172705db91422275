"""The read side: who may see and change what, the list queries and their filters, and the read
models computed from several rows (each contact's relationship strength, each lead's score)."""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from sqlalchemy import Select, func, literal, select
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.types import Text

from ltc.leads.domain.accounts import Account, Contact, DecisionRole, Tier
from ltc.leads.domain.activities import Activity, ActivityKind, ActivityStatus
from ltc.leads.domain.model import Channel, Grade, Lead
from ltc.leads.domain.relationships import Contacted, Relationship, relationship_strength
from ltc.leads.domain.reports import ChannelTierRow, lead_to_cash
from ltc.leads.domain.scoring import LeadScore, score_lead
from ltc.shared.db import audit_history
from ltc.shared.pagination import paginate
from ltc.shared.roles import Principal, Role

# Who may see and change what.
#
# Seeing: every role the API lets read (ar, sr, fr, admin, integration) sees every account, contact,
# lead, activity and history entry. No read is scoped by who asks, so there is no visibility filter
# (`visible_to`) and no Python twin (`may_see`) yet; the `owner` and `unassigned` list filters are
# the caller's choice, not an access rule.
#
# Changing: decided here from the token and the object, applied by the handlers (403 `not-owner`).


def may_change_lead(principal: Principal, lead: Lead) -> bool:
    """Admins, and account managers on their own or on unassigned leads."""
    if principal.has_any(Role.ADMIN):
        return True
    return principal.has_any(Role.AR) and lead.owner in (None, principal.sub)


def may_change_account(principal: Principal, account: Account) -> bool:
    """Admins, and the account manager who owns it (its contacts change with it)."""
    return principal.has_any(Role.ADMIN) or (principal.has_any(Role.AR) and account.owner == principal.sub)


def may_change_activity(principal: Principal, activity: Activity) -> bool:
    """Admins, and whoever planned it (any of the iron triangle plans activities, on any account)."""
    return principal.has_any(Role.ADMIN) or activity.created_by == principal.sub


# Lists: keyset pages in creation order, each filter optional.

Page = tuple[list[Any], str | None]


def _like(text: str) -> str:
    """`text` matched literally inside an ILIKE pattern."""
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def _where_equal(stmt: Select[Any], *pairs: tuple[Any, Any]) -> Select[Any]:
    for column, value in pairs:
        if value is not None:
            stmt = stmt.where(column == value)
    return stmt


def _same_text(column: Any, value: str) -> Any:
    """`column` equal to `value` in any case (answered by the column's `lower(...)` index)."""
    return func.lower(column) == func.lower(value.strip())


async def accounts(session: AsyncSession, *, q: str | None = None, name: str | None = None, tier: Tier | None = None,
                   industry: str | None = None, owner: str | None = None, limit: int,
                   cursor: str | None) -> Page:
    stmt = _where_equal(select(Account), (Account.tier, tier), (Account.industry, industry), (Account.owner, owner))
    if q:
        stmt = stmt.where(Account.name.ilike(f"%{_like(q)}%", escape="\\"))
    if name is not None:
        stmt = stmt.where(_same_text(Account.name, name))
    return await paginate(session, stmt, created_at=Account.created_at, ident=Account.id, limit=limit, cursor=cursor)


async def contacts(session: AsyncSession, *, account_id: uuid.UUID | None = None,
                   decision_role: DecisionRole | None = None, q: str | None = None, email: str | None = None,
                   limit: int, cursor: str | None) -> Page:
    stmt = _where_equal(select(Contact), (Contact.account_id, account_id), (Contact.decision_role, decision_role))
    if q:
        stmt = stmt.where(Contact.name.ilike(f"%{_like(q)}%", escape="\\"))
    if email is not None:
        stmt = stmt.where(_same_text(Contact.email, email))
    return await paginate(session, stmt, created_at=Contact.created_at, ident=Contact.id, limit=limit, cursor=cursor)


def _created_between(stmt: Select[Any], created_from: datetime | None, created_to: datetime | None) -> Select[Any]:
    if created_from is not None:
        stmt = stmt.where(Lead.created_at >= created_from)
    if created_to is not None:
        stmt = stmt.where(Lead.created_at < created_to)
    return stmt


async def leads(session: AsyncSession, *, grade: Grade | None = None, tier: Tier | None = None,
                channel: Channel | None = None, account_id: uuid.UUID | None = None, owner: str | None = None,
                unassigned: bool = False, self_generated: bool | None = None, created_from: datetime | None = None,
                created_to: datetime | None = None, limit: int, cursor: str | None) -> Page:
    stmt = _where_equal(select(Lead), (Lead.grade, grade), (Lead.tier, tier), (Lead.channel, channel),
                        (Lead.account_id, account_id), (Lead.owner, owner), (Lead.self_generated, self_generated))
    if unassigned:
        stmt = stmt.where(Lead.owner.is_(None))
    stmt = _created_between(stmt, created_from, created_to)
    return await paginate(session, stmt, created_at=Lead.created_at, ident=Lead.id, limit=limit, cursor=cursor)


def _meeting(contact_ids: list[str]) -> Any:
    """Activities that met any of these contacts (answered by the GIN index on contact_ids)."""
    return Activity.contact_ids.op("?|")(literal(contact_ids, ARRAY(Text)))


async def activities(session: AsyncSession, *, account_id: uuid.UUID | None = None, lead_id: uuid.UUID | None = None,
                     contact_id: uuid.UUID | None = None, kind: ActivityKind | None = None,
                     status: ActivityStatus | None = None, limit: int, cursor: str | None) -> Page:
    stmt = _where_equal(select(Activity), (Activity.account_id, account_id), (Activity.lead_id, lead_id),
                        (Activity.kind, kind), (Activity.status, status))
    if contact_id is not None:
        stmt = stmt.where(_meeting([str(contact_id)]))
    return await paginate(session, stmt, created_at=Activity.created_at, ident=Activity.id, limit=limit,
                          cursor=cursor)


async def lead_to_cash_report(session: AsyncSession, *, created_from: datetime | None = None,
                              created_to: datetime | None = None) -> tuple[list[ChannelTierRow], int]:
    """The closed-loop report's rows over the leads created in the window, and how many leads that is."""
    found = list((await session.execute(_created_between(select(Lead), created_from, created_to))).scalars())
    return lead_to_cash(found), len(found)


async def history(session: AsyncSession, ident: uuid.UUID) -> list[Any]:
    """The audit entries about an account or a lead and filed under it (its contacts, leads and
    activities), oldest first."""
    return await audit_history(session, ident)


# Read models computed from several rows


async def contacts_by_id(session: AsyncSession, contact_ids: Iterable[str]) -> dict[str, Contact]:
    ids = [uuid.UUID(c) for c in set(contact_ids)]
    if not ids:
        return {}
    return {str(c.id): c for c in (await session.execute(select(Contact).where(Contact.id.in_(ids)))).scalars()}


async def relationships(session: AsyncSession, contacts: Iterable[Contact], *, today: date) -> dict[str, Relationship]:
    """The trust formula for each contact, from the done activities it took part in."""
    contacts = list(contacts)
    if not contacts:
        return {}
    ids = [str(c.id) for c in contacts]
    stmt = select(Activity.kind, Activity.occurred_on, Activity.contact_ids).where(
        Activity.status == ActivityStatus.DONE, _meeting(ids))
    met: dict[str, list[Contacted]] = {i: [] for i in ids}
    for kind, occurred_on, contact_ids in (await session.execute(stmt)).all():
        for contact_id in contact_ids:
            if contact_id in met:
                met[contact_id].append(Contacted(kind, occurred_on))
    return {str(c.id): relationship_strength(competence_rating=c.competence_rating,
                                             reliability_rating=c.reliability_rating,
                                             contacts=met[str(c.id)], today=today)
            for c in contacts}


async def contacts_met_on_leads(session: AsyncSession, lead_ids: Iterable[uuid.UUID]) -> dict[str, set[str]]:
    """Contacts met in the activities linked to each lead."""
    ids = list(lead_ids)
    found: dict[str, set[str]] = {str(i): set() for i in ids}
    if not ids:
        return found
    stmt = select(Activity.lead_id, Activity.contact_ids).where(Activity.lead_id.in_(ids))
    for lead_id, contact_ids in (await session.execute(stmt)).all():
        found[str(lead_id)].update(contact_ids)
    return found


@dataclass(frozen=True)
class ScoredLead:
    score: LeadScore
    contacts: list[tuple[Contact, int]]  # the contacts involved, with their relationship strength


async def score_leads(session: AsyncSession, leads: list[Lead], *, today: date,
                      fresh: bool = False) -> dict[uuid.UUID, ScoredLead]:
    """Score leads with a fixed number of queries, whatever their number.

    A `fresh` lead (just captured, in this request) has no activities yet: nothing to look up for
    it unless it names contacts, whose relationships come from their other activities.
    """
    met = ({str(lead.id): set() for lead in leads} if fresh
           else await contacts_met_on_leads(session, [lead.id for lead in leads]))
    involved = {lead.id: lead.contacts_involved(met[str(lead.id)]) for lead in leads}
    everyone = await contacts_by_id(session, set().union(*involved.values()))
    strengths = await relationships(session, everyone.values(), today=today)
    scored = {}
    for lead in leads:
        contacts = sorted(((everyone[c], strengths[c].strength) for c in involved[lead.id] if c in everyone),
                          key=lambda pair: (pair[0].name, str(pair[0].id)))
        scored[lead.id] = ScoredLead(score_lead(lead, contact_strengths={c.name: s for c, s in contacts}), contacts)
    return scored
