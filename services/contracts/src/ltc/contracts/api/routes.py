"""Routes only translate HTTP into commands and read models; the rules live in the domain."""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable
from datetime import date, timedelta
from typing import Annotated

from fastapi import APIRouter, Depends, Path, Query, Response
from pydantic import BaseModel
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from ltc.contracts import handlers
from ltc.contracts.adapters import repository
from ltc.contracts.api.schemas import (
    AcceptMilestoneRequest,
    AmendmentCreate,
    AmendmentRead,
    ApprovalDecisionCreate,
    AuditEntryRead,
    ContractCreate,
    ContractPolicyPayload,
    ContractPolicyVersionRead,
    ContractRead,
    ContractUpdate,
    DecisionCreate,
    DeliverMilestoneRequest,
    HealthRead,
    LateMilestoneRead,
    MilestoneRead,
    ReviewCreate,
    ReviewHistoryRead,
    ReviewRead,
    ReviewRecordRead,
    SignRequest,
    StartMilestoneRequest,
    VersionRead,
)
from ltc.contracts.domain.model import Contract, ContractStatus, Health
from ltc.contracts.domain.policy import ContractPolicy
from ltc.contracts.domain.review import CHECKLIST
from ltc.shared.api import (
    Cursor,
    IdempotencyKey,
    IfMatch,
    Limit,
    Page,
    act_idempotently,
    create_idempotently,
    etag,
    paginate,
)
from ltc.shared.auth import Principal, Role, require_roles
from ltc.shared.db import UnitOfWork, current
from ltc.shared.errors import NotFound
from ltc.shared.service import ReadSession, Uow

router = APIRouter(tags=["contracts"])

Reader = Annotated[Principal, Depends(require_roles(Role.AR, *handlers.READ_ALL_ROLES))]
SalesOwner = Annotated[Principal, Depends(require_roles(Role.AR, Role.ADMIN))]
Drafter = Annotated[Principal, Depends(require_roles(Role.AR))]
Reviewer = Annotated[Principal, Depends(require_roles(*handlers.REVIEWER_ROLES.values()))]
Runner = Annotated[Principal, Depends(require_roles(Role.FR, Role.ADMIN))]
Approver = Annotated[Principal, Depends(require_roles(*handlers.APPROVER_ROLES))]
Admin = Annotated[Principal, Depends(require_roles(Role.ADMIN))]
AsOf = Annotated[date | None, Query(description="the date to judge lateness on (default: today)")]


async def _visible(session: AsyncSession, principal: Principal, contract_id: uuid.UUID) -> Contract:
    contract = await repository.get_contract(session, contract_id)
    if not handlers.may_see(principal, contract.owner):
        raise NotFound("contract", contract_id)
    return contract


async def _read(session: AsyncSession, contract: Contract, response: Response) -> ContractRead:
    policy, _ = await repository.get_policy(session)
    response.headers["ETag"] = etag(contract.version)
    return ContractRead.of(contract, policy, handlers.today())


async def _changed(uow: UnitOfWork, contract_id: uuid.UUID) -> Contract:
    """The contract as the command in this unit of work left it (no second transaction to re-read it)."""
    contract = await current(uow.session, Contract, contract_id)
    if contract is None:
        raise NotFound("contract", contract_id)
    return contract


async def _act(uow: UnitOfWork, principal: Principal, key: str | None, endpoint: str, body: BaseModel,
               contract_id: uuid.UUID, act: Callable[[], Awaitable[None]], response: Response) -> ContractRead:
    """A step of the contract, once per Idempotency-Key (a retry after a lost answer gets the answer,
    not a 409 or a second record), answered from the unit of work that took it."""
    async def answer() -> ContractRead:
        return await _read(uow.session, await _changed(uow, contract_id), response)

    return await act_idempotently(uow, principal.sub, key, endpoint, body, contract_id, act, then=answer)


async def _reread(uow: UnitOfWork, contract_id: uuid.UUID, response: Response) -> ContractRead:
    async with uow:
        contract = await repository.get_contract(uow.session, contract_id)
        return await _read(uow.session, contract, response)


# --- drafts ---------------------------------------------------------------------------------


@router.post("/contracts", response_model=ContractRead, status_code=201,
             summary="Draft a direct contract (no opportunity, e.g. a renewal); the caller owns it, and it needs "
                     "its own approval before signing")
async def create_contract(body: ContractCreate, uow: Uow, principal: Drafter, response: Response,
                          idempotency_key: IdempotencyKey = None) -> ContractRead:
    cmd = handlers.CreateDraft(
        opportunity_id=body.opportunity_id, lead_id=body.lead_id, account_id=body.account_id,
        account_name=body.account_name, title=body.title, fr_owner=body.fr_owner, value=body.value.to_money(),
        line_items=[i.to_domain() for i in body.line_items], payment_terms=[t.to_domain() for t in body.payment_terms],
        milestones=[m.to_domain() for m in body.milestones], legal_terms=body.legal_terms.to_domain())
    contract_id = await create_idempotently(
        uow, principal=principal.sub, key=idempotency_key, endpoint="POST /contracts", body=body,
        create=lambda new_id: handlers.create_draft(uow, cmd, principal, new_id))
    response.headers["Location"] = f"/api/v1/contracts/{contract_id}"
    return await _reread(uow, contract_id, response)


@router.get("/contracts/{contract_id}", response_model=ContractRead)
async def read_contract(contract_id: uuid.UUID, session: ReadSession, principal: Reader,
                        response: Response) -> ContractRead:
    return await _read(session, await _visible(session, principal, contract_id), response)


@router.get("/contracts", response_model=Page[ContractRead])
async def list_contracts(session: ReadSession, principal: Reader, opportunity_id: uuid.UUID | None = None,
                         status: ContractStatus | None = None, account_id: uuid.UUID | None = None,
                         owner: str | None = None,
                         fr_owner: Annotated[str | None, Query(description="the contract's FR or a milestone's")] = None,
                         health: Health | None = None, as_of: AsOf = None, limit: Limit = 50,
                         cursor: Cursor = None) -> Page[ContractRead]:
    policy, _ = await repository.get_policy(session)
    as_of = as_of or handlers.today()
    stmt = select(Contract)
    if not principal.has_any(*handlers.READ_ALL_ROLES):
        stmt = stmt.where(Contract.owner == principal.sub)
    for column, wanted in ((Contract.opportunity_id, opportunity_id), (Contract.status, status),
                           (Contract.account_id, account_id), (Contract.owner, owner)):
        if wanted is not None:
            stmt = stmt.where(column == wanted)
    if fr_owner is not None:
        stmt = repository.filter_by_fr(stmt, fr_owner)
    if health is not None:
        stmt = repository.filter_by_health(stmt, health, as_of, as_of + timedelta(days=policy.at_risk_days))
    rows, next_cursor = await paginate(session, stmt, created_at=Contract.created_at, ident=Contract.id,
                                       limit=limit, cursor=cursor)
    return Page[ContractRead](items=[ContractRead.of(c, policy, as_of) for c in rows], next_cursor=next_cursor)


@router.patch("/contracts/{contract_id}", response_model=ContractRead,
              summary="Edit a draft (a new version: the quality review starts again) or change the FR")
async def update_contract(contract_id: uuid.UUID, body: ContractUpdate, uow: Uow, principal: SalesOwner,
                          response: Response, if_match: IfMatch = None) -> ContractRead:
    terms = handlers.Terms(**body.terms())
    async with uow:
        await handlers.edit_draft(uow, handlers.EditDraft(
            contract_id=contract_id, if_match=if_match, fields=set(body.model_fields_set), title=body.title,
            account_name=body.account_name, fr_owner=body.fr_owner, terms=terms), principal)
    return await _reread(uow, contract_id, response)


# --- quality review and signing --------------------------------------------------------------


@router.get("/contracts/{contract_id}/reviews", response_model=ReviewHistoryRead,
            summary="The review of the current version, the checklists, and every verdict ever recorded")
async def read_reviews(contract_id: uuid.UUID, session: ReadSession, principal: Reader) -> ReviewHistoryRead:
    contract = await _visible(session, principal, contract_id)
    policy, _ = await repository.get_policy(session)
    return ReviewHistoryRead(**ReviewRead.of(contract, policy).model_dump(),
                             checklist={f: list(items) for f, items in CHECKLIST.items()},
                             history=[ReviewRecordRead.model_validate(r) for r in contract.reviews])


@router.post("/contracts/{contract_id}/reviews", response_model=ReviewRead,
             summary="Record a function's verdict, item by item, on the draft's current version")
async def record_review(contract_id: uuid.UUID, body: ReviewCreate, uow: Uow, principal: Reviewer,
                        idempotency_key: IdempotencyKey = None) -> ReviewRead:
    async def answer() -> ReviewRead:
        policy, _ = await repository.get_policy(uow.session)
        return ReviewRead.of(await _changed(uow, contract_id), policy)

    return await act_idempotently(
        uow, principal.sub, idempotency_key, f"POST /contracts/{contract_id}/reviews", body, contract_id,
        lambda: handlers.record_review(uow, handlers.RecordReview(
            contract_id, body.function, [i.to_domain() for i in body.items], body.comment, body.contract_version),
            principal),
        then=answer)


@router.post("/contracts/{contract_id}/sign", response_model=ContractRead,
             summary="Record the signing of a reviewed draft; publishes its payment schedule")
async def sign_contract(contract_id: uuid.UUID, body: SignRequest, uow: Uow, principal: SalesOwner,
                        response: Response, if_match: IfMatch = None,
                        idempotency_key: IdempotencyKey = None) -> ContractRead:
    return await _act(uow, principal, idempotency_key, f"POST /contracts/{contract_id}/sign", body, contract_id,
                      lambda: handlers.sign_contract(
                          uow, handlers.SignContract(contract_id, body.signatories, body.signed_on, if_match),
                          principal), response)


@router.post("/contracts/{contract_id}/approval/decisions", response_model=ContractRead,
             summary="Approve, reject or escalate the draft's current terms: the tier their value is routed to (or "
                     "a higher one) decides, never one of their authors")
async def decide_approval(contract_id: uuid.UUID, body: ApprovalDecisionCreate, uow: Uow, principal: Approver,
                          response: Response, idempotency_key: IdempotencyKey = None) -> ContractRead:
    return await _act(uow, principal, idempotency_key, f"POST /contracts/{contract_id}/approval/decisions", body,
                      contract_id, lambda: handlers.decide_approval(uow, handlers.DecideApproval(
                          contract_id, body.outcome, body.comment, body.contract_version), principal), response)


# --- execution and monitoring -----------------------------------------------------------------


async def _milestone_step(uow: UnitOfWork, step: handlers.MilestoneStep, principal: Principal, response: Response,
                          key: str | None, body: BaseModel) -> ContractRead:
    endpoint = f"POST /contracts/{step.contract_id}/milestones/{step.milestone_id}/{step.step}"
    return await _act(uow, principal, key, endpoint, body, step.contract_id,
                      lambda: handlers.record_milestone_step(uow, step, principal), response)


@router.post("/contracts/{contract_id}/milestones/{milestone_id}/start", response_model=ContractRead,
             summary="Record that work on a milestone started")
async def start_milestone(contract_id: uuid.UUID, milestone_id: uuid.UUID, body: StartMilestoneRequest, uow: Uow,
                          principal: Runner, response: Response, if_match: IfMatch = None,
                          idempotency_key: IdempotencyKey = None) -> ContractRead:
    return await _milestone_step(uow, handlers.MilestoneStep(contract_id, milestone_id, "started", body.started_on,
                                                             if_match), principal, response, idempotency_key, body)


@router.post("/contracts/{contract_id}/milestones/{milestone_id}/deliver", response_model=ContractRead,
             summary="Record the delivery of a milestone, before the customer's acceptance")
async def deliver_milestone(contract_id: uuid.UUID, milestone_id: uuid.UUID, body: DeliverMilestoneRequest,
                            uow: Uow, principal: Runner, response: Response,
                            if_match: IfMatch = None, idempotency_key: IdempotencyKey = None) -> ContractRead:
    return await _milestone_step(uow, handlers.MilestoneStep(contract_id, milestone_id, "delivered",
                                                             body.delivered_on, if_match), principal, response,
                                 idempotency_key, body)


@router.post("/contracts/{contract_id}/milestones/{milestone_id}/accept", response_model=ContractRead,
             summary="Record the customer's acceptance of a delivery milestone, with its certificate")
async def accept_milestone(contract_id: uuid.UUID, milestone_id: uuid.UUID, body: AcceptMilestoneRequest,
                           uow: Uow, principal: Runner, response: Response,
                           if_match: IfMatch = None, idempotency_key: IdempotencyKey = None) -> ContractRead:
    return await _milestone_step(uow, handlers.MilestoneStep(contract_id, milestone_id, "accepted", body.accepted_on,
                                                             if_match, body.certificate_ref, body.acceptance_type),
                                 principal, response, idempotency_key, body)


@router.get("/contracts/{contract_id}/health", response_model=HealthRead,
            summary="Performance of a contract in execution: on track, at risk or late, and why")
async def contract_health(contract_id: uuid.UUID, session: ReadSession, principal: Reader,
                          as_of: AsOf = None) -> HealthRead:
    contract = await _visible(session, principal, contract_id)
    policy, _ = await repository.get_policy(session)
    as_of = as_of or handlers.today()
    return HealthRead(
        contract_id=contract.id, as_of=as_of, status=contract.status,
        health=contract.health(as_of, policy.at_risk_days), at_risk_days=policy.at_risk_days,
        late=[MilestoneRead.of(m, as_of) for m in contract.late_milestones(as_of)],
        at_risk=[MilestoneRead.of(m, as_of) for m in contract.at_risk_milestones(as_of, policy.at_risk_days)])


@router.get("/milestones/late", response_model=list[LateMilestoneRead],
            summary="Milestones past their planned date without acceptance, on contracts in execution")
async def late_milestones(session: ReadSession, principal: Reader, as_of: AsOf = None,
                          fr_owner: str | None = None, account_id: uuid.UUID | None = None,
                          limit: Limit = 200) -> list[LateMilestoneRead]:
    as_of = as_of or handlers.today()
    stmt = select(Contract).where(Contract.status == ContractStatus.ACTIVE, repository.late_condition(as_of))
    if not principal.has_any(*handlers.READ_ALL_ROLES):
        stmt = stmt.where(Contract.owner == principal.sub)
    if account_id is not None:
        stmt = stmt.where(Contract.account_id == account_id)
    late = []
    for contract in (await session.execute(stmt.order_by(Contract.created_at, Contract.id))).scalars():
        for milestone in contract.late_milestones(as_of):
            runner = milestone.owner or contract.fr_owner
            if fr_owner is None or runner == fr_owner:
                late.append(LateMilestoneRead(
                    **MilestoneRead.of(milestone, as_of).model_dump(), contract_id=contract.id,
                    contract_title=contract.title, account_name=contract.account_name,
                    days_late=(as_of - milestone.planned_date).days))
    late.sort(key=lambda m: (-m.days_late, str(m.contract_id)))
    return late[:limit]


# --- amendments, versions, audit ------------------------------------------------------------


@router.post("/contracts/{contract_id}/amendments", response_model=AmendmentRead, status_code=201,
             summary="Request an amendment; it is routed to the decision tier (ATAC) by value change and risk")
async def request_amendment(contract_id: uuid.UUID, body: AmendmentCreate, uow: Uow, principal: SalesOwner,
                            response: Response, idempotency_key: IdempotencyKey = None) -> AmendmentRead:
    cmd = handlers.RequestAmendment(contract_id, body.reason, body.risk, body.title, handlers.Terms(**body.terms()))
    amendment_id = await create_idempotently(
        uow, principal=principal.sub, key=idempotency_key, endpoint=f"POST /contracts/{contract_id}/amendments",
        body=body, create=lambda new_id: handlers.request_amendment(uow, cmd, principal, new_id))
    response.headers["Location"] = f"/api/v1/contracts/{contract_id}/amendments/{amendment_id}"
    async with uow:
        contract = await repository.get_contract(uow.session, contract_id)
    return AmendmentRead.of(contract_id, contract.amendment(amendment_id))


@router.get("/contracts/{contract_id}/amendments", response_model=list[AmendmentRead])
async def list_amendments(contract_id: uuid.UUID, session: ReadSession, principal: Reader) -> list[AmendmentRead]:
    contract = await _visible(session, principal, contract_id)
    return [AmendmentRead.of(contract_id, a) for a in contract.amendments]


@router.get("/contracts/{contract_id}/amendments/{amendment_id}", response_model=AmendmentRead)
async def read_amendment(contract_id: uuid.UUID, amendment_id: uuid.UUID, session: ReadSession,
                         principal: Reader) -> AmendmentRead:
    contract = await _visible(session, principal, contract_id)
    return AmendmentRead.of(contract_id, contract.amendment(amendment_id))


@router.post("/contracts/{contract_id}/amendments/{amendment_id}/decisions", response_model=AmendmentRead,
             summary="Approve (applies it as a new version), reject or escalate an amendment")
async def decide_amendment(contract_id: uuid.UUID, amendment_id: uuid.UUID, body: DecisionCreate, uow: Uow,
                           principal: Approver) -> AmendmentRead:
    async with uow:
        decided = await handlers.decide_amendment(
            uow, handlers.DecideAmendment(contract_id, amendment_id, body.outcome, body.comment), principal)
    return AmendmentRead.of(contract_id, decided)


@router.post("/contracts/{contract_id}/amendments/{amendment_id}/withdraw", response_model=AmendmentRead)
async def withdraw_amendment(contract_id: uuid.UUID, amendment_id: uuid.UUID, uow: Uow,
                             principal: SalesOwner) -> AmendmentRead:
    async with uow:
        await handlers.withdraw_amendment(uow, contract_id, amendment_id, principal)
    async with uow:
        contract = await repository.get_contract(uow.session, contract_id)
    return AmendmentRead.of(contract_id, contract.amendment(amendment_id))


@router.get("/contracts/{contract_id}/versions", response_model=list[VersionRead],
            summary="Every version of the contract's terms, oldest first")
async def list_versions(contract_id: uuid.UUID, session: ReadSession, principal: Reader) -> list[VersionRead]:
    await _visible(session, principal, contract_id)
    return [VersionRead.of(row) for row in await repository.list_versions(session, contract_id)]


@router.get("/contracts/{contract_id}/versions/{contract_version}", response_model=VersionRead)
async def read_version(contract_id: uuid.UUID, contract_version: Annotated[int, Path(ge=1, le=2**31 - 1)],
                       session: ReadSession,
                       principal: Reader) -> VersionRead:
    await _visible(session, principal, contract_id)
    return VersionRead.of(await repository.get_version(session, contract_id, contract_version))


@router.get("/contracts/{contract_id}/audit", response_model=list[AuditEntryRead],
            summary="Who did what to the contract, and when")
async def audit_trail(contract_id: uuid.UUID, session: ReadSession, principal: Reader) -> list[AuditEntryRead]:
    await _visible(session, principal, contract_id)
    return [AuditEntryRead.model_validate(row) for row in await repository.audit_trail(session, contract_id)]


# --- configuration --------------------------------------------------------------------------


@router.get("/contract-policy", response_model=ContractPolicyPayload, tags=["configuration"],
            summary="Review functions per value tier, decision-tier authority for amendments, at-risk window")
async def read_policy(session: ReadSession, principal: Reader, response: Response) -> ContractPolicyPayload:
    policy, version = await repository.get_policy(session)
    response.headers["ETag"] = etag(version)
    return ContractPolicyPayload.of(policy)


@router.put("/contract-policy", response_model=ContractPolicyPayload, tags=["configuration"])
async def update_policy(body: ContractPolicyPayload, uow: Uow, principal: Admin, response: Response,
                        if_match: IfMatch = None) -> ContractPolicyPayload:
    async with uow:
        await handlers.update_policy(uow, body.to_domain(), if_match, principal)
    async with uow:
        policy, version = await repository.get_policy(uow.session)
    response.headers["ETag"] = etag(version)
    return ContractPolicyPayload.of(policy)


@router.get("/contract-policy/history", response_model=list[ContractPolicyVersionRead], tags=["configuration"],
            summary="Every configured version of the policy: who set what, when")
async def policy_history(session: ReadSession, principal: Admin) -> list[ContractPolicyVersionRead]:
    return [ContractPolicyVersionRead(version=row.version, updated_by=row.updated_by, updated_at=row.updated_at,
                                      policy=ContractPolicyPayload.of(ContractPolicy.from_json(row.document)))
            for row in await repository.policy_history(session)]
