"""Loading aggregates and the read-side facts the rules need; writes go through the unit of work's session."""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from datetime import date

from sqlalchemy import literal, select
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.types import Text

from ltc.leads.domain.accounts import Account, Contact
from ltc.leads.domain.activities import Activity, ActivityStatus
from ltc.leads.domain.audit import AuditEntry
from ltc.leads.domain.model import OPEN_GRADES, Lead
from ltc.leads.domain.relationships import Contacted, Relationship, relationship_strength
from ltc.shared.errors import NotFound


async def get_account(session: AsyncSession, account_id: uuid.UUID, *, for_update: bool = False) -> Account:
    account = await session.get(Account, account_id, with_for_update=for_update)
    if account is None:
        raise NotFound("account", account_id)
    return account


async def lock_account(session: AsyncSession, account_id: uuid.UUID) -> uuid.UUID:
    """Lock an account's row (no object loaded: the caller needs the lock, not the account)."""
    found = (await session.execute(select(Account.id).where(Account.id == account_id).with_for_update())).scalar()
    if found is None:
        raise NotFound("account", account_id)
    return found


async def get_contact(session: AsyncSession, contact_id: uuid.UUID, *, for_update: bool = False) -> Contact:
    contact = await session.get(Contact, contact_id, with_for_update=for_update)
    if contact is None:
        raise NotFound("contact", contact_id)
    return contact


async def get_lead(session: AsyncSession, lead_id: uuid.UUID, *, for_update: bool = False) -> Lead:
    lead = await session.get(Lead, lead_id, with_for_update=for_update)
    if lead is None:
        raise NotFound("lead", lead_id)
    return lead


async def get_activity(session: AsyncSession, activity_id: uuid.UUID, *, for_update: bool = False) -> Activity:
    activity = await session.get(Activity, activity_id, with_for_update=for_update)
    if activity is None:
        raise NotFound("activity", activity_id)
    return activity


async def open_leads_of(session: AsyncSession, account_id: uuid.UUID) -> list[Lead]:
    stmt = select(Lead).where(Lead.account_id == account_id, Lead.grade.in_(OPEN_GRADES))
    return list((await session.execute(stmt)).scalars())


async def contacts_of_account(session: AsyncSession, account_id: uuid.UUID,
                              contact_ids: Iterable[str]) -> dict[str, Contact]:
    """The given contacts, if they belong to the account; the caller decides what a missing one means."""
    ids = [uuid.UUID(c) for c in contact_ids]
    if not ids:
        return {}
    stmt = select(Contact).where(Contact.id.in_(ids), Contact.account_id == account_id)
    return {str(c.id): c for c in (await session.execute(stmt)).scalars()}


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
        Activity.status == ActivityStatus.DONE,
        Activity.contact_ids.op("?|")(literal(ids, ARRAY(Text))),
    )
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


async def history(session: AsyncSession, *, lead_id: uuid.UUID | None = None,
                  account_id: uuid.UUID | None = None) -> list[AuditEntry]:
    stmt = select(AuditEntry).order_by(AuditEntry.at, AuditEntry.id)
    if lead_id is not None:
        stmt = stmt.where((AuditEntry.lead_id == lead_id) | (AuditEntry.entity_id == lead_id))
    if account_id is not None:
        stmt = stmt.where(AuditEntry.account_id == account_id)
    return list((await session.execute(stmt)).scalars())
