"""Routes only translate HTTP into commands and read models; the rules live in the domain."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Response
from fastapi.exceptions import RequestValidationError
from sqlalchemy import literal, select
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.types import Text

from ltc.leads import handlers
from ltc.leads.adapters import repository
from ltc.leads.api.schemas import (
    AccountCreate,
    AccountRead,
    AccountUpdate,
    ActivityCreate,
    ActivityRead,
    ActivityUpdate,
    ChannelTierRead,
    ContactCreate,
    ContactRead,
    ContactUpdate,
    DisqualifyRequest,
    GradeRequest,
    HistoryEntryRead,
    LeadCreate,
    LeadRead,
    LeadToCashReport,
    LeadUpdate,
    OutcomeRequest,
    PainAdvance,
    PainCreate,
    RelationshipRead,
)
from ltc.leads.domain.accounts import Account, Contact, DecisionRole, Tier
from ltc.leads.domain.activities import Activity, ActivityKind, ActivityStatus
from ltc.leads.domain.model import Channel, Criterion, Evidence, Grade, Lead, PainStatus
from ltc.leads.domain.reports import lead_to_cash
from ltc.shared.api import (
    Cursor,
    IdempotencyKey,
    IfMatch,
    Limit,
    NoBody,
    Page,
    act_idempotently,
    create_idempotently,
    etag,
    paginate,
)
from ltc.shared.auth import Principal, Role, require_roles
from ltc.shared.db import current
from ltc.shared.errors import NotFound
from ltc.shared.messages import MoneyPayload
from ltc.shared.service import ReadSession, Uow

router = APIRouter()

# Account managers and admins change accounts and leads (object ownership is checked per lead);
# the whole iron triangle reads and keeps the connection through activities.
Seller = Annotated[Principal, Depends(require_roles(Role.AR, Role.ADMIN))]
Triangle = Annotated[Principal, Depends(require_roles(Role.AR, Role.SR, Role.FR, Role.ADMIN))]
Reader = Annotated[Principal, Depends(require_roles(Role.AR, Role.SR, Role.FR, Role.ADMIN, Role.INTEGRATION))]


def _changes(body: Any) -> dict[str, Any]:
    """Only the fields the client sent: an omitted field stays as it is."""
    return {name: getattr(body, name) for name in body.model_fields_set}


# Accounts


def _account(account: Account, response: Response) -> AccountRead:
    response.headers["ETag"] = etag(account.version)
    return AccountRead.model_validate(account, from_attributes=True)


@router.post("/accounts", status_code=201, response_model=AccountRead, tags=["accounts"])
async def create_account(body: AccountCreate, uow: Uow, principal: Seller, response: Response,
                         idempotency_key: IdempotencyKey = None) -> AccountRead:
    account_id = await create_idempotently(
        uow, principal=principal.sub, key=idempotency_key, endpoint="POST /accounts", body=body,
        create=lambda new_id: handlers.create_account(uow, handlers.CreateAccount(new_id, **body.model_dump()),
                                                      principal),
    )
    async with uow:
        account = await repository.get_account(uow.session, account_id)
    response.headers["Location"] = f"/api/v1/accounts/{account_id}"
    return _account(account, response)


@router.get("/accounts", response_model=Page[AccountRead], tags=["accounts"])
async def list_accounts(
    session: ReadSession, principal: Reader,
    q: Annotated[str | None, Query(max_length=300, description="part of the name, any case")] = None,
    tier: Tier | None = None, industry: str | None = None, owner: str | None = None,
    limit: Limit = 50, cursor: Cursor = None,
) -> Page[AccountRead]:
    stmt = select(Account)
    if q:
        stmt = stmt.where(Account.name.ilike(f"%{_like(q)}%", escape="\\"))
    for column, value in ((Account.tier, tier), (Account.industry, industry), (Account.owner, owner)):
        if value is not None:
            stmt = stmt.where(column == value)
    rows, next_cursor = await paginate(session, stmt, created_at=Account.created_at, ident=Account.id,
                                       limit=limit, cursor=cursor)
    return Page[AccountRead](items=[AccountRead.model_validate(a, from_attributes=True) for a in rows],
                             next_cursor=next_cursor)


def _like(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


@router.get("/accounts/{account_id}", response_model=AccountRead, tags=["accounts"])
async def read_account(account_id: uuid.UUID, session: ReadSession, principal: Reader, response: Response) -> AccountRead:
    return _account(await repository.get_account(session, account_id), response)


@router.patch("/accounts/{account_id}", response_model=AccountRead, tags=["accounts"],
              summary="Change an account (owner or admin; If-Match required)")
async def update_account(account_id: uuid.UUID, body: AccountUpdate, uow: Uow, principal: Seller,
                         response: Response, if_match: IfMatch = None) -> AccountRead:
    async with uow:
        await handlers.update_account(uow, account_id, _changes(body), if_match, principal)
    async with uow:
        return _account(await repository.get_account(uow.session, account_id), response)


@router.get("/accounts/{account_id}/history", response_model=list[HistoryEntryRead], tags=["accounts"],
            summary="Every audited change to the account, its contacts, leads and activities")
async def account_history(account_id: uuid.UUID, session: ReadSession, principal: Reader) -> list[HistoryEntryRead]:
    await repository.get_account(session, account_id)
    entries = await repository.history(session, account_id=account_id)
    return [HistoryEntryRead.model_validate(e, from_attributes=True) for e in entries]


# Contacts


async def _contact_reads(session: AsyncSession, contacts: list[Contact]) -> list[ContactRead]:
    strengths = await repository.relationships(session, contacts, today=handlers.clock().date())
    return [ContactRead.model_validate({**vars(c), "relationship": RelationshipRead.of(strengths[str(c.id)])})
            for c in contacts]


@router.post("/contacts", status_code=201, response_model=ContactRead, tags=["contacts"])
async def create_contact(body: ContactCreate, uow: Uow, principal: Seller, response: Response,
                         idempotency_key: IdempotencyKey = None) -> ContactRead:
    fields = body.model_dump(exclude={"account_id"})
    contact_id = await create_idempotently(
        uow, principal=principal.sub, key=idempotency_key, endpoint="POST /contacts", body=body,
        create=lambda new_id: handlers.create_contact(uow, handlers.CreateContact(new_id, body.account_id, fields),
                                                      principal),
    )
    response.headers["Location"] = f"/api/v1/contacts/{contact_id}"
    return await _reread_contact(uow, contact_id, response)


async def _reread_contact(uow: Any, contact_id: uuid.UUID, response: Response) -> ContactRead:
    async with uow:
        contact = await repository.get_contact(uow.session, contact_id)
        response.headers["ETag"] = etag(contact.version)
        return (await _contact_reads(uow.session, [contact]))[0]


@router.get("/contacts", response_model=Page[ContactRead], tags=["contacts"])
async def list_contacts(
    session: ReadSession, principal: Reader, account_id: uuid.UUID | None = None,
    decision_role: DecisionRole | None = None,
    q: Annotated[str | None, Query(max_length=300, description="part of the name, any case")] = None,
    limit: Limit = 50, cursor: Cursor = None,
) -> Page[ContactRead]:
    stmt = select(Contact)
    if account_id is not None:
        stmt = stmt.where(Contact.account_id == account_id)
    if decision_role is not None:
        stmt = stmt.where(Contact.decision_role == decision_role)
    if q:
        stmt = stmt.where(Contact.name.ilike(f"%{_like(q)}%", escape="\\"))
    rows, next_cursor = await paginate(session, stmt, created_at=Contact.created_at, ident=Contact.id,
                                       limit=limit, cursor=cursor)
    return Page[ContactRead](items=await _contact_reads(session, rows), next_cursor=next_cursor)


@router.get("/contacts/{contact_id}", response_model=ContactRead, tags=["contacts"],
            summary="A contact with its relationship strength (the trust formula, explained in the response)")
async def read_contact(contact_id: uuid.UUID, session: ReadSession, principal: Reader,
                       response: Response) -> ContactRead:
    contact = await repository.get_contact(session, contact_id)
    response.headers["ETag"] = etag(contact.version)
    return (await _contact_reads(session, [contact]))[0]


@router.patch("/contacts/{contact_id}", response_model=ContactRead, tags=["contacts"])
async def update_contact(contact_id: uuid.UUID, body: ContactUpdate, uow: Uow, principal: Seller,
                         response: Response, if_match: IfMatch = None) -> ContactRead:
    async with uow:
        await handlers.update_contact(uow, contact_id, _changes(body), if_match, principal)
    return await _reread_contact(uow, contact_id, response)


# Leads


async def _lead_read(session: AsyncSession, lead: Lead, response: Response, *, fresh: bool = False) -> LeadRead:
    response.headers["ETag"] = etag(lead.version)
    return LeadRead.of(lead, (await handlers.score_leads(session, [lead], fresh=fresh))[lead.id].score)


async def _answer(uow: Any, lead_id: uuid.UUID, response: Response) -> LeadRead:
    """Inside the unit of work that just changed the lead: no second transaction to re-read it."""
    lead = await current(uow.session, Lead, lead_id)
    if lead is None:
        raise NotFound("lead", lead_id)
    return await _lead_read(uow.session, lead, response)


async def _reread(uow: Any, lead_id: uuid.UUID, response: Response, *, created: bool = False) -> LeadRead:
    async with uow:
        lead = await repository.get_lead(uow.session, lead_id)
        if created:
            response.headers["Location"] = f"/api/v1/leads/{lead_id}"
        return await _lead_read(uow.session, lead, response)


@router.post("/leads", status_code=201, response_model=LeadRead, tags=["leads"],
             summary="Capture a lead; 409 `duplicate-lead` names open leads of the account that look the same",
             responses={409: {"description": "duplicate-lead: `errors` lists the candidate leads"}})
async def capture_lead(body: LeadCreate, uow: Uow, principal: Seller, response: Response,
                       idempotency_key: IdempotencyKey = None) -> LeadRead:
    problem = body.account_problem()
    if problem:
        raise RequestValidationError([{"loc": ("body", "account_id"), "msg": problem, "type": "value_error"}])

    def command(new_id: uuid.UUID) -> handlers.CaptureLead:
        new_account = (handlers.CreateAccount(uuid.uuid4(), **body.account.model_dump())
                       if body.account is not None else None)
        return handlers.CaptureLead(
            new_id, body.account_id, body.title, body.need, body.channel, body.tier, new_account=new_account,
            owner=body.owner, owner_given="owner" in body.model_fields_set, reported_by=body.reported_by,
            contact_ids=body.contact_ids, confirm_distinct=body.confirm_distinct)

    captured: list[LeadRead] = []

    async def capture(new_id: uuid.UUID) -> None:
        # Answered from the lead just committed (no second transaction to read it back); a
        # replayed Idempotency-Key reads the lead the first request created instead.
        lead = await handlers.capture_lead(uow, command(new_id), principal)
        captured.append(await _lead_read(uow.session, lead, response, fresh=True))

    lead_id = await create_idempotently(uow, principal=principal.sub, key=idempotency_key, endpoint="POST /leads",
                                        body=body, create=capture)
    if captured:
        response.headers["Location"] = f"/api/v1/leads/{lead_id}"
        return captured[0]
    return await _reread(uow, lead_id, response, created=True)


@router.get("/leads/{lead_id}", response_model=LeadRead, tags=["leads"],
            summary="A lead with its grade history, pains, outcome and explained score")
async def read_lead(lead_id: uuid.UUID, session: ReadSession, principal: Reader, response: Response) -> LeadRead:
    return await _lead_read(session, await repository.get_lead(session, lead_id), response)


@router.get("/leads", response_model=Page[LeadRead], tags=["leads"])
async def list_leads(
    session: ReadSession, principal: Reader,
    grade: Grade | None = None, tier: Tier | None = None, channel: Channel | None = None,
    account_id: uuid.UUID | None = None, owner: str | None = None,
    unassigned: Annotated[bool, Query(description="only leads without an owner")] = False,
    self_generated: bool | None = None,
    created_from: Annotated[datetime | None, Query()] = None, created_to: Annotated[datetime | None, Query()] = None,
    limit: Limit = 50, cursor: Cursor = None,
) -> Page[LeadRead]:
    stmt = select(Lead)
    for column, value in ((Lead.grade, grade), (Lead.tier, tier), (Lead.channel, channel),
                          (Lead.account_id, account_id), (Lead.owner, owner), (Lead.self_generated, self_generated)):
        if value is not None:
            stmt = stmt.where(column == value)
    if unassigned:
        stmt = stmt.where(Lead.owner.is_(None))
    if created_from is not None:
        stmt = stmt.where(Lead.created_at >= created_from)
    if created_to is not None:
        stmt = stmt.where(Lead.created_at < created_to)
    rows, next_cursor = await paginate(session, stmt, created_at=Lead.created_at, ident=Lead.id,
                                       limit=limit, cursor=cursor)
    scores = {lead_id: scored.score for lead_id, scored in (await handlers.score_leads(session, rows)).items()}
    return Page[LeadRead](items=[LeadRead.of(lead, scores[lead.id]) for lead in rows], next_cursor=next_cursor)


@router.patch("/leads/{lead_id}", response_model=LeadRead, tags=["leads"],
              summary="Change title, need, tier, owner, informant or contacts (If-Match required)")
async def update_lead(lead_id: uuid.UUID, body: LeadUpdate, uow: Uow, principal: Seller, response: Response,
                      if_match: IfMatch = None) -> LeadRead:
    async with uow:
        await handlers.update_lead(uow, lead_id, _changes(body), if_match, principal)
    return await _reread(uow, lead_id, response)


@router.post("/leads/{lead_id}/grade", response_model=LeadRead, tags=["leads"],
             summary="Raise the lead one grade, with the evidence the service checks",
             description=f"`credible` needs, for each lead criterion ({', '.join(c.value for c in Criterion)}), "
                         "evidence from someone other than us and the lead's informant; "
                         "`opportunity` needs a positive budget and a start date. A 422 names every unmet criterion.")
async def grade_lead(lead_id: uuid.UUID, body: GradeRequest, uow: Uow, principal: Seller, response: Response,
                     if_match: IfMatch = None, idempotency_key: IdempotencyKey = None) -> LeadRead:
    evidence = [Evidence(e.criterion, e.source, e.who, e.when, e.contact_id) for e in body.evidence]
    budget = body.budget.to_money() if body.budget else None
    command = handlers.GradeLead(lead_id, body.to, evidence, budget, body.start_date, if_match)
    return await act_idempotently(uow, principal.sub, idempotency_key, f"POST /leads/{lead_id}/grade", body, lead_id,
                            lambda: handlers.grade_lead(uow, command, principal), then=lambda: _answer(uow, lead_id, response))


@router.post("/leads/{lead_id}/convert", response_model=LeadRead, tags=["leads"],
             summary="Hand an opportunity-grade lead over to the opportunities stage (`lead.converted`)")
async def convert_lead(lead_id: uuid.UUID, uow: Uow, principal: Seller, response: Response,
                       if_match: IfMatch = None, idempotency_key: IdempotencyKey = None) -> LeadRead:
    return await act_idempotently(uow, principal.sub, idempotency_key, f"POST /leads/{lead_id}/convert", NoBody(), lead_id,
                            lambda: handlers.convert_lead(uow, lead_id, if_match, principal), then=lambda: _answer(uow, lead_id, response))


@router.post("/leads/{lead_id}/disqualify", response_model=LeadRead, tags=["leads"])
async def disqualify_lead(lead_id: uuid.UUID, body: DisqualifyRequest, uow: Uow, principal: Seller,
                          response: Response, if_match: IfMatch = None,
                          idempotency_key: IdempotencyKey = None) -> LeadRead:
    return await act_idempotently(uow, principal.sub, idempotency_key, f"POST /leads/{lead_id}/disqualify", body, lead_id,
                            lambda: handlers.disqualify_lead(uow, lead_id, body.reason, if_match, principal), then=lambda: _answer(uow, lead_id, response))


@router.post("/leads/{lead_id}/pains", status_code=201, response_model=LeadRead, tags=["leads"],
             summary="Record a customer pain point (discovered)")
async def add_pain(lead_id: uuid.UUID, body: PainCreate, uow: Uow, principal: Seller, response: Response,
                   idempotency_key: IdempotencyKey = None) -> LeadRead:
    await create_idempotently(
        uow, principal=principal.sub, key=idempotency_key, endpoint=f"POST /leads/{lead_id}/pains", body=body,
        create=lambda new_id: handlers.add_pain(uow, handlers.AddPain(new_id, lead_id, body.description,
                                                                      body.contact_id), principal),
    )
    response.headers["Location"] = f"/api/v1/leads/{lead_id}"
    return await _reread(uow, lead_id, response)


@router.post("/leads/{lead_id}/pains/{pain_id}/advance", response_model=LeadRead, tags=["leads"],
             summary="discovered → acknowledged → value_agreed, one step at a time")
async def advance_pain(lead_id: uuid.UUID, pain_id: uuid.UUID, body: PainAdvance, uow: Uow, principal: Seller,
                       response: Response, if_match: IfMatch = None,
                       idempotency_key: IdempotencyKey = None) -> LeadRead:
    return await act_idempotently(
        uow, principal.sub, idempotency_key, f"POST /leads/{lead_id}/pains/{pain_id}/advance", body, lead_id,
        lambda: handlers.advance_pain(uow, lead_id, pain_id, PainStatus(body.to), body.note, if_match, principal), then=lambda: _answer(uow, lead_id, response))


@router.get("/leads/{lead_id}/history", response_model=list[HistoryEntryRead], tags=["leads"],
            summary="Who changed what and when: capture, edits, grades, pains, activities, outcome")
async def lead_history(lead_id: uuid.UUID, session: ReadSession, principal: Reader) -> list[HistoryEntryRead]:
    await repository.get_lead(session, lead_id)
    return [HistoryEntryRead.model_validate(e, from_attributes=True)
            for e in await repository.history(session, lead_id=lead_id)]


# Activities


def _activity(activity: Activity, response: Response | None = None) -> ActivityRead:
    if response is not None:
        response.headers["ETag"] = etag(activity.version)
    return ActivityRead.model_validate(activity, from_attributes=True)


async def _reread_activity(uow: Any, activity_id: uuid.UUID, response: Response) -> ActivityRead:
    async with uow:
        return _activity(await repository.get_activity(uow.session, activity_id), response)


async def _answer_activity(uow: Any, activity_id: uuid.UUID, response: Response) -> ActivityRead:
    """Inside the unit of work that just changed the activity: no second transaction to re-read it."""
    activity = await current(uow.session, Activity, activity_id)
    if activity is None:
        raise NotFound("activity", activity_id)
    return _activity(activity, response)


@router.post("/activities", status_code=201, response_model=ActivityRead, tags=["activities"],
             summary="Plan a visit or another connection-keeping activity (AR, SR, FR)")
async def create_activity(body: ActivityCreate, uow: Uow, principal: Triangle, response: Response,
                          idempotency_key: IdempotencyKey = None) -> ActivityRead:
    plan = body.plan.model_dump(mode="json") if body.plan else None
    activity_id = await create_idempotently(
        uow, principal=principal.sub, key=idempotency_key, endpoint="POST /activities", body=body,
        create=lambda new_id: handlers.create_activity(uow, handlers.CreateActivity(
            new_id, body.kind, body.account_id, body.lead_id, body.contact_ids, body.subject, body.planned_on, plan),
            principal),
    )
    response.headers["Location"] = f"/api/v1/activities/{activity_id}"
    return await _reread_activity(uow, activity_id, response)


@router.get("/activities", response_model=Page[ActivityRead], tags=["activities"])
async def list_activities(
    session: ReadSession, principal: Reader, account_id: uuid.UUID | None = None, lead_id: uuid.UUID | None = None,
    contact_id: uuid.UUID | None = None, kind: ActivityKind | None = None, status: ActivityStatus | None = None,
    limit: Limit = 50, cursor: Cursor = None,
) -> Page[ActivityRead]:
    stmt = select(Activity)
    for column, value in ((Activity.account_id, account_id), (Activity.lead_id, lead_id), (Activity.kind, kind),
                          (Activity.status, status)):
        if value is not None:
            stmt = stmt.where(column == value)
    if contact_id is not None:
        stmt = stmt.where(Activity.contact_ids.op("?|")(literal([str(contact_id)], ARRAY(Text))))
    rows, next_cursor = await paginate(session, stmt, created_at=Activity.created_at, ident=Activity.id,
                                       limit=limit, cursor=cursor)
    return Page[ActivityRead](items=[_activity(a) for a in rows], next_cursor=next_cursor)


@router.get("/activities/{activity_id}", response_model=ActivityRead, tags=["activities"])
async def read_activity(activity_id: uuid.UUID, session: ReadSession, principal: Reader,
                        response: Response) -> ActivityRead:
    return _activity(await repository.get_activity(session, activity_id), response)


@router.patch("/activities/{activity_id}", response_model=ActivityRead, tags=["activities"],
              summary="Change the plan of a planned activity (its author or an admin; If-Match required)")
async def update_activity(activity_id: uuid.UUID, body: ActivityUpdate, uow: Uow, principal: Triangle,
                          response: Response, if_match: IfMatch = None) -> ActivityRead:
    changes = _changes(body)
    if body.plan is not None:
        changes["plan"] = body.plan.model_dump(mode="json")
    async with uow:
        await handlers.replan_activity(uow, activity_id, changes, if_match, principal)
    return await _reread_activity(uow, activity_id, response)


@router.post("/activities/{activity_id}/outcome", response_model=ActivityRead, tags=["activities"],
             summary="After the activity: SPIN notes, commitments obtained, next step (If-Match required)")
async def record_outcome(activity_id: uuid.UUID, body: OutcomeRequest, uow: Uow, principal: Triangle,
                         response: Response, if_match: IfMatch = None,
                         idempotency_key: IdempotencyKey = None) -> ActivityRead:
    outcome = body.model_dump(mode="json", exclude={"occurred_on"})
    return await act_idempotently(
        uow, principal.sub, idempotency_key, f"POST /activities/{activity_id}/outcome", body, activity_id,
        lambda: handlers.record_outcome(uow, activity_id, outcome, body.occurred_on, body.next_step_on, if_match,
                                        principal), then=lambda: _answer_activity(uow, activity_id, response))


@router.post("/activities/{activity_id}/cancel", response_model=ActivityRead, tags=["activities"])
async def cancel_activity(activity_id: uuid.UUID, uow: Uow, principal: Triangle, response: Response,
                          if_match: IfMatch = None, idempotency_key: IdempotencyKey = None) -> ActivityRead:
    return await act_idempotently(uow, principal.sub, idempotency_key, f"POST /activities/{activity_id}/cancel", NoBody(),
                            activity_id, lambda: handlers.cancel_activity(uow, activity_id, if_match, principal), then=lambda: _answer_activity(uow, activity_id, response))


# Report


@router.get("/reports/lead-to-cash", response_model=LeadToCashReport, tags=["reports"],
            summary="Per channel and tier: leads, how far they got, won, cash collected, median lead-to-cash days")
async def lead_to_cash_report(
    session: ReadSession, principal: Reader,
    created_from: Annotated[datetime | None, Query()] = None, created_to: Annotated[datetime | None, Query()] = None,
) -> LeadToCashReport:
    stmt = select(Lead)
    if created_from is not None:
        stmt = stmt.where(Lead.created_at >= created_from)
    if created_to is not None:
        stmt = stmt.where(Lead.created_at < created_to)
    leads = list((await session.execute(stmt)).scalars())
    rows = [ChannelTierRead.model_validate({**vars(row), "cash_amounts": [MoneyPayload.of(m) for m in row.cash_amounts]})
            for row in lead_to_cash(leads)]
    return LeadToCashReport(rows=rows, total_leads=len(leads))

