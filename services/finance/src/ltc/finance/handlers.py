"""Command and event handlers: load → domain → unit of work commit."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime

from ltc.finance.adapters import repository
from ltc.finance.domain.model import (
    BillingPlan,
    Instalment,
    InstalmentTerms,
    Trigger,
    invoice_number,
    receive_payment,
)
from ltc.shared.auth import Principal
from ltc.shared.db import UnitOfWork
from ltc.shared.errors import DomainError, RuleViolation
from ltc.shared.messages import Lineage, MoneyPayload
from ltc.shared.messages.contracts_events import ContractMilestoneAccepted, ContractSigned
from ltc.shared.messages.envelope import Envelope
from ltc.shared.money import Money, MoneyError
from sqlalchemy.exc import IntegrityError


def _now() -> datetime:
    return datetime.now(UTC)


def _money(payload: MoneyPayload, what: str) -> Money:
    try:
        return payload.to_money()
    except MoneyError as exc:
        raise DomainError("invalid-amount", f"{what}: {exc}") from None


async def _issue_invoices(uow: UnitOfWork, plan: BillingPlan, instalments: Sequence[Instalment]) -> None:
    for instalment in instalments:
        now = _now()
        sequence = await repository.next_invoice_sequence(uow.session, now.year)
        uow.session.add(plan.invoice(instalment, invoice_id=uuid.uuid4(), number=invoice_number(now.year, sequence),
                                     issue_date=now.date(), now=now))


async def on_contract_signed(uow: UnitOfWork, event: ContractSigned, envelope: Envelope) -> None:
    """One billing plan per contract; the instalments due on signing are invoiced at once."""
    if await repository.find_plan(uow.session, event.contract_id) is not None:
        return
    schedule = [
        InstalmentTerms(name=line.name, percent=line.percent, amount=_money(line.amount, f"instalment {line.name!r}"),
                        trigger=Trigger(line.trigger), milestone_id=line.milestone_id, due_days=line.due_days)
        for line in event.payment_schedule
    ]
    plan = BillingPlan(
        id=uuid.uuid4(), contract_id=event.contract_id, account_id=event.account_id,
        lineage=Lineage(lead_id=event.lineage.lead_id, opportunity_id=event.lineage.opportunity_id,
                        contract_id=event.contract_id),
        signed_on=event.signed_on, value=_money(event.value, "contract value"), schedule=schedule, now=_now(),
    )
    uow.session.add(plan)
    # Invoices reference the plan's rows, which must exist before they do.
    await uow.session.flush()
    await _issue_invoices(uow, plan, plan.due_on_signing())


async def on_contract_milestone_accepted(uow: UnitOfWork, event: ContractMilestoneAccepted, envelope: Envelope) -> None:
    """Invoice the instalments billed on this milestone; a repeated acceptance finds them invoiced."""
    plan = await repository.find_plan(uow.session, event.contract_id, for_update=True)
    if plan is None:
        # Both events travel on ltc.contracts keyed by contract id, so signing always comes first.
        raise DomainError("billing-plan-unknown", f"no billing plan for contract {event.contract_id}")
    await _issue_invoices(uow, plan, plan.due_on_milestone(event.milestone_id))


class PaymentAlreadyRecorded(Exception):
    """This bank payment was recorded before: the answer is the first recording."""

    def __init__(self, payment_id: uuid.UUID) -> None:
        super().__init__(f"payment {payment_id} has this bank reference")
        self.payment_id = payment_id


@dataclass(frozen=True)
class RecordPayment:
    payment_id: uuid.UUID
    bank_reference: str
    payer: str
    amount: Money
    value_date: date
    invoice_id: uuid.UUID | None
    contract_id: uuid.UUID | None


async def record_payment(uow: UnitOfWork, cmd: RecordPayment, principal: Principal) -> None:
    """Apply a bank payment to one contract's invoices; raises PaymentAlreadyRecorded for a repeat."""
    if cmd.invoice_id is None and cmd.contract_id is None:
        raise RuleViolation("payment-target-required", "name the invoice_id or the contract_id the payment is for",
                            errors=[{"field": "invoice_id", "message": "invoice_id or contract_id is required"},
                                    {"field": "contract_id", "message": "invoice_id or contract_id is required"}])
    contract_id = cmd.contract_id
    if cmd.invoice_id is not None:
        contract_id = await repository.contract_of_invoice(uow.session, cmd.invoice_id)
        if cmd.contract_id is not None and cmd.contract_id != contract_id:
            raise RuleViolation("invoice-not-of-contract",
                                f"invoice {cmd.invoice_id} does not belong to contract {cmd.contract_id}")
    assert contract_id is not None
    await repository.lock_plan(uow.session, contract_id)
    first = await repository.find_payment_by_bank_reference(uow.session, cmd.bank_reference)
    if first is not None:
        raise PaymentAlreadyRecorded(first.id)
    invoices = await repository.invoices_of_contract(uow.session, contract_id)
    plan = await repository.get_plan(uow.session, contract_id)
    uow.session.add(receive_payment(
        payment_id=cmd.payment_id, bank_reference=cmd.bank_reference, payer=cmd.payer, amount=cmd.amount,
        value_date=cmd.value_date, plan=plan, invoices=invoices, invoice_id=cmd.invoice_id,
        recorded_by=principal.sub, now=_now(),
    ))
    try:
        await uow.commit()
    except IntegrityError:
        # The same bank payment recorded concurrently for another contract won the unique constraint.
        first = await repository.find_payment_by_bank_reference(uow.session, cmd.bank_reference)
        if first is None:
            raise
        raise PaymentAlreadyRecorded(first.id) from None
