"""Routes only translate HTTP into commands and read models; the rules live in the domain."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Depends, Query, Response
from ltc.leads import handlers
from ltc.leads.adapters import repository
from ltc.leads.api.schemas import (
    AccountCreate,
    AccountRead,
    DisqualifyRequest,
    GradeRequest,
    LeadCreate,
    LeadRead,
)
from ltc.leads.domain.model import Account, Channel, Evidence, Grade, Lead, Tier
from ltc.shared.api import (
    Cursor,
    IdempotencyKey,
    IfMatch,
    Limit,
    Page,
    create_idempotently,
    etag,
    paginate,
)
from ltc.shared.auth import Principal, Role, require_roles
from ltc.shared.db import UnitOfWork
from ltc.shared.errors import NotFound
from ltc.shared.service import ReadSession, Uow
from sqlalchemy import select

router = APIRouter()

Seller = Annotated[Principal, Depends(require_roles(Role.AR, Role.ADMIN))]
Reader = Annotated[Principal, Depends(require_roles(Role.AR, Role.ADMIN, Role.INTEGRATION))]


def _account(account: Account, response: Response) -> AccountRead:
    response.headers["ETag"] = etag(account.version)
    return AccountRead.model_validate(account, from_attributes=True)


def _lead(lead: Lead, response: Response) -> LeadRead:
    response.headers["ETag"] = etag(lead.version)
    return LeadRead.of(lead)


@router.post("/accounts", status_code=201, response_model=AccountRead, tags=["accounts"])
async def create_account(body: AccountCreate, uow: Uow, principal: Seller, response: Response,
                         idempotency_key: IdempotencyKey = None) -> AccountRead:
    account_id = await create_idempotently(
        uow, principal=principal.sub, key=idempotency_key, endpoint="POST /accounts", body=body,
        create=lambda new_id: handlers.create_account(uow, handlers.CreateAccount(new_id, body.name, body.industry),
                                                      principal),
    )
    async with uow:
        account = await repository.get_account(uow.session, account_id)
    response.headers["Location"] = f"/api/v1/accounts/{account_id}"
    return _account(account, response)


@router.get("/accounts/{account_id}", response_model=AccountRead, tags=["accounts"])
async def read_account(account_id: uuid.UUID, session: ReadSession, principal: Reader, response: Response) -> AccountRead:
    account = await repository.get_account(session, account_id)
    if not handlers.may_see(principal, account.owner):
        raise NotFound("account", account_id)
    return _account(account, response)


@router.post("/leads", status_code=201, response_model=LeadRead, tags=["leads"])
async def capture_lead(body: LeadCreate, uow: Uow, principal: Seller, response: Response,
                       idempotency_key: IdempotencyKey = None) -> LeadRead:
    lead_id = await create_idempotently(
        uow, principal=principal.sub, key=idempotency_key, endpoint="POST /leads", body=body,
        create=lambda new_id: handlers.capture_lead(
            uow, handlers.CaptureLead(new_id, body.account_id, body.title, body.need, body.channel, body.tier), principal),
    )
    return await _reread(uow, principal, lead_id, response, created=True)


async def _reread(uow: UnitOfWork, principal: Principal, lead_id: uuid.UUID, response: Response, *, created: bool = False) -> LeadRead:
    async with uow:
        lead = await repository.get_lead(uow.session, lead_id)
    if created:
        response.headers["Location"] = f"/api/v1/leads/{lead_id}"
    return _lead(lead, response)


@router.get("/leads/{lead_id}", response_model=LeadRead, tags=["leads"])
async def read_lead(lead_id: uuid.UUID, session: ReadSession, principal: Reader, response: Response) -> LeadRead:
    lead = await repository.get_lead(session, lead_id)
    if not handlers.may_see(principal, lead.owner):
        raise NotFound("lead", lead_id)
    return _lead(lead, response)


@router.get("/leads", response_model=Page[LeadRead], tags=["leads"])
async def list_leads(
    session: ReadSession, principal: Reader,
    grade: Grade | None = None, tier: Tier | None = None, channel: Channel | None = None,
    account_id: uuid.UUID | None = None, owner: str | None = None,
    created_from: Annotated[datetime | None, Query()] = None, created_to: Annotated[datetime | None, Query()] = None,
    limit: Limit = 50, cursor: Cursor = None,
) -> Page[LeadRead]:
    stmt = select(Lead)
    if not principal.has_any(Role.ADMIN, Role.INTEGRATION):
        stmt = stmt.where(Lead.owner == principal.sub)
    for column, value in ((Lead.grade, grade), (Lead.tier, tier), (Lead.channel, channel),
                          (Lead.account_id, account_id), (Lead.owner, owner)):
        if value is not None:
            stmt = stmt.where(column == value)
    if created_from is not None:
        stmt = stmt.where(Lead.created_at >= created_from)
    if created_to is not None:
        stmt = stmt.where(Lead.created_at < created_to)
    rows, next_cursor = await paginate(session, stmt, created_at=Lead.created_at, ident=Lead.id,
                                       limit=limit, cursor=cursor)
    return Page[LeadRead](items=[LeadRead.of(lead) for lead in rows], next_cursor=next_cursor)


@router.post("/leads/{lead_id}/grade", response_model=LeadRead, tags=["leads"],
             summary="Raise the lead one grade, with the evidence the service checks")
async def grade_lead(lead_id: uuid.UUID, body: GradeRequest, uow: Uow, principal: Seller, response: Response,
                     if_match: IfMatch = None) -> LeadRead:
    evidence = [Evidence(e.criterion, e.source, e.who, e.when) for e in body.evidence]
    budget = body.budget.to_money() if body.budget else None
    async with uow:
        await handlers.grade_lead(uow, handlers.GradeLead(lead_id, body.to, evidence, budget, body.start_date, if_match),
                                  principal)
    return await _reread(uow, principal, lead_id, response)


@router.post("/leads/{lead_id}/convert", response_model=LeadRead, tags=["leads"],
             summary="Hand an opportunity-grade lead over to the opportunities stage")
async def convert_lead(lead_id: uuid.UUID, uow: Uow, principal: Seller, response: Response,
                       if_match: IfMatch = None) -> LeadRead:
    async with uow:
        await handlers.convert_lead(uow, lead_id, if_match, principal)
    return await _reread(uow, principal, lead_id, response)


@router.post("/leads/{lead_id}/disqualify", response_model=LeadRead, tags=["leads"])
async def disqualify_lead(lead_id: uuid.UUID, body: DisqualifyRequest, uow: Uow, principal: Seller,
                          response: Response, if_match: IfMatch = None) -> LeadRead:
    async with uow:
        await handlers.disqualify_lead(uow, lead_id, body.reason, if_match, principal)
    return await _reread(uow, principal, lead_id, response)
