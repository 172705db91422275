"""Routes only translate HTTP into commands and read models; the rules live in the domain.

Every change runs through `ltc.shared.api.run`: the handler changes and commits, and the route
answers from what it returned in the same unit of work. The endpoint strings of the Idempotency-Key
records are those the service always used, so a key sent before still replays.
"""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable
from datetime import date
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Query, Response
from pydantic import BaseModel
from sqlalchemy.ext.asyncio import AsyncSession

from ltc.contracts import handlers
from ltc.contracts.adapters import queries, repository
from ltc.contracts.api.schemas import (
    AcceptMilestoneRequest,
    AmendmentCreate,
    AmendmentRead,
    ApprovalDecisionCreate,
    AuditEntryRead,
    ContractCreate,
    ContractPolicyPayload,
    ContractPolicyRead,
    ContractPolicyVersionRead,
    ContractRead,
    ContractReviewRead,
    ContractUpdate,
    DecisionCreate,
    DeliverMilestoneRequest,
    HealthRead,
    LateMilestoneRead,
    ReviewCreate,
    ReviewHistoryRead,
    SignRequest,
    StartMilestoneRequest,
    VersionRead,
    stated_lines,
)
from ltc.contracts.domain.approval import APPROVER_ROLES
from ltc.contracts.domain.model import CONTRACT_NUMBER_PATTERN, Contract, ContractStatus, Health
from ltc.contracts.domain.policy import ContractPolicy
from ltc.contracts.domain.review import REVIEWER_ROLES
from ltc.shared.api import Cursor, ExpectedVersion, IdempotencyKey, Limit, Once, Page, etag, run
from ltc.shared.auth import Principal, Role, require_roles
from ltc.shared.db import UnitOfWork
from ltc.shared.policy import PolicyVersion
from ltc.shared.service import ReadSession, Uow

router = APIRouter(tags=["contracts"])

Reader = Annotated[Principal, Depends(require_roles(Role.AR, *queries.READ_ALL_ROLES))]
SalesOwner = Annotated[Principal, Depends(require_roles(Role.AR, Role.ADMIN))]
Drafter = Annotated[Principal, Depends(require_roles(Role.AR))]
Reviewer = Annotated[Principal, Depends(require_roles(*REVIEWER_ROLES.values()))]
Runner = Annotated[Principal, Depends(require_roles(Role.FR, Role.ADMIN))]
Approver = Annotated[Principal, Depends(require_roles(*APPROVER_ROLES))]
Admin = Annotated[Principal, Depends(require_roles(Role.ADMIN))]
AsOf = Annotated[date | None, Query(description="the date to judge lateness on (default: today)")]


def _user_filter(description: str) -> Any:
    """A filter on a user id as the contracts hold them (an owner, an FR): exact, never empty."""
    return Query(min_length=1, max_length=200, description=description)


async def _read(session: AsyncSession, contract: Contract, response: Response) -> ContractRead:
    policy, _ = await repository.get_policy(session)
    response.headers["ETag"] = etag(contract.version)
    return ContractRead.of(contract, policy, handlers.today())


def _contract_answer(uow: UnitOfWork, response: Response, *,
                     created: bool = False) -> Callable[[Contract], Awaitable[ContractRead]]:
    """The answer to a change of a contract: the contract as the change left it, with its ETag."""
    async def answer(contract: Contract) -> ContractRead:
        if created:
            response.headers["Location"] = f"/api/v1/contracts/{contract.id}"
        return await _read(uow.session, contract, response)

    return answer


async def _review_of(session: AsyncSession, contract: Contract, response: Response) -> ContractReviewRead:
    policy, _ = await repository.get_policy(session)
    response.headers["ETag"] = etag(contract.version)
    return ContractReviewRead.of(contract, policy)


async def _amendment_of(session: AsyncSession, contract_id: uuid.UUID,
                        amendment_id: uuid.UUID) -> handlers.ContractAmendment:
    contract = await repository.get_contract(session, contract_id)
    return handlers.ContractAmendment(contract, contract.amendment(amendment_id))


def _amendment_read(result: handlers.ContractAmendment, response: Response, *, created: bool = False) -> AmendmentRead:
    """An amendment with its contract's ETag (an amendment changes with its contract)."""
    contract, amendment = result.contract, result.amendment
    if created:
        response.headers["Location"] = f"/api/v1/contracts/{contract.id}/amendments/{amendment.amendment_id}"
    response.headers["ETag"] = etag(contract.version)
    return AmendmentRead.of(contract, amendment)


def _amendment_created(result: handlers.ContractAmendment, response: Response) -> AmendmentRead:
    return _amendment_read(result, response, created=True)


def _policy_read(stored: PolicyVersion, response: Response) -> ContractPolicyRead:
    response.headers["ETag"] = etag(stored.version)
    return ContractPolicyRead.of_version(ContractPolicy.from_json(stored.document), stored.version)


# --- drafts ---------------------------------------------------------------------------------


@router.post("/contracts", response_model=ContractRead, status_code=201,
             summary="Draft a direct contract (no opportunity, e.g. a renewal); the caller owns it, and it needs "
                     "its own approval before signing")
async def create_contract(body: ContractCreate, uow: Uow, principal: Drafter, response: Response,
                          idempotency_key: IdempotencyKey = None) -> ContractRead:
    cmd = handlers.CreateDraft(
        contract_id=uuid.uuid4(), opportunity_id=body.opportunity_id, lead_id=body.lead_id,
        account_id=body.account_id, account_name=body.account_name, title=body.title, fr_owner=body.fr_owner,
        value=body.value.to_money(), line_items=stated_lines(body.line_items),
        payment_terms=[t.to_domain() for t in body.payment_terms], milestones=[m.to_domain() for m in body.milestones],
        legal_terms=body.legal_terms.to_domain())
    return await run(uow, handlers.create_draft, cmd, principal, answer=_contract_answer(uow, response, created=True),
                     once=Once(idempotency_key, "POST /contracts", body, cmd.contract_id, repository.get_contract))


@router.get("/contracts/{contract_id}", response_model=ContractRead, summary="A contract, with its ETag")
async def read_contract(contract_id: uuid.UUID, session: ReadSession, principal: Reader,
                        response: Response) -> ContractRead:
    return await _read(session, await queries.visible_contract(session, principal, contract_id), response)


@router.get("/contracts", response_model=Page[ContractRead],
            summary="The contracts the caller may see, oldest first, each with its ETag; every filter given must "
                    "match (an AR sees only their own)")
async def list_contracts(
        session: ReadSession, principal: Reader,
        number: Annotated[str | None, Query(pattern=CONTRACT_NUMBER_PATTERN, max_length=40,
                                            description="the contract's number, `CON-<year>-<6 digits>` exactly "
                                                        "(one contract at most)",
                                            examples=["CON-2026-000042"])] = None,
        opportunity_id: Annotated[uuid.UUID | None, Query(description="the won opportunity the contract was "
                                                                      "drafted from (one contract at most)")] = None,
        status: Annotated[ContractStatus | None, Query(description="the contract's status")] = None,
        account_id: Annotated[uuid.UUID | None, Query(description="the customer account")] = None,
        owner: Annotated[str | None, _user_filter("the AR who owns the contract")] = None,
        fr_owner: Annotated[str | None, _user_filter("the contract's FR or a milestone's")] = None,
        health: Annotated[Health | None, Query(description="of contracts in execution, judged on `as_of`")] = None,
        as_of: Annotated[date | None, Query(description="the date `health` is judged on (default: today)")] = None,
        limit: Limit = 50, cursor: Cursor = None) -> Page[ContractRead]:
    policy, _ = await repository.get_policy(session)
    as_of = as_of or handlers.today()
    rows, next_cursor = await queries.list_contracts(
        session, principal, as_of=as_of, at_risk_days=policy.at_risk_days, limit=limit, cursor=cursor,
        number=number, opportunity_id=opportunity_id, status=status, account_id=account_id, owner=owner,
        fr_owner=fr_owner, health=health)
    return Page[ContractRead](items=[ContractRead.of(c, policy, as_of) for c in rows], next_cursor=next_cursor)


@router.patch("/contracts/{contract_id}", response_model=ContractRead,
              summary="Edit a draft (a new version: the quality review starts again) or change the FR")
async def update_contract(contract_id: uuid.UUID, body: ContractUpdate, uow: Uow, principal: SalesOwner,
                          response: Response, version: ExpectedVersion) -> ContractRead:
    cmd = handlers.EditDraft(contract_id=contract_id, expected_version=version,
                             fields=frozenset(body.model_fields_set), title=body.title,
                             account_name=body.account_name, fr_owner=body.fr_owner,
                             terms=handlers.StatedTerms(**body.terms()))
    return await run(uow, handlers.edit_draft, cmd, principal, answer=_contract_answer(uow, response))


# --- quality review and signing --------------------------------------------------------------


@router.get("/contracts/{contract_id}/reviews", response_model=ReviewHistoryRead,
            summary="The review of the current version, the checklists, and every verdict ever recorded, with the "
                    "contract's ETag")
async def read_reviews(contract_id: uuid.UUID, session: ReadSession, principal: Reader,
                       response: Response) -> ReviewHistoryRead:
    contract = await queries.visible_contract(session, principal, contract_id)
    policy, _ = await repository.get_policy(session)
    response.headers["ETag"] = etag(contract.version)
    return ReviewHistoryRead.of(contract, policy)


@router.post("/contracts/{contract_id}/reviews", response_model=ContractReviewRead,
             summary="Record a function's verdict, item by item, on the draft's current version (a change of the "
                     "contract: If-Match its ETag)")
async def record_review(contract_id: uuid.UUID, body: ReviewCreate, uow: Uow, principal: Reviewer,
                        response: Response, version: ExpectedVersion,
                        idempotency_key: IdempotencyKey = None) -> ContractReviewRead:
    cmd = handlers.RecordReview(contract_id, body.function, [i.to_domain() for i in body.items], body.comment,
                                body.contract_version, version)
    return await run(uow, handlers.record_review, cmd, principal,
                     answer=lambda contract: _review_of(uow.session, contract, response),
                     once=Once(idempotency_key, f"POST /contracts/{contract_id}/reviews", body, contract_id,
                               repository.get_contract))


@router.post("/contracts/{contract_id}/sign", response_model=ContractRead,
             summary="Record the signing of a reviewed draft; publishes its payment schedule")
async def sign_contract(contract_id: uuid.UUID, body: SignRequest, uow: Uow, principal: SalesOwner,
                        response: Response, version: ExpectedVersion,
                        idempotency_key: IdempotencyKey = None) -> ContractRead:
    cmd = handlers.SignContract(contract_id, body.signatories, body.signed_on, version)
    return await run(uow, handlers.sign_contract, cmd, principal, answer=_contract_answer(uow, response),
                     once=Once(idempotency_key, f"POST /contracts/{contract_id}/sign", body, contract_id,
                               repository.get_contract))


@router.post("/contracts/{contract_id}/approval/decisions", response_model=ContractRead,
             summary="Approve, reject or escalate the draft's current terms: the tier their value is routed to (or "
                     "a higher one) decides, never one of their authors")
async def decide_approval(contract_id: uuid.UUID, body: ApprovalDecisionCreate, uow: Uow, principal: Approver,
                          response: Response, version: ExpectedVersion,
                          idempotency_key: IdempotencyKey = None) -> ContractRead:
    cmd = handlers.DecideApproval(contract_id, body.outcome, body.comment, body.contract_version, version)
    return await run(uow, handlers.decide_approval, cmd, principal, answer=_contract_answer(uow, response),
                     once=Once(idempotency_key, f"POST /contracts/{contract_id}/approval/decisions", body, contract_id,
                               repository.get_contract))


# --- execution and monitoring -----------------------------------------------------------------


async def _milestone_step(uow: UnitOfWork, step: handlers.MilestoneStep, principal: Principal, response: Response,
                          key: str | None, body: BaseModel) -> ContractRead:
    endpoint = f"POST /contracts/{step.contract_id}/milestones/{step.milestone_id}/{step.step}"
    return await run(uow, handlers.record_milestone_step, step, principal, answer=_contract_answer(uow, response),
                     once=Once(key, endpoint, body, step.contract_id, repository.get_contract))


@router.post("/contracts/{contract_id}/milestones/{milestone_id}/start", response_model=ContractRead,
             summary="Record that work on a milestone started")
async def start_milestone(contract_id: uuid.UUID, milestone_id: uuid.UUID, body: StartMilestoneRequest, uow: Uow,
                          principal: Runner, response: Response, version: ExpectedVersion,
                          idempotency_key: IdempotencyKey = None) -> ContractRead:
    step = handlers.MilestoneStep(contract_id, milestone_id, "started", body.started_on, version)
    return await _milestone_step(uow, step, principal, response, idempotency_key, body)


@router.post("/contracts/{contract_id}/milestones/{milestone_id}/deliver", response_model=ContractRead,
             summary="Record the delivery of a milestone, before the customer's acceptance")
async def deliver_milestone(contract_id: uuid.UUID, milestone_id: uuid.UUID, body: DeliverMilestoneRequest,
                            uow: Uow, principal: Runner, response: Response, version: ExpectedVersion,
                            idempotency_key: IdempotencyKey = None) -> ContractRead:
    step = handlers.MilestoneStep(contract_id, milestone_id, "delivered", body.delivered_on, version)
    return await _milestone_step(uow, step, principal, response, idempotency_key, body)


@router.post("/contracts/{contract_id}/milestones/{milestone_id}/accept", response_model=ContractRead,
             summary="Record the customer's acceptance of a delivery milestone, with its certificate")
async def accept_milestone(contract_id: uuid.UUID, milestone_id: uuid.UUID, body: AcceptMilestoneRequest,
                           uow: Uow, principal: Runner, response: Response, version: ExpectedVersion,
                           idempotency_key: IdempotencyKey = None) -> ContractRead:
    step = handlers.MilestoneStep(contract_id, milestone_id, "accepted", body.accepted_on, version,
                                  body.certificate_ref, body.acceptance_type)
    return await _milestone_step(uow, step, principal, response, idempotency_key, body)


@router.get("/contracts/{contract_id}/health", response_model=HealthRead,
            summary="Performance of a contract in execution: on track, at risk or late, and why")
async def contract_health(contract_id: uuid.UUID, session: ReadSession, principal: Reader,
                          as_of: AsOf = None) -> HealthRead:
    contract = await queries.visible_contract(session, principal, contract_id)
    policy, _ = await repository.get_policy(session)
    return HealthRead.of(contract, policy, as_of or handlers.today())


@router.get("/milestones/late", response_model=list[LateMilestoneRead],
            summary="Milestones past their planned date without acceptance, on contracts in execution, the latest "
                    "first, each with its contract's ETag")
async def late_milestones(
        session: ReadSession, principal: Reader, as_of: AsOf = None,
        fr_owner: Annotated[str | None, _user_filter("whoever runs the milestone: its own FR, else the "
                                                     "contract's")] = None,
        account_id: Annotated[uuid.UUID | None, Query(description="the customer account")] = None,
        limit: Limit = 200) -> list[LateMilestoneRead]:
    as_of = as_of or handlers.today()
    late = await queries.late_milestones(session, principal, as_of=as_of, fr_owner=fr_owner, account_id=account_id,
                                         limit=limit)
    return [LateMilestoneRead.of_late(m, as_of) for m in late]


# --- amendments, versions, audit ------------------------------------------------------------


@router.post("/contracts/{contract_id}/amendments", response_model=AmendmentRead, status_code=201,
             summary="Request an amendment of the contract (If-Match its ETag); it is routed to the decision tier "
                     "(ATAC) by value change and risk")
async def request_amendment(contract_id: uuid.UUID, body: AmendmentCreate, uow: Uow, principal: SalesOwner,
                            response: Response, version: ExpectedVersion,
                            idempotency_key: IdempotencyKey = None) -> AmendmentRead:
    cmd = handlers.RequestAmendment(contract_id, uuid.uuid4(), body.reason, body.risk, body.title,
                                    handlers.StatedTerms(**body.terms()), version)
    return await run(uow, handlers.request_amendment, cmd, principal,
                     answer=lambda result: _amendment_created(result, response),
                     once=Once(idempotency_key, f"POST /contracts/{contract_id}/amendments", body, cmd.amendment_id,
                               lambda session, amendment_id: _amendment_of(session, contract_id, amendment_id)))


@router.get("/contracts/{contract_id}/amendments", response_model=list[AmendmentRead],
            summary="Every amendment of the contract, oldest first, each with the contract's ETag")
async def list_amendments(contract_id: uuid.UUID, session: ReadSession, principal: Reader) -> list[AmendmentRead]:
    contract = await queries.visible_contract(session, principal, contract_id)
    return [AmendmentRead.of(contract, a) for a in contract.amendments]


@router.get("/contracts/{contract_id}/amendments/{amendment_id}", response_model=AmendmentRead,
            summary="An amendment, with its contract's ETag")
async def read_amendment(contract_id: uuid.UUID, amendment_id: uuid.UUID, session: ReadSession,
                         principal: Reader, response: Response) -> AmendmentRead:
    contract = await queries.visible_contract(session, principal, contract_id)
    return _amendment_read(handlers.ContractAmendment(contract, contract.amendment(amendment_id)), response)


@router.post("/contracts/{contract_id}/amendments/{amendment_id}/decisions", response_model=AmendmentRead,
             summary="Approve (applies it as a new version), reject or escalate an amendment (If-Match its "
                     "contract's ETag)")
async def decide_amendment(contract_id: uuid.UUID, amendment_id: uuid.UUID, body: DecisionCreate, uow: Uow,
                           principal: Approver, response: Response, version: ExpectedVersion) -> AmendmentRead:
    cmd = handlers.DecideAmendment(contract_id, amendment_id, body.outcome, body.comment, version)
    return await run(uow, handlers.decide_amendment, cmd, principal,
                     answer=lambda result: _amendment_read(result, response))


@router.post("/contracts/{contract_id}/amendments/{amendment_id}/withdraw", response_model=AmendmentRead,
             summary="Withdraw an amendment nobody has decided yet (If-Match its contract's ETag)")
async def withdraw_amendment(contract_id: uuid.UUID, amendment_id: uuid.UUID, uow: Uow, principal: SalesOwner,
                             response: Response, version: ExpectedVersion) -> AmendmentRead:
    cmd = handlers.WithdrawAmendment(contract_id, amendment_id, version)
    return await run(uow, handlers.withdraw_amendment, cmd, principal,
                     answer=lambda result: _amendment_read(result, response))


@router.get("/contracts/{contract_id}/versions", response_model=list[VersionRead],
            summary="Every version of the contract's terms, oldest first")
async def list_versions(contract_id: uuid.UUID, session: ReadSession, principal: Reader) -> list[VersionRead]:
    await queries.visible_contract(session, principal, contract_id)
    return [VersionRead.of(row) for row in await queries.list_versions(session, contract_id)]


@router.get("/contracts/{contract_id}/versions/{contract_version}", response_model=VersionRead,
            summary="One version of the contract's terms, as it was")
async def read_version(contract_id: uuid.UUID, contract_version: Annotated[int, Path(ge=1, le=2**31 - 1)],
                       session: ReadSession, principal: Reader) -> VersionRead:
    await queries.visible_contract(session, principal, contract_id)
    return VersionRead.of(await queries.get_version(session, contract_id, contract_version))


@router.get("/contracts/{contract_id}/audit", response_model=list[AuditEntryRead],
            summary="Who did what to the contract, and when")
async def audit_trail(contract_id: uuid.UUID, session: ReadSession, principal: Reader) -> list[AuditEntryRead]:
    await queries.visible_contract(session, principal, contract_id)
    return [AuditEntryRead.of(entry) for entry in await queries.audit_trail(session, contract_id)]


# --- configuration --------------------------------------------------------------------------


@router.get("/contract-policy", response_model=ContractPolicyRead, tags=["configuration"],
            summary="Review functions per value tier, decision-tier authority for amendments, at-risk window")
async def read_policy(session: ReadSession, principal: Reader, response: Response) -> ContractPolicyRead:
    policy, version = await repository.get_policy(session)
    response.headers["ETag"] = etag(version)
    return ContractPolicyRead.of_version(policy, version)


@router.put("/contract-policy", response_model=ContractPolicyRead, tags=["configuration"],
            summary="Set the next version of the policy (If-Match the version read)")
async def update_policy(body: ContractPolicyPayload, uow: Uow, principal: Admin, response: Response,
                        version: ExpectedVersion) -> ContractPolicyRead:
    policy = body.to_domain()
    cmd = handlers.UpdatePolicy(policy, version)
    return await run(uow, handlers.update_policy, cmd, principal, answer=lambda saved: _policy_read(saved, response))


@router.get("/contract-policy/history", response_model=list[ContractPolicyVersionRead], tags=["configuration"],
            summary="Every configured version of the policy: who set what, when")
async def policy_history(session: ReadSession, principal: Admin) -> list[ContractPolicyVersionRead]:
    return [ContractPolicyVersionRead.of(stored) for stored in await queries.contract_policy_history(session)]
