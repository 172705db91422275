"""Command and event handlers: load → domain → unit of work commit."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import NoReturn

from sqlalchemy.exc import IntegrityError

from ltc.finance.adapters import repository
from ltc.finance.domain.model import (
    BillingPlan,
    Instalment,
    InstalmentTerms,
    Payment,
    PaymentTarget,
    Trigger,
    credit_note_number,
    invoice_number,
    receive_payment,
)
from ltc.finance.domain.receivables import OverdueInvoice, run_dunning
from ltc.shared.api import check_if_match
from ltc.shared.auth import Principal
from ltc.shared.controls import require_happened
from ltc.shared.db import UnitOfWork
from ltc.shared.errors import DomainError, RuleViolation
from ltc.shared.messages import Lineage, MoneyPayload
from ltc.shared.messages.contracts_events import (
    ContractAmended,
    ContractMilestoneAccepted,
    ContractSigned,
    InstalmentPayload,
)
from ltc.shared.messages.envelope import Envelope
from ltc.shared.messages.leads_events import LeadCreated
from ltc.shared.messages.opportunities_events import OpportunityWon
from ltc.shared.money import Money, MoneyError


def _utc_now() -> datetime:
    return datetime.now(UTC)


# The clock of every handler that stamps a date (issue dates, "today" for date triggers); tests
# replace it to run the calendar forward.
clock: Callable[[], datetime] = _utc_now


def _money(payload: MoneyPayload, what: str) -> Money:
    try:
        return payload.to_money()
    except MoneyError as exc:
        raise DomainError("invalid-amount", f"{what}: {exc}") from None


def _terms(schedule: Sequence[InstalmentPayload]) -> list[InstalmentTerms]:
    return [InstalmentTerms(name=line.name, percent=line.percent, amount=_money(line.amount, f"instalment {line.name!r}"),
                            trigger=Trigger(line.trigger), milestone_id=line.milestone_id, due_days=line.due_days,
                            invoice_on=line.due_date)
            for line in schedule]


async def _issue_invoices(uow: UnitOfWork, plan: BillingPlan, instalments: Sequence[Instalment]) -> None:
    for instalment in instalments:
        now = clock()
        sequence = await repository.next_invoice_sequence(uow.session, now.year)
        uow.session.add(plan.invoice(instalment, invoice_id=uuid.uuid4(), number=invoice_number(now.year, sequence),
                                     issue_date=now.date(), now=now))


async def on_contract_signed(uow: UnitOfWork, event: ContractSigned, envelope: Envelope) -> None:
    """One billing plan per contract; the instalments due on signing are invoiced at once."""
    if await repository.find_plan(uow.session, event.contract_id) is not None:
        return
    lead_created_on, won_on = await repository.flow_dates(uow.session, lead_id=event.lineage.lead_id,
                                                          opportunity_id=event.lineage.opportunity_id)
    plan = BillingPlan(
        id=uuid.uuid4(), contract_id=event.contract_id, account_id=event.account_id,
        account_name=event.account_name,
        lineage=Lineage(lead_id=event.lineage.lead_id, opportunity_id=event.lineage.opportunity_id,
                        contract_id=event.contract_id),
        signed_on=event.signed_on, value=_money(event.value, "contract value"), schedule=_terms(event.payment_schedule),
        now=clock(), won_on=won_on, lead_created_on=lead_created_on,
    )
    uow.session.add(plan)
    # Invoices reference the plan's rows, which must exist before they do.
    await uow.session.flush()
    await _issue_invoices(uow, plan, plan.invoiceable(clock().date()))


async def on_contract_milestone_accepted(uow: UnitOfWork, event: ContractMilestoneAccepted, envelope: Envelope) -> None:
    """Invoice the instalments billed on this milestone; a repeated acceptance finds them invoiced."""
    plan = await repository.find_plan(uow.session, event.contract_id, for_update=True)
    if plan is None:
        # Both events travel on ltc.contracts keyed by contract id, so signing always comes first.
        raise DomainError("billing-plan-unknown", f"no billing plan for contract {event.contract_id}")
    await _issue_invoices(uow, plan, plan.accept_milestone(event.milestone_id))


async def on_contract_amended(uow: UnitOfWork, event: ContractAmended, envelope: Envelope) -> None:
    """Re-plan what is not invoiced yet; what the amendment makes due (an accepted milestone) is invoiced."""
    plan = await repository.find_plan(uow.session, event.contract_id, for_update=True)
    if plan is None:
        raise DomainError("billing-plan-unknown", f"no billing plan for contract {event.contract_id}")
    if plan.amend(contract_version=event.contract_version, value=_money(event.value, "contract value"),
                  schedule=_terms(event.payment_schedule), on=event.amended_at.date()):
        await uow.session.flush()
        await _issue_invoices(uow, plan, plan.invoiceable(clock().date()))


async def on_opportunity_won(uow: UnitOfWork, event: OpportunityWon, envelope: Envelope) -> None:
    """Remember the account manager (who may read the account's receivables) and the day it was won."""
    await repository.remember_opportunity_won(uow.session, opportunity_id=event.opportunity_id,
                                              account_id=event.account_id, owner=event.owner,
                                              won_on=event.won_at.date())


async def on_lead_created(uow: UnitOfWork, event: LeadCreated, envelope: Envelope) -> None:
    """Remember when the lead was created: the start of its lead-to-cash cycle."""
    await repository.remember_lead_created(uow.session, lead_id=event.lead_id, created_on=event.created_at.date())


class PaymentAlreadyRecorded(Exception):
    """This bank payment was recorded before: the answer is the first recording."""

    def __init__(self, payment_id: uuid.UUID) -> None:
        super().__init__(f"payment {payment_id} has this bank reference")
        self.payment_id = payment_id


def _already_recorded(first: Payment, cmd: RecordPayment) -> NoReturn:
    """Answer with the first recording when the receipt is the same bank payment; 409 when it says otherwise.

    Answering a different receipt with the first payment would swallow its cash unseen.
    """
    differences = first.differences(amount=cmd.amount, payer=cmd.payer, value_date=cmd.value_date)
    if differences:
        raise DomainError("bank-reference-conflict",
                          f"bank reference {cmd.bank_reference!r} is payment {first.id}, which has another "
                          f"{', '.join(d['field'] for d in differences)}; check the receipt and its reference",
                          errors=differences)
    raise PaymentAlreadyRecorded(first.id)


@dataclass(frozen=True)
class RecordPayment:
    payment_id: uuid.UUID
    bank_reference: str
    payer: str
    amount: Money
    value_date: date
    invoice_id: uuid.UUID | None
    contract_id: uuid.UUID | None
    account_id: uuid.UUID | None = None


async def _target_contract(uow: UnitOfWork, cmd: RecordPayment) -> uuid.UUID | None:
    contract_id = cmd.contract_id
    if cmd.invoice_id is not None:
        contract_id = await repository.contract_of_invoice(uow.session, cmd.invoice_id)
        if cmd.contract_id is not None and cmd.contract_id != contract_id:
            raise RuleViolation("invoice-not-of-contract",
                                f"invoice {cmd.invoice_id} does not belong to contract {cmd.contract_id}")
    return contract_id


async def record_payment(uow: UnitOfWork, cmd: RecordPayment, principal: Principal) -> None:
    """Apply a bank payment to an invoice, a contract or an account; raises PaymentAlreadyRecorded for a repeat."""
    if cmd.invoice_id is None and cmd.contract_id is None and cmd.account_id is None:
        raise RuleViolation("payment-target-required", "name the invoice_id, contract_id or account_id the payment is for",
                            errors=[{"field": f, "message": "invoice_id, contract_id or account_id is required"}
                                    for f in ("invoice_id", "contract_id", "account_id")])
    contract_id = await _target_contract(uow, cmd)
    if contract_id is not None:
        locked = await repository.lock_plans(uow.session, contract_id=contract_id)
    else:
        locked = await repository.lock_plans(uow.session, account_id=cmd.account_id)
    first = await repository.find_payment_by_bank_reference(uow.session, cmd.bank_reference)
    if first is not None:
        _already_recorded(first, cmd)
    plans = await repository.plans_of(uow.session, locked)
    account_ids = {plan.account_id for plan in plans.values()}
    account_id = cmd.account_id if cmd.account_id is not None else (account_ids.pop() if len(account_ids) == 1 else None)
    if cmd.account_id is not None and any(plan.account_id != cmd.account_id for plan in plans.values()):
        raise RuleViolation("invoice-not-of-account", f"the invoice or contract named is not of account {cmd.account_id}")
    uow.session.add(receive_payment(
        payment_id=cmd.payment_id, bank_reference=cmd.bank_reference, payer=cmd.payer, amount=cmd.amount,
        value_date=cmd.value_date, target=PaymentTarget(cmd.invoice_id, contract_id, account_id), plans=plans,
        invoices=await repository.invoices_of_contracts(uow.session, locked), recorded_by=principal.sub, now=clock(),
    ))
    try:
        await uow.commit()
    except IntegrityError:
        # The same bank payment recorded concurrently for another contract won the unique constraint.
        first = await repository.find_payment_by_bank_reference(uow.session, cmd.bank_reference)
        if first is None:
            raise
        _already_recorded(first, cmd)


@dataclass(frozen=True)
class ApplyUnappliedCash:
    payment_id: uuid.UUID
    invoice_id: uuid.UUID | None
    applied_on: date
    if_match: str | None = None  # the payment's ETag the clerk decided on; a stale one is refused


async def apply_unapplied_cash(uow: UnitOfWork, cmd: ApplyUnappliedCash, principal: Principal) -> None:
    """Apply a payment's held cash: to the named invoice, or oldest-due-first across its account (else contract)."""
    payment = await repository.get_payment(uow.session, cmd.payment_id)
    if cmd.invoice_id is not None:
        invoice_contract = await repository.contract_of_invoice(uow.session, cmd.invoice_id)
        locked = await repository.lock_plans(uow.session, contract_id=invoice_contract)
        plans = await repository.plans_of(uow.session, locked)
        if payment.account_id is not None and plans[invoice_contract].account_id != payment.account_id:
            raise RuleViolation("invoice-not-of-account",
                                f"invoice {cmd.invoice_id} is not of the account that paid this cash")
        if payment.account_id is None and payment.contract_id != invoice_contract:
            raise RuleViolation("invoice-not-of-contract",
                                f"invoice {cmd.invoice_id} is not of the contract that paid this cash")
    elif payment.account_id is not None:
        locked = await repository.lock_plans(uow.session, account_id=payment.account_id)
    else:
        assert payment.contract_id is not None
        locked = await repository.lock_plans(uow.session, contract_id=payment.contract_id)
    # Locked after the plans, like every recording, so the two never wait on each other.
    payment = await repository.get_payment(uow.session, cmd.payment_id, for_update=True)
    check_if_match(cmd.if_match, payment.version, required=False)
    plans = await repository.plans_of(uow.session, locked)
    payment.apply_unapplied(invoices=await repository.invoices_of_contracts(uow.session, locked), plans=plans,
                            invoice_id=cmd.invoice_id, on=cmd.applied_on, by=principal.sub, today=clock().date())
    await uow.commit()


@dataclass(frozen=True)
class IssueCreditNote:
    credit_note_id: uuid.UUID
    invoice_id: uuid.UUID
    amount: Money
    reason: str


async def issue_credit_note(uow: UnitOfWork, cmd: IssueCreditNote, principal: Principal) -> None:
    """Correct an issued invoice: a numbered credit note reduces what is open on it."""
    contract_id = await repository.contract_of_invoice(uow.session, cmd.invoice_id)
    plan = await repository.get_plan(uow.session, contract_id, for_update=True)
    [invoice] = [i for i in await repository.invoices_of_contracts(uow.session, [contract_id]) if i.id == cmd.invoice_id]
    now = clock()
    sequence = await repository.next_credit_note_sequence(uow.session, now.year)
    note = invoice.credit(credit_note_id=cmd.credit_note_id, number=credit_note_number(now.year, sequence),
                          amount=cmd.amount, reason=cmd.reason, issue_date=now.date(), issued_by=principal.sub,
                          plan=plan, now=now)
    uow.session.add(note)
    await uow.commit()


@dataclass
class ScheduledRun:
    as_of: date
    invoiced: list[uuid.UUID] = field(default_factory=list)
    dunned: list[tuple[OverdueInvoice, str]] = field(default_factory=list)


async def run_schedule(uow: UnitOfWork, as_of: date) -> ScheduledRun:
    """The scheduled job: bill instalments whose date has come, then advance dunning, as of `as_of`.

    A run may catch up on a past day, never run ahead: it publishes reminders and levels that a
    day not yet come cannot justify (and a later run would find them already sent).
    """
    require_happened("as_of", as_of, clock().date())
    await repository.serialize_scheduled_runs(uow.session)
    result = ScheduledRun(as_of)
    billing_day = min(as_of, clock().date())
    for contract_id in await repository.plans_with_date_instalments_due(uow.session, billing_day):
        plan = await repository.get_plan(uow.session, contract_id, for_update=True)
        due = plan.invoiceable(billing_day)
        await _issue_invoices(uow, plan, due)
        result.invoiced.extend(i.invoice_id for i in due if i.invoice_id is not None)
    overdue = [
        OverdueInvoice(invoice_id=i.id, number=i.number, contract_id=i.contract_id, account_id=i.account_id,
                       lineage=i.lineage(), due_date=i.due_date, open_amount=i.open_amount)
        for i in await repository.overdue_open_invoices(uow.session, as_of)
    ]
    states = await repository.dunning_states(uow.session, [i.invoice_id for i in overdue])
    known = set(states)
    for state, invoice in run_dunning(overdue, states, as_of):
        if state.invoice_id not in known:
            uow.session.add(state)
        assert state.level is not None
        result.dunned.append((invoice, state.level.value))
    await uow.commit()
    return result
