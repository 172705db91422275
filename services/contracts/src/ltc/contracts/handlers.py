"""Command and event handlers: load → authorise → domain → audit → unit of work commit.

A command handler is `(uow, command, principal)` and returns the object the route answers from;
the object's id and the version the caller read (`expected_version`) travel in the command.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from enum import StrEnum
from typing import Any, Literal

from ltc.contracts.adapters import repository
from ltc.contracts.adapters.queries import may_see
from ltc.contracts.domain.amendment import Amendment, DecisionOutcome, TermChanges
from ltc.contracts.domain.approval import Approval
from ltc.contracts.domain.model import Contract, ContractStatus, DraftChanges, VersionChange, contract_number
from ltc.contracts.domain.policy import ContractPolicy, Risk
from ltc.contracts.domain.review import REVIEWER_ROLES, ItemVerdict, ReviewFunction
from ltc.contracts.domain.terms import TERMS_INCONSISTENT
from ltc.contracts.domain.values import (
    AcceptanceType,
    AgreedMilestone,
    LegalTerms,
    LineItem,
    PaymentTerm,
    StatedLine,
    Trigger,
    priced_lines,
)
from ltc.shared.audit import AuditEntry
from ltc.shared.db import UnitOfWork
from ltc.shared.messages.envelope import Envelope
from ltc.shared.messages.finance_events import ContractFullyPaid, InvoiceCredited, InvoiceIssued, InvoiceLinePayload
from ltc.shared.messages.opportunities_events import OpportunityWon
from ltc.shared.money import Money, MoneyError
from ltc.shared.policy import PolicyVersion
from ltc.shared.roles import Principal, Role
from ltc.shared.rules import DomainError, Forbidden, NotFound, RuleViolation, require_version
from ltc.shared.tiers import Tier, authority_of

# The rules a REST draft for an opportunity meets (its contract comes from the win).
FROM_WON_OPPORTUNITY_ONLY = "contract-from-won-opportunity-only"
EXISTS_FOR_OPPORTUNITY = "contract-exists-for-opportunity"


class AuditAction(StrEnum):
    """What an entry of a contract's audit trail records."""

    DRAFTED = "drafted"
    EDITED = "edited"
    REVIEWED = "reviewed"
    APPROVAL_APPROVED = "approval_approved"
    APPROVAL_REJECTED = "approval_rejected"
    APPROVAL_ESCALATED = "approval_escalated"
    SIGNED = "signed"
    MILESTONE_STARTED = "milestone_started"
    MILESTONE_DELIVERED = "milestone_delivered"
    MILESTONE_ACCEPTED = "milestone_accepted"
    AMENDMENT_REQUESTED = "amendment_requested"
    AMENDMENT_APPROVED = "amendment_approved"
    AMENDMENT_REJECTED = "amendment_rejected"
    AMENDMENT_ESCALATED = "amendment_escalated"
    AMENDMENT_WITHDRAWN = "amendment_withdrawn"
    FULLY_PAID = "fully_paid"
    CLOSED = "closed"


def _utc_now() -> datetime:
    return datetime.now(UTC)


# The service's one clock: every timestamp and every "today" (dates of record, lateness) comes
# from it; tests replace it to stand on a day of their choosing.
clock: Callable[[], datetime] = _utc_now


def now() -> datetime:
    return clock()


def today() -> date:
    return now().date()


def _owners_contract(principal: Principal, contract: Contract, doing: str) -> Contract:
    """The owning AR acts for the sales side; admins may act for anyone."""
    if not may_see(principal, contract):
        raise NotFound("contract", contract.id)  # never confirm that someone else's contract exists
    if principal.sub != contract.owner and not principal.has_any(Role.ADMIN):
        raise Forbidden("not-contract-owner", f"only the contract's owner or an admin {doing}")
    return contract


async def _load(uow: UnitOfWork, principal: Principal, contract_id: uuid.UUID,
                expected_version: int | None) -> Contract:
    """The contract to change, locked; the caller's read version is checked only once it may see it."""
    contract = await repository.get_contract(uow.session, contract_id, for_update=True)
    if not may_see(principal, contract):
        raise NotFound("contract", contract_id)
    require_version(contract.version, expected_version, what="the contract")
    return contract


def _audit(uow: UnitOfWork, contract: Contract, principal_or_source: str, action: AuditAction, at: datetime,
           **details: Any) -> None:
    uow.audit(AuditEntry(at=at, actor=principal_or_source, action=action.value, object_type=repository.AUDITED_AS,
                         object_id=contract.id, changes=details))


async def _number(uow: UnitOfWork, at: datetime) -> str:
    """The next number of the year `at` falls in; the year's counter stays locked until the
    drafting transaction ends (a rolled-back draft gives its number back)."""
    return contract_number(at.year, await repository.next_contract_sequence(uow.session, at.year))


# --- drafts ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class StatedTerms:
    """Terms as a request states them (instalments without amounts, milestones without ids, line
    prices without their currency: the value's if the request states one, else the contract's)."""

    value: Money | None = None
    line_items: list[StatedLine] | None = None
    payment_terms: list[PaymentTerm] | None = None
    milestones: list[AgreedMilestone] | None = None
    legal_terms: LegalTerms | None = None

    def lines_in(self, currency: str) -> list[LineItem] | None:
        if self.line_items is None:
            return None
        return priced_lines(self.line_items, self.value.currency if self.value is not None else currency)


@dataclass(frozen=True)
class CreateDraft:
    contract_id: uuid.UUID  # the new contract's
    opportunity_id: uuid.UUID | None
    lead_id: uuid.UUID | None
    account_id: uuid.UUID | None
    account_name: str
    title: str
    fr_owner: str | None
    value: Money
    line_items: list[StatedLine]  # priced in the value's currency
    payment_terms: list[PaymentTerm]
    milestones: list[AgreedMilestone]
    legal_terms: LegalTerms


async def create_draft(uow: UnitOfWork, cmd: CreateDraft, principal: Principal) -> Contract:
    """A direct contract (no opportunity) by its AR; it needs its own approval before signing.

    A contract for an opportunity comes only from its win, on the terms approved at ATC: a draft
    typed in for one is refused, so nobody can pre-empt or undercut the deal's real contract.
    """
    if cmd.opportunity_id is not None:
        existing = await repository.find_by_opportunity(uow.session, cmd.opportunity_id)
        if existing is not None and may_see(principal, existing):
            raise DomainError(EXISTS_FOR_OPPORTUNITY,
                              f"opportunity {cmd.opportunity_id} already has its contract {existing.id}, drafted "
                              "from its win", errors=[{"field": "opportunity_id", "contract_id": str(existing.id),
                                                       "message": "this opportunity's contract exists"}])
        raise RuleViolation(FROM_WON_OPPORTUNITY_ONLY,
                            f"a contract for opportunity {cmd.opportunity_id} is drafted from its win, on the terms "
                            "approved at ATC; leave opportunity_id out for a direct contract",
                            errors=[{"field": "opportunity_id", "message": "contracts for an opportunity come from "
                                                                           "opportunity.won"}])
    at = now()
    contract = Contract(id=cmd.contract_id, number=await _number(uow, at), opportunity_id=cmd.opportunity_id,
                        lead_id=cmd.lead_id,
                        account_id=cmd.account_id, account_name=cmd.account_name, title=cmd.title,
                        owner=principal.sub, value=cmd.value, payment_terms=cmd.payment_terms,
                        milestones=cmd.milestones, line_items=priced_lines(cmd.line_items, cmd.value.currency),
                        legal_terms=cmd.legal_terms,
                        fr_owner=cmd.fr_owner, now=at)
    uow.session.add(contract)
    await repository.add_version(uow.session, contract, change=VersionChange.DRAFTED, by=principal.sub, at=at)
    _audit(uow, contract, principal.sub, AuditAction.DRAFTED, at, via="rest")
    await uow.commit()
    return contract


@dataclass(frozen=True)
class EditDraft:
    contract_id: uuid.UUID
    expected_version: int | None
    fields: frozenset[str]  # which parts the request sent: an absent one stays, a sent null clears fr_owner
    title: str | None = None
    account_name: str | None = None
    fr_owner: str | None = None
    terms: StatedTerms = field(default_factory=StatedTerms)


async def edit_draft(uow: UnitOfWork, cmd: EditDraft, principal: Principal) -> Contract:
    """Edit a draft (a new version, resetting the review); on a signed contract only the FR changes."""
    contract = _owners_contract(principal, await _load(uow, principal, cmd.contract_id, cmd.expected_version),
                                "edits it")
    at = now()
    terms_sent = cmd.fields - {"fr_owner"}
    changed = False
    if terms_sent:
        t = cmd.terms
        changed = contract.edit(DraftChanges(title=cmd.title, account_name=cmd.account_name, value=t.value,
                                             line_items=t.lines_in(contract.value_currency),
                                             payment_terms=t.payment_terms,
                                             milestones=t.milestones, legal_terms=t.legal_terms),
                                by=principal.sub, now=at)
        if changed:
            await repository.add_version(uow.session, contract, change=VersionChange.EDITED, by=principal.sub, at=at)
    if "fr_owner" in cmd.fields and cmd.fr_owner != contract.fr_owner:
        contract.assign_fr(cmd.fr_owner, now=at)
        changed = True
    if changed:
        _audit(uow, contract, principal.sub, AuditAction.EDITED, at, fields=sorted(cmd.fields),
               contract_version=contract.contract_version)
        await uow.commit()
    return contract


async def on_opportunity_won(uow: UnitOfWork, event: OpportunityWon, envelope: Envelope) -> None:
    """Draft the contract of a won opportunity on its ATC terms, once however often the event arrives.

    Its lines are the ones agreed at ATC; an event from before lines travelled has none, and
    neither has its contract."""
    existing = await repository.find_by_opportunity(uow.session, event.opportunity_id)
    if existing is not None:
        if existing.owner != event.owner:
            # Only a draft typed in before drafts for opportunities were refused can be here: an
            # operator must settle which contract stands, never this consumer silently.
            raise DomainError("contract-preempted",
                              f"opportunity {event.opportunity_id} already has contract {existing.id} by "
                              f"{existing.owner}, not by its owner {event.owner}")
        return
    terms = event.terms
    try:
        value = terms.value.to_money()
    except MoneyError as exc:
        raise RuleViolation(TERMS_INCONSISTENT, f"the contract value is not valid money: {exc}") from None
    at = now()
    atc = event.approval
    approval = Approval.of_atc(tier=None if atc is None else Tier(atc.tier), decider=None if atc is None else atc.decider,
                               decided_at=None if atc is None else atc.decided_at,
                               comment=None if atc is None else atc.conditions)
    contract = Contract(
        id=uuid.uuid4(), number=await _number(uow, at), opportunity_id=event.opportunity_id, atc_approval=approval,
        lead_id=event.lineage.lead_id, account_id=event.account_id, account_name=event.account_name, title=event.title, owner=event.owner,
        value=value,
        payment_terms=[PaymentTerm(name=t.name, percent=t.percent, trigger=Trigger(t.trigger), milestone=t.milestone,
                                   due_days=t.due_days) for t in terms.payment_terms],
        milestones=[AgreedMilestone(name=m.name, planned_date=m.planned_date,
                                    acceptance_type=AcceptanceType(m.acceptance_type)) for m in terms.milestones],
        line_items=[line.to_line() for line in terms.lines],
        now=at,
    )
    uow.session.add(contract)
    source = f"{envelope.source}:{envelope.type}"
    await repository.add_version(uow.session, contract, change=VersionChange.DRAFTED, by=source, at=at)
    _audit(uow, contract, source, AuditAction.DRAFTED, at, event_id=envelope.id)


# --- quality review and signing --------------------------------------------------------------


@dataclass(frozen=True)
class RecordReview:
    contract_id: uuid.UUID
    function: ReviewFunction
    items: list[ItemVerdict]
    comment: str | None
    reviewed_version: int | None = None  # the version of the terms reviewed (not the row version)
    expected_version: int | None = None


async def record_review(uow: UnitOfWork, cmd: RecordReview, principal: Principal) -> Contract:
    if not principal.has_any(REVIEWER_ROLES[cmd.function]):
        raise Forbidden("reviewer-wrong-function",
                        f"the {cmd.function.value} review needs the role {REVIEWER_ROLES[cmd.function].value}")
    contract = await _load(uow, principal, cmd.contract_id, cmd.expected_version)
    policy, _ = await repository.get_policy(uow.session)
    at = now()
    record = contract.record_review(function=cmd.function, reviewer=principal.sub, items=cmd.items,
                                    comment=cmd.comment, required=policy.required_functions(contract.value), now=at,
                                    reviewed_version=cmd.reviewed_version)
    _audit(uow, contract, principal.sub, AuditAction.REVIEWED, at, function=cmd.function.value,
           outcome="passed" if record.passed else "failed", contract_version=contract.contract_version,
           items=list(record.items))
    await uow.commit()
    return contract


@dataclass(frozen=True)
class SignContract:
    contract_id: uuid.UUID
    signatories: list[str]
    signed_on: date
    expected_version: int | None = None


async def sign_contract(uow: UnitOfWork, cmd: SignContract, principal: Principal) -> Contract:
    contract = _owners_contract(principal, await _load(uow, principal, cmd.contract_id, cmd.expected_version),
                                "signs it")
    policy, _ = await repository.get_policy(uow.session)
    at = now()
    contract.sign(signatories=cmd.signatories, signed_on=cmd.signed_on,
                  required_reviews=policy.required_functions(contract.value), now=at, by=principal.sub)
    approval = contract.approval(policy)
    _audit(uow, contract, principal.sub, AuditAction.SIGNED, at, signatories=cmd.signatories, signed_on=cmd.signed_on,
           contract_version=contract.contract_version, approved_by=approval.approver,
           approval_source=approval.source.value, approval_tier=None if approval.tier is None else approval.tier.value)
    await uow.commit()
    return contract


@dataclass(frozen=True)
class DecideApproval:
    contract_id: uuid.UUID
    outcome: DecisionOutcome
    comment: str | None
    contract_version: int | None = None  # the version of the terms decided on (not the row version)
    expected_version: int | None = None


async def decide_approval(uow: UnitOfWork, cmd: DecideApproval, principal: Principal) -> Contract:
    """An approver's decision on the draft's current terms (a direct contract, or an edited draft)."""
    contract = await _load(uow, principal, cmd.contract_id, cmd.expected_version)
    policy, _ = await repository.get_policy(uow.session)
    at = now()
    decided = contract.decide_approval(outcome=cmd.outcome, decider=principal.sub,
                                       decider_authority=authority_of(principal.roles), comment=cmd.comment,
                                       policy=policy, version=cmd.contract_version, now=at)
    _audit(uow, contract, principal.sub, AuditAction(f"approval_{cmd.outcome.value}"), at,
           tier=decided.decisions[-1].tier.value, comment=cmd.comment, contract_version=contract.contract_version)
    await uow.commit()
    return contract


# --- execution ------------------------------------------------------------------------------


@dataclass(frozen=True)
class MilestoneStep:
    """Start, delivery or acceptance of a milestone on a date."""

    contract_id: uuid.UUID
    milestone_id: uuid.UUID
    step: Literal["started", "delivered", "accepted"]
    on: date
    expected_version: int | None = None
    certificate_ref: str | None = None
    acceptance_type: AcceptanceType | None = None


async def record_milestone_step(uow: UnitOfWork, cmd: MilestoneStep, principal: Principal) -> Contract:
    """The FR running the milestone records it; a milestone nobody was assigned is any FR's."""
    contract = await _load(uow, principal, cmd.contract_id, cmd.expected_version)
    runner = contract.milestone_owner(cmd.milestone_id)
    if runner is not None and runner != principal.sub and not principal.has_any(Role.ADMIN):
        raise Forbidden("not-milestone-owner", f"this milestone is run by {runner}")
    at = now()
    if cmd.step == "started":
        contract.start_milestone(cmd.milestone_id, started_on=cmd.on, now=at)
    elif cmd.step == "delivered":
        contract.deliver_milestone(cmd.milestone_id, delivered_on=cmd.on, now=at)
    else:
        contract.accept_milestone(cmd.milestone_id, accepted_on=cmd.on, certificate_ref=cmd.certificate_ref or "",
                                  acceptance_type=cmd.acceptance_type, now=at)
    _audit(uow, contract, principal.sub, AuditAction(f"milestone_{cmd.step}"), at, milestone_id=cmd.milestone_id,
           on=cmd.on, certificate_ref=cmd.certificate_ref)
    if contract.status is ContractStatus.CLOSED:
        _audit(uow, contract, principal.sub, AuditAction.CLOSED, at, by="last acceptance, after full payment")
    await uow.commit()
    return contract


# --- amendments -----------------------------------------------------------------------------


@dataclass(frozen=True)
class ContractAmendment:
    """An amendment and the contract that holds it (whose version an amendment changes with)."""

    contract: Contract
    amendment: Amendment


@dataclass(frozen=True)
class RequestAmendment:
    contract_id: uuid.UUID
    amendment_id: uuid.UUID  # the new amendment's
    reason: str
    risk: Risk
    title: str | None
    terms: StatedTerms
    expected_version: int | None = None


async def request_amendment(uow: UnitOfWork, cmd: RequestAmendment, principal: Principal) -> ContractAmendment:
    contract = _owners_contract(principal, await _load(uow, principal, cmd.contract_id, cmd.expected_version),
                                "amends it")
    policy, _ = await repository.get_policy(uow.session)
    at = now()
    t = cmd.terms
    amendment = contract.request_amendment(
        amendment_id=cmd.amendment_id, reason=cmd.reason, declared_risk=cmd.risk, requested_by=principal.sub,
        changes=TermChanges(title=cmd.title, value=t.value, line_items=t.lines_in(contract.value_currency),
                            payment_terms=t.payment_terms, milestones=t.milestones, legal_terms=t.legal_terms),
        policy=policy, today=at.date(), now=at, invoiced=await repository.invoiced_of(uow.session, contract.id))
    _audit(uow, contract, principal.sub, AuditAction.AMENDMENT_REQUESTED, at, amendment_id=cmd.amendment_id,
           kinds=[k.value for k in amendment.kinds], risk=amendment.risk.value, tier=amendment.tier.value)
    await uow.commit()
    return ContractAmendment(contract, amendment)


@dataclass(frozen=True)
class DecideAmendment:
    contract_id: uuid.UUID
    amendment_id: uuid.UUID
    outcome: DecisionOutcome
    comment: str | None
    expected_version: int | None = None


async def decide_amendment(uow: UnitOfWork, cmd: DecideAmendment, principal: Principal) -> ContractAmendment:
    contract = await _load(uow, principal, cmd.contract_id, cmd.expected_version)
    at = now()
    decided = contract.decide_amendment(cmd.amendment_id, outcome=cmd.outcome, decider=principal.sub,
                                        decider_authority=authority_of(principal.roles), comment=cmd.comment,
                                        today=at.date(), now=at,
                                        invoiced=await repository.invoiced_of(uow.session, contract.id))
    if decided.applied_version is not None:
        await repository.add_version(uow.session, contract, change=VersionChange.AMENDED, by=principal.sub, at=at,
                                     reason=decided.reason, amendment_id=decided.amendment_id)
    _audit(uow, contract, principal.sub, AuditAction(f"amendment_{cmd.outcome.value}"), at,
           amendment_id=cmd.amendment_id, tier=decided.decisions[-1].tier.value, comment=cmd.comment,
           contract_version=contract.contract_version)
    await uow.commit()
    return ContractAmendment(contract, decided)


@dataclass(frozen=True)
class WithdrawAmendment:
    contract_id: uuid.UUID
    amendment_id: uuid.UUID
    expected_version: int | None = None


async def withdraw_amendment(uow: UnitOfWork, cmd: WithdrawAmendment, principal: Principal) -> ContractAmendment:
    contract = _owners_contract(principal, await _load(uow, principal, cmd.contract_id, cmd.expected_version),
                                "withdraws its amendments")
    at = now()
    withdrawn = contract.withdraw_amendment(cmd.amendment_id, now=at)
    _audit(uow, contract, principal.sub, AuditAction.AMENDMENT_WITHDRAWN, at, amendment_id=cmd.amendment_id)
    await uow.commit()
    return ContractAmendment(contract, withdrawn)


# --- configuration --------------------------------------------------------------------------


@dataclass(frozen=True)
class UpdatePolicy:
    policy: ContractPolicy
    expected_version: int | None  # the policy version the admin read


async def update_policy(uow: UnitOfWork, cmd: UpdatePolicy, principal: Principal) -> PolicyVersion:
    """The next version of the policy; a stale `expected_version` is refused (`StaleVersion`)."""
    saved = await repository.save_policy(uow.session, cmd.policy, expected_version=cmd.expected_version,
                                         by=principal.sub, at=now())
    await uow.commit()
    return saved


# --- closure --------------------------------------------------------------------------------


async def on_contract_fully_paid(uow: UnitOfWork, event: ContractFullyPaid, envelope: Envelope) -> None:
    contract = await uow.session.get(Contract, event.contract_id, with_for_update=True)
    if contract is None:
        # Finance learns of contracts only from `contract.signed`: an unknown one is a broken flow
        # for an operator to see on the dead-letter topic, not something to skip.
        raise DomainError("unknown-contract", f"no contract {event.contract_id} to record as fully paid")
    if contract.fully_paid:
        return
    at = now()
    contract.record_fully_paid(fully_paid_on=event.fully_paid_on, now=at)
    source = f"{envelope.source}:{envelope.type}"
    _audit(uow, contract, source, AuditAction.FULLY_PAID, at, fully_paid_on=event.fully_paid_on, event_id=envelope.id)
    if contract.status is ContractStatus.CLOSED:
        _audit(uow, contract, source, AuditAction.CLOSED, at, by="full payment, after every acceptance")


# --- what finance invoiced of each line --------------------------------------------------------


def _by_position(lines: list[InvoiceLinePayload], sign: int) -> list[repository.InvoicedLine]:
    """A document's lines summed per contract line position, signed: a credit note subtracts.

    A credit note's lines are counted as credited whichever sign finance writes them with: what
    it credits can only lower what is invoiced."""
    totals: dict[int, repository.InvoicedLine] = {}
    for line in lines:
        quantity, net = abs(line.quantity) * sign, line.net.to_money()
        net = Money(abs(net.amount) * sign, net.currency)
        seen = totals.get(line.position)
        if seen is not None:
            quantity, net = seen.quantity + quantity, seen.net + net
        totals[line.position] = repository.InvoicedLine(line.position, quantity, net)
    return list(totals.values())


async def _record_invoiced(uow: UnitOfWork, contract_id: uuid.UUID, *, document_id: uuid.UUID, document_type: str,
                           document_number: str, lines: list[InvoiceLinePayload], sign: int) -> None:
    if not lines:
        return  # a document from before lines travelled: it bills no contract line by position
    # The contract's row lock orders this against an amendment being decided: it reads what is
    # invoiced under the same lock.
    contract = await uow.session.get(Contract, contract_id, with_for_update=True)
    if contract is None:
        # Finance invoices only contracts it learnt of from `contract.signed`: a broken flow for
        # an operator to see on the dead-letter topic.
        raise DomainError("unknown-contract", f"no contract {contract_id} to record {document_type} "
                                              f"{document_number} against")
    await repository.record_invoiced(uow.session, contract_id=contract_id, document_id=document_id,
                                     document_type=document_type, document_number=document_number,
                                     lines=_by_position(lines, sign), at=now())


async def on_invoice_issued(uow: UnitOfWork, event: InvoiceIssued, envelope: Envelope) -> None:
    """Count what the invoice bills of each contract line (an invoice from before lines travelled
    bills none by line)."""
    await _record_invoiced(uow, event.contract_id, document_id=event.invoice_id, document_type="invoice",
                           document_number=event.invoice_number, lines=event.lines, sign=1)


async def on_invoice_credited(uow: UnitOfWork, event: InvoiceCredited, envelope: Envelope) -> None:
    """Keep what the credit note credits of each contract line (beside the invoices: it does not
    lower what an amendment is held to, see `ltc.contracts.domain.invoiced`)."""
    await _record_invoiced(uow, event.contract_id, document_id=event.credit_note_id, document_type="credit_note",
                           document_number=event.credit_note_number, lines=event.lines, sign=-1)
