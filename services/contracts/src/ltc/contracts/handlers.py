"""Command and event handlers: load → domain → unit of work commit."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, date, datetime

from ltc.contracts.adapters import repository
from ltc.contracts.domain.model import AcceptanceType, AgreedMilestone, Contract, PaymentTerm, Trigger
from ltc.shared.api import check_if_match
from ltc.shared.auth import Principal, Role
from ltc.shared.db import UnitOfWork
from ltc.shared.errors import DomainError, NotFound, ProblemError, RuleViolation
from ltc.shared.messages.envelope import Envelope
from ltc.shared.messages.finance_events import ContractFullyPaid
from ltc.shared.messages.opportunities_events import OpportunityWon
from ltc.shared.money import MoneyError

# Roles that follow every contract through execution; an AR sees only the contracts they own.
READ_ALL_ROLES = (
    Role.ADMIN, Role.INTEGRATION, Role.FR, Role.FINANCE,
    Role.REVIEWER_LEGAL, Role.REVIEWER_FINANCE, Role.REVIEWER_COMMERCIAL, Role.REVIEWER_DELIVERY,
)


def _now() -> datetime:
    return datetime.now(UTC)


def may_see(principal: Principal, owner: str) -> bool:
    return principal.sub == owner or principal.has_any(*READ_ALL_ROLES)


def may_sign(principal: Principal, owner: str) -> bool:
    """The owning AR signs for the sales side; admins may act for anyone."""
    return principal.sub == owner or principal.has_any(Role.ADMIN)


async def _contract_to_sign(uow: UnitOfWork, principal: Principal, contract_id: uuid.UUID) -> Contract:
    contract = await repository.get_contract(uow.session, contract_id, for_update=True)
    if not may_see(principal, contract.owner):
        raise NotFound("contract", contract_id)  # never confirm that someone else's contract exists
    if not may_sign(principal, contract.owner):
        raise ProblemError(403, "not-contract-owner", "Forbidden", "only the contract's owner or an admin signs it")
    return contract


@dataclass(frozen=True)
class SignContract:
    contract_id: uuid.UUID
    signatories: list[str]
    signed_on: date
    if_match: str | None


async def sign_contract(uow: UnitOfWork, cmd: SignContract, principal: Principal) -> None:
    contract = await _contract_to_sign(uow, principal, cmd.contract_id)
    check_if_match(cmd.if_match, contract.version, required=False)
    contract.sign(signatories=cmd.signatories, signed_on=cmd.signed_on)
    await uow.commit()


@dataclass(frozen=True)
class AcceptMilestone:
    contract_id: uuid.UUID
    milestone_id: uuid.UUID
    accepted_on: date
    certificate_ref: str
    if_match: str | None


async def accept_milestone(uow: UnitOfWork, cmd: AcceptMilestone, principal: Principal) -> None:
    """Any FR may record an acceptance until contracts know their FR (a later issue)."""
    contract = await repository.get_contract(uow.session, cmd.contract_id, for_update=True)
    check_if_match(cmd.if_match, contract.version, required=False)
    contract.accept_milestone(cmd.milestone_id, accepted_on=cmd.accepted_on, certificate_ref=cmd.certificate_ref,
                              now=_now())
    await uow.commit()


async def on_opportunity_won(uow: UnitOfWork, event: OpportunityWon, envelope: Envelope) -> None:
    """Draft the contract of a won opportunity, once however often the event arrives."""
    if await repository.find_by_opportunity(uow.session, event.opportunity_id) is not None:
        return
    terms = event.terms
    try:
        value = terms.value.to_money()
    except MoneyError as exc:
        raise RuleViolation("commercial-terms-inconsistent", f"the contract value is not valid money: {exc}") from None
    uow.session.add(Contract(
        id=uuid.uuid4(), opportunity_id=event.opportunity_id, lead_id=event.lineage.lead_id,
        account_id=event.account_id, account_name=event.account_name, title=event.title, owner=event.owner,
        value=value,
        payment_terms=[PaymentTerm(name=t.name, percent=t.percent, trigger=Trigger(t.trigger), milestone=t.milestone,
                                   due_days=t.due_days) for t in terms.payment_terms],
        milestones=[AgreedMilestone(name=m.name, planned_date=m.planned_date,
                                    acceptance_type=AcceptanceType(m.acceptance_type)) for m in terms.milestones],
        now=_now(),
    ))


async def on_contract_fully_paid(uow: UnitOfWork, event: ContractFullyPaid, envelope: Envelope) -> None:
    contract = await uow.session.get(Contract, event.contract_id, with_for_update=True)
    if contract is None:
        # Finance learns of contracts only from `contract.signed`: an unknown one is a broken flow
        # for an operator to see on the dead-letter topic, not something to skip.
        raise DomainError("unknown-contract", f"no contract {event.contract_id} to record as fully paid")
    contract.record_fully_paid(fully_paid_on=event.fully_paid_on, now=_now())
