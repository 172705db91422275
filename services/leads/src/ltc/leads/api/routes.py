"""Routes only translate HTTP into commands and read models; the rules live in the domain.

Every change runs through `ltc.shared.api.run`: one unit of work in which the handler commits and
the answer is read from what it returned (an Idempotency-Key replay answers from the earlier
result instead).
"""

from __future__ import annotations

import uuid
from datetime import date, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Response
from fastapi.exceptions import RequestValidationError
from sqlalchemy.ext.asyncio import AsyncSession

from ltc.leads import handlers
from ltc.leads.adapters import queries, repository
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
from ltc.shared.api import (
    Cursor,
    ExpectedVersion,
    IdempotencyKey,
    Limit,
    NoBody,
    Once,
    Page,
    etag,
    run,
)
from ltc.shared.auth import Principal, Role, require_roles
from ltc.shared.messages import MoneyPayload
from ltc.shared.service import ReadSession, Uow

router = APIRouter()

# Account managers and admins change accounts and leads (object ownership is checked per lead);
# the whole iron triangle reads and keeps the connection through activities.
Seller = Annotated[Principal, Depends(require_roles(Role.AR, Role.ADMIN))]
Triangle = Annotated[Principal, Depends(require_roles(Role.AR, Role.SR, Role.FR, Role.ADMIN))]
Reader = Annotated[Principal, Depends(require_roles(Role.AR, Role.SR, Role.FR, Role.ADMIN, Role.INTEGRATION))]

Named = Annotated[str | None, Query(max_length=300, description="part of the name, any case")]
Owner = Annotated[str | None, Query(max_length=200, description="the owner's user id, exactly")]
CreatedFrom = Annotated[datetime | None, Query(description="created at or after this instant")]
CreatedTo = Annotated[datetime | None, Query(description="created before this instant")]


def _changes(body: Any) -> dict[str, Any]:
    """Only the fields the client sent: an omitted field stays as it is."""
    return {name: getattr(body, name) for name in body.model_fields_set}


def _today() -> date:
    return handlers.clock().date()


# Accounts


def _account_read(account: Account, response: Response, *, created: bool = False) -> AccountRead:
    response.headers["ETag"] = etag(account.version)
    if created:
        response.headers["Location"] = f"/api/v1/accounts/{account.id}"
    return AccountRead.model_validate(account, from_attributes=True)


@router.post("/accounts", status_code=201, response_model=AccountRead, tags=["accounts"],
             summary="Create an account, owned by the caller")
async def create_account(body: AccountCreate, uow: Uow, principal: Seller, response: Response,
                         idempotency_key: IdempotencyKey = None) -> AccountRead:
    command = handlers.CreateAccount(uuid.uuid4(), **body.model_dump())
    return await run(uow, handlers.create_account, command, principal,
                     answer=lambda account: _account_read(account, response, created=True),
                     once=Once(idempotency_key, "POST /accounts", body, command.account_id, repository.get_account))


@router.get("/accounts", response_model=Page[AccountRead], tags=["accounts"],
            summary="Accounts in creation order, by name (exact or a part), tier, industry or owner")
async def list_accounts(
    session: ReadSession, principal: Reader, q: Named = None,
    name: Annotated[str | None, Query(min_length=1, max_length=300,
                                      description="the whole name, any case (`q` finds a part of it)")] = None,
    tier: Annotated[Tier | None, Query(description="the account's tier")] = None,
    industry: Annotated[str | None, Query(max_length=120, description="the industry, exactly")] = None,
    owner: Owner = None, limit: Limit = 50, cursor: Cursor = None,
) -> Page[AccountRead]:
    rows, next_cursor = await queries.accounts(session, q=q, name=name, tier=tier, industry=industry, owner=owner,
                                               limit=limit, cursor=cursor)
    return Page[AccountRead](items=[AccountRead.model_validate(a, from_attributes=True) for a in rows],
                             next_cursor=next_cursor)


@router.get("/accounts/{account_id}", response_model=AccountRead, tags=["accounts"], summary="An account")
async def read_account(account_id: uuid.UUID, session: ReadSession, principal: Reader, response: Response) -> AccountRead:
    return _account_read(await repository.get_account(session, account_id), response)


@router.patch("/accounts/{account_id}", response_model=AccountRead, tags=["accounts"],
              summary="Change an account (owner or admin; If-Match required)")
async def update_account(account_id: uuid.UUID, body: AccountUpdate, uow: Uow, principal: Seller,
                         response: Response, version: ExpectedVersion) -> AccountRead:
    changes = _changes(body)
    if body.billing is not None:
        changes["billing"] = body.billing.model_dump()
    command = handlers.UpdateAccount(account_id, changes, version)
    return await run(uow, handlers.update_account, command, principal,
                     answer=lambda account: _account_read(account, response))


@router.get("/accounts/{account_id}/history", response_model=list[HistoryEntryRead], tags=["accounts"],
            summary="Every audited change to the account, its contacts, leads and activities")
async def account_history(account_id: uuid.UUID, session: ReadSession, principal: Reader) -> list[HistoryEntryRead]:
    await repository.get_account(session, account_id)
    return [HistoryEntryRead.of(e) for e in await queries.history(session, account_id)]


# Contacts


async def _contact_reads(session: AsyncSession, contacts: list[Contact]) -> list[ContactRead]:
    strengths = await queries.relationships(session, contacts, today=_today())
    return [ContactRead.model_validate({**vars(c), "relationship": RelationshipRead.of(strengths[str(c.id)])})
            for c in contacts]


async def _contact_read(session: AsyncSession, contact: Contact, response: Response, *,
                        created: bool = False) -> ContactRead:
    response.headers["ETag"] = etag(contact.version)
    if created:
        response.headers["Location"] = f"/api/v1/contacts/{contact.id}"
    return (await _contact_reads(session, [contact]))[0]


@router.post("/contacts", status_code=201, response_model=ContactRead, tags=["contacts"],
             summary="Add a contact to an account (its owner or an admin)")
async def create_contact(body: ContactCreate, uow: Uow, principal: Seller, response: Response,
                         idempotency_key: IdempotencyKey = None) -> ContactRead:
    command = handlers.CreateContact(uuid.uuid4(), body.account_id, body.model_dump(exclude={"account_id"}))
    return await run(uow, handlers.create_contact, command, principal,
                     answer=lambda contact: _contact_read(uow.session, contact, response, created=True),
                     once=Once(idempotency_key, "POST /contacts", body, command.contact_id, repository.get_contact))


@router.get("/contacts", response_model=Page[ContactRead], tags=["contacts"],
            summary="Contacts in creation order, by account, decision role, name or e-mail address")
async def list_contacts(
    session: ReadSession, principal: Reader,
    account_id: Annotated[uuid.UUID | None, Query(description="the contacts of this account")] = None,
    decision_role: Annotated[DecisionRole | None, Query(description="the contact's part in the decision")] = None,
    q: Named = None,
    email: Annotated[str | None, Query(min_length=1, max_length=320,
                                       description="the whole e-mail address, any case")] = None,
    limit: Limit = 50, cursor: Cursor = None,
) -> Page[ContactRead]:
    rows, next_cursor = await queries.contacts(session, account_id=account_id, decision_role=decision_role, q=q,
                                               email=email, limit=limit, cursor=cursor)
    return Page[ContactRead](items=await _contact_reads(session, rows), next_cursor=next_cursor)


@router.get("/contacts/{contact_id}", response_model=ContactRead, tags=["contacts"],
            summary="A contact with its relationship strength (the trust formula, explained in the response)")
async def read_contact(contact_id: uuid.UUID, session: ReadSession, principal: Reader,
                       response: Response) -> ContactRead:
    return await _contact_read(session, await repository.get_contact(session, contact_id), response)


@router.patch("/contacts/{contact_id}", response_model=ContactRead, tags=["contacts"],
              summary="Change a contact (the account's owner or an admin; If-Match required)")
async def update_contact(contact_id: uuid.UUID, body: ContactUpdate, uow: Uow, principal: Seller,
                         response: Response, version: ExpectedVersion) -> ContactRead:
    command = handlers.UpdateContact(contact_id, _changes(body), version)
    return await run(uow, handlers.update_contact, command, principal,
                     answer=lambda contact: _contact_read(uow.session, contact, response))


# Leads


async def _lead_read(session: AsyncSession, lead: Lead, response: Response, *, created: bool = False,
                     fresh: bool = False) -> LeadRead:
    response.headers["ETag"] = etag(lead.version)
    if created:
        response.headers["Location"] = f"/api/v1/leads/{lead.id}"
    scored = await queries.score_leads(session, [lead], today=_today(), fresh=fresh)
    return LeadRead.of(lead, scored[lead.id].score)


async def _captured_earlier(session: AsyncSession, lead_id: uuid.UUID) -> handlers.Captured:
    """An Idempotency-Key replay answers the lead as any read would: it may have activities by now."""
    return handlers.Captured(await repository.get_lead(session, lead_id), just_now=False)


@router.post("/leads", status_code=201, response_model=LeadRead, tags=["leads"],
             summary="Capture a lead; 409 `duplicate-lead` names open leads of the account that look the same",
             responses={409: {"description": "duplicate-lead: `errors` lists the candidate leads"}})
async def capture_lead(body: LeadCreate, uow: Uow, principal: Seller, response: Response,
                       idempotency_key: IdempotencyKey = None) -> LeadRead:
    problem = body.account_problem()
    if problem:
        raise RequestValidationError([{"loc": ("body", "account_id"), "msg": problem, "type": "value_error"}])
    new_account = handlers.CreateAccount(uuid.uuid4(), **body.account.model_dump()) if body.account else None
    command = handlers.CaptureLead(
        uuid.uuid4(), body.account_id, body.title, body.need, body.channel, body.tier, new_account=new_account,
        owner=body.owner, owner_given="owner" in body.model_fields_set, reported_by=body.reported_by,
        contact_ids=body.contact_ids, confirm_distinct=body.confirm_distinct)
    return await run(uow, handlers.capture_lead, command, principal,
                     answer=lambda captured: _lead_read(uow.session, captured.lead, response, created=True,
                                                        fresh=captured.just_now),
                     once=Once(idempotency_key, "POST /leads", body, command.lead_id, _captured_earlier))


@router.get("/leads/{lead_id}", response_model=LeadRead, tags=["leads"],
            summary="A lead with its grade history, pains, outcome and explained score")
async def read_lead(lead_id: uuid.UUID, session: ReadSession, principal: Reader, response: Response) -> LeadRead:
    return await _lead_read(session, await repository.get_lead(session, lead_id), response)


@router.get("/leads", response_model=Page[LeadRead], tags=["leads"],
            summary="Leads in creation order, by grade, tier, channel, account, owner and creation time")
async def list_leads(
    session: ReadSession, principal: Reader,
    grade: Annotated[Grade | None, Query(description="the lead's grade now")] = None,
    tier: Annotated[Tier | None, Query(description="the lead's tier")] = None,
    channel: Annotated[Channel | None, Query(description="the channel the lead came through")] = None,
    account_id: Annotated[uuid.UUID | None, Query(description="the leads of this account")] = None,
    owner: Owner = None,
    unassigned: Annotated[bool, Query(description="only leads without an owner (not with `owner`)")] = False,
    self_generated: Annotated[bool | None, Query(description="true: channels we made ourselves; false: tenders "
                                                             "and inbound requests")] = None,
    created_from: CreatedFrom = None, created_to: CreatedTo = None,
    limit: Limit = 50, cursor: Cursor = None,
) -> Page[LeadRead]:
    if unassigned and owner is not None:
        raise RequestValidationError([{"loc": ("query", "unassigned"), "type": "value_error",
                                       "msg": "an owned lead is not unassigned: give owner or unassigned=true"}])
    rows, next_cursor = await queries.leads(
        session, grade=grade, tier=tier, channel=channel, account_id=account_id, owner=owner, unassigned=unassigned,
        self_generated=self_generated, created_from=created_from, created_to=created_to, limit=limit, cursor=cursor)
    scored = await queries.score_leads(session, rows, today=_today())
    return Page[LeadRead](items=[LeadRead.of(lead, scored[lead.id].score) for lead in rows], next_cursor=next_cursor)


@router.patch("/leads/{lead_id}", response_model=LeadRead, tags=["leads"],
              summary="Change title, need, tier, owner, informant or contacts (If-Match required)")
async def update_lead(lead_id: uuid.UUID, body: LeadUpdate, uow: Uow, principal: Seller, response: Response,
                      version: ExpectedVersion) -> LeadRead:
    command = handlers.UpdateLead(lead_id, _changes(body), version)
    return await run(uow, handlers.update_lead, command, principal,
                     answer=lambda lead: _lead_read(uow.session, lead, response))


@router.post("/leads/{lead_id}/grade", response_model=LeadRead, tags=["leads"],
             summary="Raise the lead one grade, with the evidence the service checks (If-Match required)",
             description=f"`credible` needs, for each lead criterion ({', '.join(c.value for c in Criterion)}), "
                         "evidence from someone other than us and the lead's informant; "
                         "`opportunity` needs a positive budget and a start date. A 422 names every unmet criterion.")
async def grade_lead(lead_id: uuid.UUID, body: GradeRequest, uow: Uow, principal: Seller, response: Response,
                     version: ExpectedVersion, idempotency_key: IdempotencyKey = None) -> LeadRead:
    command = handlers.GradeLead(lead_id, body.to, [Evidence(e.criterion, e.source, e.who, e.when, e.contact_id)
                                                    for e in body.evidence],
                                 body.budget.to_money() if body.budget else None, body.start_date, version)
    return await run(uow, handlers.grade_lead, command, principal,
                     answer=lambda lead: _lead_read(uow.session, lead, response),
                     once=Once(idempotency_key, f"POST /leads/{lead_id}/grade", body, lead_id, repository.get_lead))


@router.post("/leads/{lead_id}/convert", response_model=LeadRead, tags=["leads"],
             summary="Hand an opportunity-grade lead over to the opportunities stage (`lead.converted`; "
                     "If-Match required)")
async def convert_lead(lead_id: uuid.UUID, uow: Uow, principal: Seller, response: Response,
                       version: ExpectedVersion, idempotency_key: IdempotencyKey = None) -> LeadRead:
    command = handlers.ConvertLead(lead_id, version)
    return await run(uow, handlers.convert_lead, command, principal,
                     answer=lambda lead: _lead_read(uow.session, lead, response),
                     once=Once(idempotency_key, f"POST /leads/{lead_id}/convert", NoBody(), lead_id,
                               repository.get_lead))


@router.post("/leads/{lead_id}/disqualify", response_model=LeadRead, tags=["leads"],
             summary="Close an open lead as not worth pursuing, with the reason (`lead.disqualified`; "
                     "If-Match required)")
async def disqualify_lead(lead_id: uuid.UUID, body: DisqualifyRequest, uow: Uow, principal: Seller,
                          response: Response, version: ExpectedVersion,
                          idempotency_key: IdempotencyKey = None) -> LeadRead:
    command = handlers.DisqualifyLead(lead_id, body.reason, version)
    return await run(uow, handlers.disqualify_lead, command, principal,
                     answer=lambda lead: _lead_read(uow.session, lead, response),
                     once=Once(idempotency_key, f"POST /leads/{lead_id}/disqualify", body, lead_id,
                               repository.get_lead))


@router.post("/leads/{lead_id}/pains", status_code=201, response_model=LeadRead, tags=["leads"],
             summary="Record a customer pain point (discovered) on the lead (If-Match required)")
async def add_pain(lead_id: uuid.UUID, body: PainCreate, uow: Uow, principal: Seller, response: Response,
                   version: ExpectedVersion, idempotency_key: IdempotencyKey = None) -> LeadRead:
    command = handlers.AddPain(uuid.uuid4(), lead_id, body.description, body.contact_id, version)
    # The key remembers the new pain point; a replay answers the lead that holds it.
    return await run(uow, handlers.add_pain, command, principal,
                     answer=lambda lead: _lead_read(uow.session, lead, response, created=True),
                     once=Once(idempotency_key, f"POST /leads/{lead_id}/pains", body, command.pain_id,
                               lambda session, _pain_id: repository.get_lead(session, lead_id)))


@router.post("/leads/{lead_id}/pains/{pain_id}/advance", response_model=LeadRead, tags=["leads"],
             summary="Move a pain point discovered → acknowledged → value_agreed, one step at a time "
                     "(If-Match required)")
async def advance_pain(lead_id: uuid.UUID, pain_id: uuid.UUID, body: PainAdvance, uow: Uow, principal: Seller,
                       response: Response, version: ExpectedVersion,
                       idempotency_key: IdempotencyKey = None) -> LeadRead:
    command = handlers.AdvancePain(lead_id, pain_id, PainStatus(body.to), body.note, version)
    return await run(uow, handlers.advance_pain, command, principal,
                     answer=lambda lead: _lead_read(uow.session, lead, response),
                     once=Once(idempotency_key, f"POST /leads/{lead_id}/pains/{pain_id}/advance", body, lead_id,
                               repository.get_lead))


@router.get("/leads/{lead_id}/history", response_model=list[HistoryEntryRead], tags=["leads"],
            summary="Who changed what and when: capture, edits, grades, pains, activities, outcome")
async def lead_history(lead_id: uuid.UUID, session: ReadSession, principal: Reader) -> list[HistoryEntryRead]:
    await repository.get_lead(session, lead_id)
    return [HistoryEntryRead.of(e) for e in await queries.history(session, lead_id)]


# Activities


def _activity_read(activity: Activity, response: Response | None = None, *, created: bool = False) -> ActivityRead:
    if response is not None:
        response.headers["ETag"] = etag(activity.version)
        if created:
            response.headers["Location"] = f"/api/v1/activities/{activity.id}"
    return ActivityRead.model_validate(activity, from_attributes=True)


@router.post("/activities", status_code=201, response_model=ActivityRead, tags=["activities"],
             summary="Plan a visit or another connection-keeping activity (AR, SR, FR)")
async def create_activity(body: ActivityCreate, uow: Uow, principal: Triangle, response: Response,
                          idempotency_key: IdempotencyKey = None) -> ActivityRead:
    command = handlers.CreateActivity(uuid.uuid4(), body.kind, body.account_id, body.lead_id, body.contact_ids,
                                      body.subject, body.planned_on,
                                      body.plan.model_dump(mode="json") if body.plan else None)
    return await run(uow, handlers.create_activity, command, principal,
                     answer=lambda activity: _activity_read(activity, response, created=True),
                     once=Once(idempotency_key, "POST /activities", body, command.activity_id,
                               repository.get_activity))


@router.get("/activities", response_model=Page[ActivityRead], tags=["activities"],
            summary="Activities in creation order, by account, lead, contact met, kind or status")
async def list_activities(
    session: ReadSession, principal: Reader,
    account_id: Annotated[uuid.UUID | None, Query(description="the activities with this account")] = None,
    lead_id: Annotated[uuid.UUID | None, Query(description="the activities on this lead")] = None,
    contact_id: Annotated[uuid.UUID | None, Query(description="the activities that met this contact")] = None,
    kind: Annotated[ActivityKind | None, Query(description="the kind of activity")] = None,
    status: Annotated[ActivityStatus | None, Query(description="planned, done or cancelled")] = None,
    limit: Limit = 50, cursor: Cursor = None,
) -> Page[ActivityRead]:
    rows, next_cursor = await queries.activities(session, account_id=account_id, lead_id=lead_id,
                                                 contact_id=contact_id, kind=kind, status=status, limit=limit,
                                                 cursor=cursor)
    return Page[ActivityRead](items=[_activity_read(a) for a in rows], next_cursor=next_cursor)


@router.get("/activities/{activity_id}", response_model=ActivityRead, tags=["activities"],
            summary="An activity with its plan and, once done, its outcome")
async def read_activity(activity_id: uuid.UUID, session: ReadSession, principal: Reader,
                        response: Response) -> ActivityRead:
    return _activity_read(await repository.get_activity(session, activity_id), response)


@router.patch("/activities/{activity_id}", response_model=ActivityRead, tags=["activities"],
              summary="Change the plan of a planned activity (its author or an admin; If-Match required)")
async def update_activity(activity_id: uuid.UUID, body: ActivityUpdate, uow: Uow, principal: Triangle,
                          response: Response, version: ExpectedVersion) -> ActivityRead:
    changes = _changes(body)
    if body.plan is not None:
        changes["plan"] = body.plan.model_dump(mode="json")
    command = handlers.ReplanActivity(activity_id, changes, version)
    return await run(uow, handlers.replan_activity, command, principal,
                     answer=lambda activity: _activity_read(activity, response))


@router.post("/activities/{activity_id}/outcome", response_model=ActivityRead, tags=["activities"],
             summary="After the activity: SPIN notes, commitments obtained, next step (If-Match required)")
async def record_outcome(activity_id: uuid.UUID, body: OutcomeRequest, uow: Uow, principal: Triangle,
                         response: Response, version: ExpectedVersion,
                         idempotency_key: IdempotencyKey = None) -> ActivityRead:
    command = handlers.RecordOutcome(activity_id, body.model_dump(mode="json", exclude={"occurred_on"}),
                                     body.occurred_on, body.next_step_on, version)
    return await run(uow, handlers.record_outcome, command, principal,
                     answer=lambda activity: _activity_read(activity, response),
                     once=Once(idempotency_key, f"POST /activities/{activity_id}/outcome", body, activity_id,
                               repository.get_activity))


@router.post("/activities/{activity_id}/cancel", response_model=ActivityRead, tags=["activities"],
             summary="Cancel a planned activity (its author or an admin; If-Match required)")
async def cancel_activity(activity_id: uuid.UUID, uow: Uow, principal: Triangle, response: Response,
                          version: ExpectedVersion, idempotency_key: IdempotencyKey = None) -> ActivityRead:
    command = handlers.CancelActivity(activity_id, version)
    return await run(uow, handlers.cancel_activity, command, principal,
                     answer=lambda activity: _activity_read(activity, response),
                     once=Once(idempotency_key, f"POST /activities/{activity_id}/cancel", NoBody(), activity_id,
                               repository.get_activity))


# Report


@router.get("/reports/lead-to-cash", response_model=LeadToCashReport, tags=["reports"],
            summary="Per channel and tier: leads, how far they got, won, cash collected, median lead-to-cash days")
async def lead_to_cash_report(
    session: ReadSession, principal: Reader, created_from: CreatedFrom = None, created_to: CreatedTo = None,
) -> LeadToCashReport:
    rows, total = await queries.lead_to_cash_report(session, created_from=created_from, created_to=created_to)
    return LeadToCashReport(rows=[ChannelTierRead.model_validate({**vars(row), "cash_amounts": [
        MoneyPayload.of(m) for m in row.cash_amounts]}) for row in rows], total_leads=total)
