"""Command and event handlers: load → domain → audit → unit of work commit.

A command handler is `(uow, command, principal)` and returns the object the route answers from.
Every change a clerk or an event makes is written to the audit trail in the transaction of the
change: by the principal's `sub`, or `event:<CloudEvents type>` for what an event did.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from decimal import Decimal
from enum import StrEnum
from typing import Any

from sqlalchemy.exc import IntegrityError

from ltc.finance.adapters import collections_queries, queries, repository
from ltc.finance.domain.adjustments import (
    BadDebtTiers,
    CashTolerance,
    Refund,
    RefundApproval,
    WriteOff,
    WriteOffKind,
    WriteOffRequest,
)
from ltc.finance.domain.bank import (
    STATEMENT_CONFLICT,
    BankEntry,
    BankStatement,
    BankTransaction,
    MatchRule,
    ParsedStatement,
    TransactionStatus,
    clues,
    single_match,
    sum_match,
)
from ltc.finance.domain.billing_plan import BillingPlan, Instalment, InstalmentTerms
from ltc.finance.domain.collections import (
    CollectionsAction,
    CollectionsAudited,
    Hold,
    PromiseStatus,
    PromiseToPay,
    dunning_holds,
)
from ltc.finance.domain.invoice import CreditNote, Invoice, credit_note_number, invoice_number
from ltc.finance.domain.journal import AccountCodes
from ltc.finance.domain.lines import LineCredit
from ltc.finance.domain.parties import AccountChange, SellerIdentity
from ltc.finance.domain.payment import Application, Payment, PaymentTarget, receive_payment
from ltc.finance.domain.receivables import DunningLevel, OverdueInvoice, run_dunning
from ltc.finance.domain.tax import InvoiceTotals, TaxedLine, TaxRules, vat_deciding
from ltc.shared.audit import AuditEntry
from ltc.shared.controls import require_happened
from ltc.shared.db import UnitOfWork
from ltc.shared.lines import SalesLine
from ltc.shared.messages import Lineage, MoneyPayload
from ltc.shared.messages.base import LinePayload
from ltc.shared.messages.contracts_events import (
    ContractAmended,
    ContractMilestoneAccepted,
    ContractMilestonePayload,
    ContractSigned,
    InstalmentPayload,
)
from ltc.shared.messages.envelope import Envelope
from ltc.shared.messages.finance_events import BankStatementImported, ContractFullyPaid, StatementTotal
from ltc.shared.messages.leads_events import AccountCreated, AccountUpdated, LeadCreated
from ltc.shared.messages.opportunities_events import OpportunityWon
from ltc.shared.money import Money, MoneyError
from ltc.shared.policy import PolicyVersion, set_policy
from ltc.shared.roles import Principal
from ltc.shared.rules import DomainError, RuleViolation, require_version
from ltc.shared.tiers import authority_of


def _utc_now() -> datetime:
    return datetime.now(UTC)


# The service's one clock: issue dates, "today" for date triggers, dunning and dates of record,
# the default day of an application or a receivables report, audit times. Tests replace it to
# run the calendar forward.
clock: Callable[[], datetime] = _utc_now


def today() -> date:
    """The service's date (UTC) by its clock."""
    return clock().date()


# The scheduled worker's own runs act as this principal; their audit entries name it.
SCHEDULED_RUN = Principal(sub="system:scheduled-run", roles=frozenset())


class Audited(StrEnum):
    """The kinds of object finance's audit trail names (`object_type`)."""

    BILLING_PLAN = "billing_plan"
    INVOICE = "invoice"
    CREDIT_NOTE = "credit_note"
    PAYMENT = "payment"
    BANK_STATEMENT = "bank_statement"
    REFUND = "refund"
    WRITE_OFF_REQUEST = "write_off_request"


class Action(StrEnum):
    """What an audit entry says happened (`action`)."""

    OPENED = "opened"  # a billing plan, on signing
    AMENDED = "amended"
    MILESTONE_ACCEPTED = "milestone_accepted"
    FULLY_PAID = "fully_paid"
    ISSUED = "issued"  # an invoice or a credit note
    HELD = "held"  # an instalment due but not invoiceable yet (with the reason)
    DUNNED = "dunned"
    RECORDED = "recorded"  # a payment
    APPLIED = "applied"
    CONFIRMED = "confirmed"  # a payment, by a statement entry
    RETURNED = "returned"  # a payment, by the bank
    WRITTEN_OFF = "written_off"  # an invoice
    IMPORTED = "imported"  # a bank statement
    ALLOCATED = "allocated"  # a suspense credit, by hand
    SENT_BACK = "sent_back"  # a suspense credit, to its payer
    REQUESTED = "requested"  # a refund or a bad-debt write-off, waiting for its decision
    DECIDED = "decided"  # approved or rejected, by a second person / the tier


def _by_event(envelope: Envelope) -> str:
    return f"event:{envelope.type}"


def _money(payload: MoneyPayload, what: str) -> Money:
    try:
        return payload.to_money()
    except MoneyError as exc:
        raise DomainError("invalid-amount", f"{what}: {exc}") from None


def _terms(schedule: Sequence[InstalmentPayload]) -> list[InstalmentTerms]:
    return [InstalmentTerms(name=line.name, percent=line.percent, amount=_money(line.amount, f"instalment {line.name!r}"),
                            trigger=line.trigger, milestone_id=line.milestone_id, due_days=line.due_days,
                            invoice_on=line.due_date)
            for line in schedule]


def _lines(lines: Sequence[LinePayload], milestones: Sequence[ContractMilestonePayload]
           ) -> tuple[list[SalesLine], dict[str, uuid.UUID]]:
    try:
        return [line.to_line() for line in lines], {m.name: m.milestone_id for m in milestones}
    except MoneyError as exc:
        raise DomainError("invalid-amount", f"contract line: {exc}") from None


def _applications(applied: Iterable[Application], currency: str) -> list[dict[str, object]]:
    return [{"invoice_id": a.invoice_id, "contract_id": a.contract_id, "amount": Money(a.amount, currency)}
            for a in applied]


def _audit_settlements(uow: UnitOfWork, plans: Iterable[BillingPlan], at: datetime, actor: str) -> None:
    """A contract that a change left fully paid says so in its own history."""
    for plan in plans:
        for event in plan.events:
            if isinstance(event, ContractFullyPaid):
                uow.audit(AuditEntry(at, actor, Action.FULLY_PAID, Audited.BILLING_PLAN, plan.id, {
                    "fully_paid_on": event.fully_paid_on, "collected": plan.collected, "credited": plan.credited},
                    filed_under=(plan.contract_id,)))


async def _issue_invoices(uow: UnitOfWork, plan: BillingPlan, instalments: Sequence[Instalment],
                          actor: str) -> list[Invoice]:
    """Invoice what is due. One whose VAT cannot be decided (no bill-to yet, no tax rule for the
    countries, a reverse charge without the buyer's VAT id) is held with the reason instead: the
    event that made it due is not refused, and it is issued when what it waits for arrives."""
    issued: list[Invoice] = []
    if not instalments:
        return issued
    # The parties and rules as they are now: each invoice keeps its own snapshot of the parties.
    bill_to = await repository.account_billing(uow.session, plan.account_id)
    seller = (await queries.seller_identity(uow.session)).document
    vat_of = vat_deciding(TaxRules.from_json((await queries.tax_rules(uow.session)).document), seller, bill_to)
    for instalment in instalments:
        now = clock()
        try:
            InvoiceTotals.of([TaxedLine(Money(line.net, plan.currency), line.vat)
                              for line in plan.lines_of(instalment, vat_of)],
                             buyer_tax_id=(bill_to or {}).get("tax_id"))
        except RuleViolation as exc:
            if instalment.hold_reason != exc.detail:
                instalment.hold_reason = exc.detail
                uow.audit(AuditEntry(now, actor, Action.HELD, Audited.BILLING_PLAN, plan.id, {
                    "instalment": instalment.name, "rule": exc.rule, "reason": exc.detail},
                    filed_under=(plan.contract_id,)))
            continue
        sequence = await repository.next_invoice_sequence(uow.session, now.year)
        invoice = plan.invoice(instalment, invoice_id=uuid.uuid4(), number=invoice_number(now.year, sequence),
                               issue_date=now.date(), now=now, vat_of=vat_of, bill_to=bill_to, seller=seller)
        uow.session.add(invoice)
        uow.audit(AuditEntry(now, actor, Action.ISSUED, Audited.INVOICE, invoice.id, {
            "number": invoice.number, "instalment": invoice.instalment, "amount": invoice.amount,
            "issue_date": invoice.issue_date, "due_date": invoice.due_date}, filed_under=(plan.contract_id,)))
        issued.append(invoice)
    return issued


def _audit_plan(uow: UnitOfWork, plan: BillingPlan, action: Action, actor: str,
                schedule: Sequence[InstalmentTerms]) -> None:
    uow.audit(AuditEntry(clock(), actor, action, Audited.BILLING_PLAN, plan.id, {
        "contract_id": plan.contract_id, "contract_version": plan.contract_version, "value": plan.value,
        "instalments": list(schedule)}, filed_under=(plan.contract_id,)))


# --- events from the earlier stages ---------------------------------------------------------


async def on_contract_signed(uow: UnitOfWork, event: ContractSigned, envelope: Envelope) -> None:
    """One billing plan per contract; the instalments due on signing are invoiced at once."""
    if await repository.find_plan(uow.session, event.contract_id) is not None:
        return
    lead_created_on, won_on = await repository.flow_dates(uow.session, lead_id=event.lineage.lead_id,
                                                          opportunity_id=event.lineage.opportunity_id)
    schedule = _terms(event.payment_schedule)
    lines, milestones = _lines(event.lines, event.milestones)
    plan = BillingPlan(
        id=uuid.uuid4(), contract_id=event.contract_id, account_id=event.account_id,
        account_name=event.account_name,
        lineage=Lineage(lead_id=event.lineage.lead_id, opportunity_id=event.lineage.opportunity_id,
                        contract_id=event.contract_id),
        signed_on=event.signed_on, value=_money(event.value, "contract value"), schedule=schedule,
        now=clock(), won_on=won_on, lead_created_on=lead_created_on, lines=lines, milestones=milestones,
    )
    uow.session.add(plan)
    _audit_plan(uow, plan, Action.OPENED, _by_event(envelope), schedule)
    # Invoices reference the plan's rows, which must exist before they do.
    await uow.session.flush()
    await _issue_invoices(uow, plan, plan.invoiceable(today()), _by_event(envelope))


async def on_contract_milestone_accepted(uow: UnitOfWork, event: ContractMilestoneAccepted, envelope: Envelope) -> None:
    """Invoice the instalments billed on this milestone; a repeated acceptance finds them invoiced."""
    plan = await repository.find_plan(uow.session, event.contract_id, for_update=True)
    if plan is None:
        # Both events travel on ltc.contracts keyed by contract id, so signing always comes first.
        raise DomainError("billing-plan-unknown", f"no billing plan for contract {event.contract_id}")
    if event.milestone_id not in plan.accepted_milestones:
        uow.audit(AuditEntry(clock(), _by_event(envelope), Action.MILESTONE_ACCEPTED, Audited.BILLING_PLAN, plan.id,
                             {"milestone_id": event.milestone_id, "accepted_on": event.accepted_on},
                             filed_under=(plan.contract_id,)))
    await _issue_invoices(uow, plan, plan.accept_milestone(event.milestone_id), _by_event(envelope))


async def on_contract_amended(uow: UnitOfWork, event: ContractAmended, envelope: Envelope) -> None:
    """Re-plan what is not invoiced yet; what the amendment makes due (an accepted milestone) is invoiced."""
    plan = await repository.find_plan(uow.session, event.contract_id, for_update=True)
    if plan is None:
        raise DomainError("billing-plan-unknown", f"no billing plan for contract {event.contract_id}")
    schedule = _terms(event.payment_schedule)
    lines, milestones = _lines(event.lines, event.milestones)
    if plan.amend(contract_version=event.contract_version, value=_money(event.value, "contract value"),
                  schedule=schedule, on=event.amended_at.date(), lines=lines, milestones=milestones):
        _audit_plan(uow, plan, Action.AMENDED, _by_event(envelope), schedule)
        _audit_settlements(uow, [plan], clock(), _by_event(envelope))
        await uow.session.flush()
        await _issue_invoices(uow, plan, plan.invoiceable(today()), _by_event(envelope))


async def on_opportunity_won(uow: UnitOfWork, event: OpportunityWon, envelope: Envelope) -> None:
    """Remember the account manager (who may read the account's receivables) and the day it was won."""
    await repository.remember_opportunity_won(uow.session, opportunity_id=event.opportunity_id,
                                              account_id=event.account_id, owner=event.owner,
                                              won_on=event.won_at.date())


async def on_lead_created(uow: UnitOfWork, event: LeadCreated, envelope: Envelope) -> None:
    """Remember when the lead was created: the start of its lead-to-cash cycle."""
    await repository.remember_lead_created(uow.session, lead_id=event.lead_id, created_on=event.created_at.date())


async def _copy_account(uow: UnitOfWork, event: AccountCreated | AccountUpdated, as_of: datetime,
                        change: AccountChange) -> None:
    billing = event.billing.model_dump(mode="json") if event.billing is not None else None
    await repository.copy_account(uow.session, account_id=event.account_id, name=event.name, owner=event.owner,
                                  billing=billing, as_of=as_of, change=change)


async def on_account_created(uow: UnitOfWork, event: AccountCreated, envelope: Envelope) -> None:
    """Keep a copy of the account: the bill-to of the invoices issued to it from now on (and of
    those held waiting for it)."""
    await _copy_account(uow, event, event.created_at, AccountChange.CREATED)
    await release_held(uow, _by_event(envelope), account_id=event.account_id)


async def on_account_updated(uow: UnitOfWork, event: AccountUpdated, envelope: Envelope) -> None:
    """Replace the copy with the account as it is now, unless finance holds a newer state; issued
    invoices keep the bill-to they were issued with, held ones are tried again."""
    await _copy_account(uow, event, event.updated_at, AccountChange.UPDATED)
    await release_held(uow, _by_event(envelope), account_id=event.account_id)


async def release_held(uow: UnitOfWork, actor: str, *, account_id: uuid.UUID | None = None) -> list[Invoice]:
    """Try the held instalments again (of one account's plans, or all): what they waited for may be
    there now."""
    issued: list[Invoice] = []
    for contract_id in await repository.plans_with_held_instalments(uow.session, account_id=account_id):
        plan = await repository.find_plan(uow.session, contract_id, for_update=True)
        if plan is not None:
            issued += await _issue_invoices(uow, plan, plan.invoiceable(today()), actor)
    return issued


# --- payments -------------------------------------------------------------------------------


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
    invoice_number: str | None = None  # the invoice as a remittance advice cites it: instead of invoice_id
    end_to_end_id: str | None = None  # the payer's bank's id of the transfer: the statement confirms by it
    confirmed_by: uuid.UUID | None = None  # the statement entry the payment comes from, if it does
    only_invoices: tuple[uuid.UUID, ...] = ()  # with account_id: pay just these (they sum to the amount)


async def _named_invoice(uow: UnitOfWork, invoice_id: uuid.UUID | None, number: str | None) -> uuid.UUID | None:
    """The invoice a command names, by id or by number (one of the two): an unknown id is not
    found (404); an unknown number is a field of the request that names nothing (422)."""
    if number is None:
        return invoice_id
    if invoice_id is not None:
        raise RuleViolation("invoice-named-twice", "name the invoice by invoice_id or by invoice_number, not both",
                            errors=[{"field": f, "message": "give invoice_id or invoice_number, not both"}
                                    for f in ("invoice_id", "invoice_number")])
    found = await repository.invoice_id_by_number(uow.session, number)
    if found is None:
        raise RuleViolation("invoice-number-unknown", f"no invoice is numbered {number!r}",
                            errors=[{"field": "invoice_number", "message": f"no invoice is numbered {number!r}"}])
    return found


@dataclass(frozen=True)
class RecordedPayment:
    """The payment a recording answers with; not `new` when the bank payment was recorded before."""

    payment: Payment
    new: bool


async def _target_contract(uow: UnitOfWork, invoice_id: uuid.UUID | None, cmd: RecordPayment) -> uuid.UUID | None:
    contract_id = cmd.contract_id
    if invoice_id is not None:
        contract_id = await repository.contract_of_invoice(uow.session, invoice_id)
        if cmd.contract_id is not None and cmd.contract_id != contract_id:
            raise RuleViolation("invoice-not-of-contract",
                                f"invoice {invoice_id} does not belong to contract {cmd.contract_id}")
    return contract_id


def _recorded_before(first: Payment, cmd: RecordPayment) -> RecordedPayment:
    first.require_same_receipt(amount=cmd.amount, payer=cmd.payer, value_date=cmd.value_date)
    return RecordedPayment(first, new=False)


async def record_payment(uow: UnitOfWork, cmd: RecordPayment, principal: Principal) -> RecordedPayment:
    """Apply a bank payment to an invoice, a contract or an account; a known one answers its first recording."""
    recorded = await _record(uow, cmd, principal)
    if not recorded.new:
        return recorded
    try:
        await uow.commit()
    except IntegrityError:
        # The same bank payment recorded concurrently for another contract won the unique constraint.
        first = await repository.find_payment_by_bank_reference(uow.session, cmd.bank_reference)
        if first is None:
            raise
        return _recorded_before(first, cmd)
    return recorded


async def _record(uow: UnitOfWork, cmd: RecordPayment, principal: Principal) -> RecordedPayment:
    """The payment recorded in the unit of work (not committed), or the one recorded before."""
    targets = ("invoice_id", "invoice_number", "contract_id", "account_id")
    if all(getattr(cmd, target) is None for target in targets):
        raise RuleViolation("payment-target-required",
                            "name the invoice_id, invoice_number, contract_id or account_id the payment is for",
                            errors=[{"field": f, "message": "invoice_id, invoice_number, contract_id or account_id "
                                                            "is required"} for f in targets])
    invoice_id = await _named_invoice(uow, cmd.invoice_id, cmd.invoice_number)
    contract_id = await _target_contract(uow, invoice_id, cmd)
    if contract_id is not None:
        locked = await repository.lock_plans(uow.session, contract_id=contract_id)
    else:
        locked = await repository.lock_plans(uow.session, account_id=cmd.account_id)
    first = await repository.find_payment_by_bank_reference(uow.session, cmd.bank_reference)
    if first is not None:
        return _recorded_before(first, cmd)
    plans = await repository.plans_of(uow.session, locked)
    account_ids = {plan.account_id for plan in plans.values()}
    account_id = cmd.account_id if cmd.account_id is not None else (account_ids.pop() if len(account_ids) == 1 else None)
    if cmd.account_id is not None and any(plan.account_id != cmd.account_id for plan in plans.values()):
        raise RuleViolation("invoice-not-of-account", f"the invoice or contract named is not of account {cmd.account_id}")
    now = clock()
    payment = receive_payment(
        payment_id=cmd.payment_id, bank_reference=cmd.bank_reference, payer=cmd.payer, amount=cmd.amount,
        value_date=cmd.value_date, target=PaymentTarget(invoice_id, contract_id, account_id), plans=plans,
        invoices=[i for i in await repository.invoices_of_contracts(uow.session, locked)
                  if not cmd.only_invoices or i.id in cmd.only_invoices],
        recorded_by=principal.sub, now=now, end_to_end_id=cmd.end_to_end_id, confirmed_by=cmd.confirmed_by,
    )
    uow.session.add(payment)
    uow.audit(AuditEntry(now, principal.sub, Action.RECORDED, Audited.PAYMENT, payment.id, {
        "bank_reference": payment.bank_reference, "payer": payment.payer, "amount": payment.amount,
        "value_date": payment.value_date, "invoice_id": payment.invoice_id, "contract_id": payment.contract_id,
        "account_id": payment.account_id, "applications": _applications(payment.applications, payment.currency),
        "unapplied": payment.unapplied, "status": payment.status, "end_to_end_id": payment.end_to_end_id,
        "bank_transaction_id": payment.bank_transaction_id},
        filed_under=(*(a.invoice_id for a in payment.applications), *(a.contract_id for a in payment.applications),
                     payment.invoice_id, payment.contract_id, payment.account_id)))
    _audit_settlements(uow, plans.values(), now, principal.sub)
    return RecordedPayment(payment, new=True)


# --- bank statements ------------------------------------------------------------------------


@dataclass(frozen=True)
class ImportStatements:
    statements: tuple[ParsedStatement, ...]  # as the file holds them, already read and validated


@dataclass(frozen=True)
class ImportedStatement:
    statement: BankStatement
    new: bool  # False: imported before, answered as then


async def import_statements(uow: UnitOfWork, cmd: ImportStatements, principal: Principal) -> list[ImportedStatement]:
    """Each statement once: its credits confirm the payments typed in before or are matched to the
    invoices they name and recorded as their payments, the rest kept in suspense; its debits that
    return one of our payments return it. All in one transaction with the statement."""
    answers = []
    tolerance = CashTolerance.from_json((await queries.cash_tolerance(uow.session)).document)
    for parsed in cmd.statements:
        held = await repository.find_statement(uow.session, parsed.account_iban, parsed.statement_id)
        if held is not None:
            if held.content_sha256 != parsed.fingerprint:
                raise DomainError(STATEMENT_CONFLICT, f"statement {parsed.statement_id} of {parsed.account_iban} "
                                  f"was imported on {held.imported_at.date()} with other content: a corrected "
                                  "statement is a new statement")
            answers.append(ImportedStatement(held, new=False))
            continue
        statement = BankStatement(id=uuid.uuid4(), parsed=parsed, imported_by=principal.sub, now=clock())
        uow.session.add(statement)
        await uow.session.flush()  # the transactions a payment names exist first
        for transaction, entry in zip(statement.transactions, parsed.entries, strict=True):
            if entry.credit:
                await _match(uow, transaction, entry, principal, tolerance)
            else:
                await _match_return(uow, transaction, entry, principal)
        count = {status: sum(t.status is status for t in statement.transactions) for status in TransactionStatus}
        uow.audit(AuditEntry(clock(), principal.sub, Action.IMPORTED, Audited.BANK_STATEMENT, statement.id, {
            "statement_id": statement.statement_id, "account_iban": statement.account_iban,
            "transactions": len(statement.transactions), "matched": count[TransactionStatus.MATCHED],
            "suspense": count[TransactionStatus.SUSPENSE]}))
        uow.publish(_imported(statement, count))
        answers.append(ImportedStatement(statement, new=True))
    await uow.commit()
    return answers


def _imported(statement: BankStatement, count: dict[TransactionStatus, int]) -> BankStatementImported:
    totals: dict[str, dict[str, Money]] = {}
    for t in statement.transactions:
        zero = Money.zero(t.currency)
        row = totals.setdefault(t.currency, {k: zero for k in ("credited", "debited", "matched", "suspense")})
        row["credited" if t.credit else "debited"] += t.money
        if t.credit and t.status in (TransactionStatus.MATCHED, TransactionStatus.SUSPENSE):
            row[t.status.value] += t.money
    return BankStatementImported(
        statement_id=statement.id, bank_statement_id=statement.statement_id, account_iban=statement.account_iban,
        message_type=statement.message_type, imported_at=statement.imported_at,
        transactions=len(statement.transactions), matched=count[TransactionStatus.MATCHED],
        suspense=count[TransactionStatus.SUSPENSE],
        to_review=count[TransactionStatus.TO_REVIEW] + count[TransactionStatus.RETURN],
        totals=[StatementTotal(currency=c, **{k: MoneyPayload.of(v) for k, v in row.items()})
                for c, row in sorted(totals.items())])


async def _lock_for(uow: UnitOfWork, payment: Payment) -> tuple[Payment, dict[uuid.UUID, Invoice],
                                                                  dict[uuid.UUID, BillingPlan]]:
    """The payment, fresh and locked, with the invoices and plans it paid, their cash locks held
    first (the order every recording takes). Cash applied to another contract between the first
    read and the payment's lock takes that contract's lock too, so no plan it paid is missing."""
    locked: list[uuid.UUID] = []
    while True:
        contracts = sorted({a.contract_id for a in payment.applications} - set(locked))
        if contracts:
            locked += await repository.lock_plans(uow.session, contract_ids=contracts)
        payment = await repository.get_payment(uow.session, payment.id, for_update=True)
        if {a.contract_id for a in payment.applications} <= set(locked):
            break
    plans = await repository.plans_of(uow.session, locked) if locked else {}
    invoices = {i.id: i for i in await repository.invoices_of_contracts(uow.session, locked)} if locked else {}
    return payment, invoices, plans


async def _confirm(uow: UnitOfWork, payment: Payment, transaction: BankTransaction, on: date, actor: str) -> None:
    payment, invoices, plans = await _lock_for(uow, payment)
    payment.confirm(transaction_id=transaction.id, on=on, invoices=invoices, plans=plans)
    uow.audit(AuditEntry(clock(), actor, Action.CONFIRMED, Audited.PAYMENT, payment.id, {
        "bank_transaction_id": transaction.id, "confirmed_on": on, "statement_id": transaction.statement_id},
        filed_under=(*(a.invoice_id for a in payment.applications), *(a.contract_id for a in payment.applications))))
    _audit_settlements(uow, plans.values(), clock(), actor)
    transaction.matched(MatchRule.EXPECTED_PAYMENT, payment.invoice_id, payment.id)


async def _match(uow: UnitOfWork, transaction: BankTransaction, entry: BankEntry, principal: Principal,
                 tolerance: CashTolerance) -> None:
    """Confirm the payment typed in for this entry; else the first clue that names an invoice in
    the entry's currency pays it; else a payer known by its IBAN paying what one, or several, of
    its account's invoices are open for; else the cash waits in suspense (never guessed onto an
    invoice of another currency). A shortfall within the tolerance is written off."""
    expected = await repository.expected_payment(uow.session, entry.reference, entry.end_to_end_id)
    if expected is not None and expected.amount == entry.amount:
        await _confirm(uow, expected, transaction, entry.booking_date or entry.value_date, principal.sub)
        return
    if expected is not None or await repository.find_payment_by_bank_reference(uow.session, entry.reference):
        return  # a payment of ours already has this reference with other facts: a clerk must look
    candidates: list[tuple[MatchRule, list[uuid.UUID]]] = []
    for clue in clues(entry):
        found = await repository.invoice_by_reference(
            uow.session, **({"payment_reference": clue.value} if clue.rule is MatchRule.CREDITOR_REFERENCE
                            else {"number": clue.value}))
        if found is not None and found[1] == entry.amount.currency:
            candidates.append((clue.rule, [found[0]]))
    payer = await repository.account_of_payer(uow.session, entry.counterparty_iban) if (
        not candidates and entry.counterparty_iban) else None
    if payer is not None:
        open_invoices = await repository.open_invoices_of_account(uow.session, payer, entry.amount.currency)
        one = single_match(entry.amount.amount, open_invoices, tolerance.of(entry.amount.currency))
        several = sum_match(entry.amount.amount, open_invoices) if one is None else None
        if one is not None:
            candidates.append((MatchRule.AMOUNT_AND_PAYER, [one.invoice_id]))
        elif several is not None:
            candidates.append((MatchRule.SUM_OF_INVOICES, [c.invoice_id for c in several]))
    if not candidates:
        return
    rule, invoice_ids = candidates[0]
    short = Money.zero(entry.amount.currency)
    if len(invoice_ids) == 1:
        gap = Money(await repository.open_amount_of(uow.session, invoice_ids[0]), entry.amount.currency) - entry.amount
        if Decimal(0) < gap.amount <= tolerance.of(entry.amount.currency):
            short = gap
    recorded = await _record(uow, RecordPayment(
        payment_id=uuid.uuid4(), bank_reference=entry.reference, payer=entry.counterparty_name or "unknown payer",
        amount=entry.amount, value_date=entry.value_date, invoice_id=invoice_ids[0] if len(invoice_ids) == 1 else None,
        contract_id=None, account_id=payer if len(invoice_ids) > 1 else None, end_to_end_id=entry.end_to_end_id,
        confirmed_by=transaction.id, only_invoices=tuple(invoice_ids) if len(invoice_ids) > 1 else ()), principal)
    await uow.session.flush()  # the payment the transaction names exists first
    transaction.matched(rule, invoice_ids[0] if len(invoice_ids) == 1 else None, recorded.payment.id)
    if not short.is_zero():
        await _write_off(uow, invoice_ids[0], short, WriteOffKind.SMALL_BALANCE,
                         f"paid {entry.amount.amount} by {entry.reference}: the shortfall is within the tolerance",
                         principal.sub, bank_transaction_id=transaction.id)


async def _match_return(uow: UnitOfWork, transaction: BankTransaction, entry: BankEntry,
                        principal: Principal) -> None:
    """A debit for the whole amount of one of our payments, naming it by its end-to-end id or its
    bank reference, returns it; any other debit waits for review."""
    quoted = [text for text in (entry.remittance, entry.creditor_reference) if text]
    references = [word for text in quoted for word in text.replace(",", " ").split()]
    payment = await repository.payment_returned_by(uow.session, entry.end_to_end_id, references)
    if payment is None or payment.amount != entry.amount or not payment.refunded.is_zero():
        return  # none of ours, a part, or one with a refund: kept for review
    await _return(uow, payment, on=entry.booking_date or entry.value_date, reason=entry.return_reason,
                  transaction_id=transaction.id, actor=principal.sub)
    transaction.returned(payment.id)


async def _return(uow: UnitOfWork, payment: Payment, *, on: date, reason: str | None,
                  transaction_id: uuid.UUID | None, actor: str, expected_version: int | None = None) -> Payment:
    payment, invoices, plans = await _lock_for(uow, payment)
    # Checked on the locked row: a change between the first read and the lock is seen.
    require_version(payment.version, expected_version, what=f"payment {payment.id}")
    payment.return_(on=on, reason=reason, transaction_id=transaction_id, invoices=invoices, plans=plans)
    uow.audit(AuditEntry(clock(), actor, Action.RETURNED, Audited.PAYMENT, payment.id, {
        "returned_on": on, "return_reason": reason, "bank_transaction_id": transaction_id,
        "reopened": _applications(payment.applications, payment.currency)},
        filed_under=(*(a.invoice_id for a in payment.applications), *(a.contract_id for a in payment.applications),
                     payment.account_id)))
    return payment


async def _write_off(uow: UnitOfWork, invoice_id: uuid.UUID, amount: Money, kind: WriteOffKind, reason: str,
                     actor: str, *, bank_transaction_id: uuid.UUID | None = None,
                     expected_version: int | None = None) -> WriteOff:
    contract_id = await repository.contract_of_invoice(uow.session, invoice_id)
    [locked] = await repository.lock_plans(uow.session, contract_id=contract_id)
    plan = (await repository.plans_of(uow.session, [locked]))[contract_id]
    [invoice] = [i for i in await repository.invoices_of_contracts(uow.session, [contract_id]) if i.id == invoice_id]
    require_version(invoice.version, expected_version, what=f"invoice {invoice.number}")
    now = clock()
    write_off = WriteOff(id=uuid.uuid4(), invoice=invoice, plan=plan, amount=amount, kind=kind, reason=reason,
                         on=now.date(), decided_by=actor, now=now, bank_transaction_id=bank_transaction_id)
    uow.session.add(write_off)
    uow.audit(AuditEntry(now, actor, Action.WRITTEN_OFF, Audited.INVOICE, invoice.id, {
        "write_off_id": write_off.id, "amount": amount, "kind": kind, "reason": write_off.reason,
        "invoice_open_amount": invoice.open_amount, "bank_transaction_id": bank_transaction_id},
        filed_under=(contract_id,)))
    _audit_settlements(uow, [plan], now, actor)
    return write_off


# --- exceptions a clerk records -------------------------------------------------------------


@dataclass(frozen=True)
class ReturnPayment:
    payment_id: uuid.UUID
    returned_on: date
    reason: str  # the bank's return reason code (AC04, MD06, ...) or the clerk's words
    expected_version: int | None = None


async def return_payment(uow: UnitOfWork, cmd: ReturnPayment, principal: Principal) -> Payment:
    """The bank advised that a payment came back (before its statement shows it): its invoices are
    open again; the statement's debit for it will find it returned."""
    require_happened("returned_on", cmd.returned_on, today())
    payment = await repository.get_payment(uow.session, cmd.payment_id)
    if cmd.expected_version is None:
        require_version(payment.version, None, what=f"payment {payment.id}")  # 428 before any lock is taken
    payment = await _return(uow, payment, on=cmd.returned_on, reason=cmd.reason, transaction_id=None,
                            expected_version=cmd.expected_version,
                            actor=principal.sub)
    await uow.commit()
    return payment


@dataclass(frozen=True)
class WriteOffSmallBalance:
    invoice_id: uuid.UUID
    amount: Money | None  # None: all that is open
    reason: str
    expected_version: int | None = None


async def write_off_small_balance(uow: UnitOfWork, cmd: WriteOffSmallBalance, principal: Principal) -> WriteOff:
    """A finance clerk writes off what is left open on an invoice, up to the currency's tolerance;
    more is a bad debt, which is not the clerk's to decide."""
    invoice = await repository.get_invoice(uow.session, cmd.invoice_id)
    amount = cmd.amount or invoice.open_amount
    limit = CashTolerance.from_json((await queries.cash_tolerance(uow.session)).document).of(amount.currency)
    if amount.amount > limit:
        raise RuleViolation("write-off-above-tolerance",
                            f"{amount.amount} {amount.currency} is above the small-balance tolerance of {limit}: "
                            "a larger amount is a bad debt, decided by the approval tiers",
                            errors=[{"field": "amount", "message": f"at most {limit} {amount.currency}"}])
    write_off = await _write_off(uow, cmd.invoice_id, amount, WriteOffKind.SMALL_BALANCE, cmd.reason,
                                 principal.sub, expected_version=cmd.expected_version)
    await uow.commit()
    return write_off


@dataclass(frozen=True)
class RequestRefund:
    refund_id: uuid.UUID
    payment_id: uuid.UUID
    amount: Money
    beneficiary_name: str
    beneficiary_iban: str
    reason: str
    expected_version: int | None = None  # the payment's


async def request_refund(uow: UnitOfWork, cmd: RequestRefund, principal: Principal) -> Refund:
    """Pay unapplied cash back: issued at once up to the currency's approval amount, else held for
    a second finance person; either way the amount leaves the payment's unapplied cash now."""
    payment = await repository.get_payment(uow.session, cmd.payment_id, for_update=True)
    require_version(payment.version, cmd.expected_version, what=f"payment {payment.id}")
    policy = RefundApproval.from_json((await queries.refund_approval(uow.session)).document)
    refund = Refund(id=cmd.refund_id, payment=payment, amount=cmd.amount, beneficiary_name=cmd.beneficiary_name,
                    beneficiary_iban=cmd.beneficiary_iban, reason=cmd.reason, requested_by=principal.sub,
                    now=clock(), policy=policy)
    uow.session.add(refund)
    uow.audit(AuditEntry(clock(), principal.sub, Action.REQUESTED, Audited.REFUND, refund.id, {
        "payment_id": payment.id, "amount": refund.amount, "beneficiary_iban": refund.beneficiary_iban,
        "reason": refund.reason, "status": refund.status, "unapplied": payment.unapplied},
        filed_under=(payment.id, payment.account_id)))
    await uow.commit()
    return refund


@dataclass(frozen=True)
class DecideRefund:
    refund_id: uuid.UUID
    approve: bool
    note: str | None
    expected_version: int | None = None


async def decide_refund(uow: UnitOfWork, cmd: DecideRefund, principal: Principal) -> Refund:
    refund = await repository.get_refund(uow.session, cmd.refund_id)
    payment = await repository.get_payment(uow.session, refund.payment_id, for_update=True)
    refund = await repository.get_refund(uow.session, cmd.refund_id, for_update=True)
    require_version(refund.version, cmd.expected_version, what=f"refund {refund.id}")
    refund.decide(approve=cmd.approve, by=principal.sub, note=cmd.note, now=clock(), payment=payment)
    uow.audit(AuditEntry(clock(), principal.sub, Action.DECIDED, Audited.REFUND, refund.id, {
        "approved": cmd.approve, "note": refund.decision_note, "status": refund.status,
        "unapplied": payment.unapplied}, filed_under=(payment.id, payment.account_id)))
    await uow.commit()
    return refund


@dataclass(frozen=True)
class RequestBadDebtWriteOff:
    request_id: uuid.UUID
    invoice_id: uuid.UUID
    amount: Money | None  # None: all that is open
    reason: str


async def request_bad_debt_write_off(uow: UnitOfWork, cmd: RequestBadDebtWriteOff,
                                     principal: Principal) -> WriteOffRequest:
    """A bad debt goes to the tier its amount requires; nothing is written off until it decides."""
    invoice = await repository.get_invoice(uow.session, cmd.invoice_id)
    tiers = BadDebtTiers.from_json((await queries.bad_debt_tiers(uow.session)).document)
    request = WriteOffRequest(id=cmd.request_id, invoice=invoice, amount=cmd.amount or invoice.open_amount,
                              reason=cmd.reason, requested_by=principal.sub, now=clock(), tiers=tiers)
    uow.session.add(request)
    uow.audit(AuditEntry(clock(), principal.sub, Action.REQUESTED, Audited.WRITE_OFF_REQUEST, request.id, {
        "invoice_id": invoice.id, "amount": request.amount, "tier": request.tier, "reason": request.reason},
        filed_under=(invoice.id, invoice.contract_id)))
    await uow.commit()
    return request


@dataclass(frozen=True)
class DecideBadDebtWriteOff:
    request_id: uuid.UUID
    approve: bool
    note: str | None
    expected_version: int | None = None


async def decide_bad_debt_write_off(uow: UnitOfWork, cmd: DecideBadDebtWriteOff,
                                    principal: Principal) -> WriteOffRequest:
    """The tier decides (never the requester); approved, what is open is written off, if it still is."""
    request = await repository.get_write_off_request(uow.session, cmd.request_id)
    [locked] = await repository.lock_plans(uow.session, contract_id=request.contract_id)
    plan = (await repository.plans_of(uow.session, [locked]))[request.contract_id]
    [invoice] = [i for i in await repository.invoices_of_contracts(uow.session, [request.contract_id])
                 if i.id == request.invoice_id]
    request = await repository.get_write_off_request(uow.session, cmd.request_id, for_update=True)
    require_version(request.version, cmd.expected_version, what=f"write-off request {request.id}")
    now = clock()
    write_off = request.decide(approve=cmd.approve, by=principal.sub, authority=authority_of(principal.roles),
                               note=cmd.note, now=now, invoice=invoice, plan=plan)
    uow.audit(AuditEntry(now, principal.sub, Action.DECIDED, Audited.WRITE_OFF_REQUEST, request.id, {
        "approved": cmd.approve, "note": request.decision_note, "tier": request.tier,
        "write_off_id": request.write_off_id}, filed_under=(invoice.id, invoice.contract_id)))
    if write_off is not None:
        uow.session.add(write_off)
        uow.audit(AuditEntry(now, principal.sub, Action.WRITTEN_OFF, Audited.INVOICE, invoice.id, {
            "write_off_id": write_off.id, "amount": write_off.amount, "kind": write_off.kind,
            "reason": write_off.reason, "decision_tier": write_off.decision_tier,
            "invoice_open_amount": invoice.open_amount}, filed_under=(invoice.contract_id,)))
        _audit_settlements(uow, [plan], now, principal.sub)
    await uow.commit()
    return request


@dataclass(frozen=True)
class Allocation:
    amount: Money
    invoice_id: uuid.UUID | None = None
    invoice_number: str | None = None
    contract_id: uuid.UUID | None = None
    account_id: uuid.UUID | None = None


@dataclass(frozen=True)
class AllocateSuspense:
    transaction_id: uuid.UUID
    allocations: tuple[Allocation, ...]
    note: str | None = None


async def allocate_suspense(uow: UnitOfWork, cmd: AllocateSuspense, principal: Principal) -> BankTransaction:
    """A clerk names what a suspense credit pays: one or several invoices, contracts or accounts
    (a split), adding up to exactly the credit. Each part is a payment confirmed by the entry."""
    transaction = await repository.get_transaction(uow.session, cmd.transaction_id, for_update=True)
    transaction.require_suspense()
    if not cmd.allocations:
        raise RuleViolation("allocations-required", "name at least one invoice, contract or account",
                            errors=[{"field": "allocations", "message": "at least one"}])
    total = Money.zero(transaction.currency)
    for n, part in enumerate(cmd.allocations):
        if part.amount.currency != transaction.currency:
            raise RuleViolation("currency-mismatch", f"the credit is in {transaction.currency}",
                                errors=[{"field": f"allocations.{n}.amount.currency",
                                         "message": f"must be {transaction.currency}"}])
        total += part.amount
    if total != transaction.money:
        raise RuleViolation("allocations-do-not-add-up",
                            f"the parts add up to {total.amount}, the credit is {transaction.money.amount} "
                            f"{transaction.currency}: allocate all of it (the rest to an account, as unapplied cash)",
                            errors=[{"field": "allocations", "message": f"must add up to {transaction.money.amount}"}])
    first: Payment | None = None
    split = len(cmd.allocations) > 1
    for n, part in enumerate(cmd.allocations):
        reference = f"{transaction.reference}/{n + 1}" if split else transaction.reference
        recorded = await _record(uow, RecordPayment(
            payment_id=uuid.uuid4(), bank_reference=reference, payer=transaction.counterparty_name or "unknown payer",
            amount=part.amount, value_date=transaction.value_date, invoice_id=part.invoice_id,
            invoice_number=part.invoice_number, contract_id=part.contract_id, account_id=part.account_id,
            end_to_end_id=transaction.end_to_end_id if not split else None, confirmed_by=transaction.id), principal)
        if not recorded.new:
            raise DomainError("bank-reference-conflict", f"bank reference {reference!r} is payment "
                              f"{recorded.payment.id} already")
        first = first or recorded.payment
    await uow.session.flush()
    assert first is not None
    transaction.allocated(by=principal.sub, payment_id=first.id,
                          invoice_id=cmd.allocations[0].invoice_id if not split else None, note=cmd.note)
    uow.audit(AuditEntry(clock(), principal.sub, Action.ALLOCATED, Audited.BANK_STATEMENT, transaction.statement_id, {
        "bank_transaction_id": transaction.id, "note": cmd.note,
        "allocations": [{"amount": p.amount, "invoice_id": p.invoice_id, "invoice_number": p.invoice_number,
                         "contract_id": p.contract_id, "account_id": p.account_id} for p in cmd.allocations]}))
    await uow.commit()
    return transaction


@dataclass(frozen=True)
class SendBackSuspense:
    transaction_id: uuid.UUID
    reason: str


async def send_back_suspense(uow: UnitOfWork, cmd: SendBackSuspense, principal: Principal) -> BankTransaction:
    """Cash that is not ours to keep (nobody owes it) goes back to the payer: out of suspense. It is
    cash leaving the bank, under the refunds' rule: up to the currency's approval amount on the
    clerk's word; more is allocated to the account and refunded, where a second person approves."""
    transaction = await repository.get_transaction(uow.session, cmd.transaction_id, for_update=True)
    policy = RefundApproval.from_json((await queries.refund_approval(uow.session)).document)
    if policy.needs_approval(transaction.money):
        raise RuleViolation("send-back-needs-approval",
                            f"{transaction.money.amount} {transaction.currency} is above what goes back without a "
                            "second person's approval: allocate it to the payer's account and refund it",
                            errors=[{"field": "transaction_id", "message": "above the refund approval amount"}])
    transaction.sent_back(by=principal.sub, note=cmd.reason)
    uow.audit(AuditEntry(clock(), principal.sub, Action.SENT_BACK, Audited.BANK_STATEMENT, transaction.statement_id, {
        "bank_transaction_id": transaction.id, "amount": transaction.money, "reason": transaction.resolution_note,
        "counterparty_iban": transaction.counterparty_iban}))
    await uow.commit()
    return transaction


@dataclass(frozen=True)
class ApplyUnappliedCash:
    payment_id: uuid.UUID
    invoice_id: uuid.UUID | None
    applied_on: date | None = None  # today when not given
    expected_version: int | None = None  # the payment's version the clerk decided on; a stale one is refused
    invoice_number: str | None = None  # instead of invoice_id


async def apply_unapplied_cash(uow: UnitOfWork, cmd: ApplyUnappliedCash, principal: Principal) -> Payment:
    """Apply a payment's held cash: to the named invoice, or oldest-due-first across its account (else contract)."""
    payment = await repository.get_payment(uow.session, cmd.payment_id)
    invoice_id = await _named_invoice(uow, cmd.invoice_id, cmd.invoice_number)
    if invoice_id is not None:
        invoice_contract = await repository.contract_of_invoice(uow.session, invoice_id)
        locked = await repository.lock_plans(uow.session, contract_id=invoice_contract)
        plans = await repository.plans_of(uow.session, locked)
        if payment.account_id is not None and plans[invoice_contract].account_id != payment.account_id:
            raise RuleViolation("invoice-not-of-account",
                                f"invoice {invoice_id} is not of the account that paid this cash")
        if payment.account_id is None and payment.contract_id != invoice_contract:
            raise RuleViolation("invoice-not-of-contract",
                                f"invoice {invoice_id} is not of the contract that paid this cash")
    elif payment.account_id is not None:
        locked = await repository.lock_plans(uow.session, account_id=payment.account_id)
    else:
        assert payment.contract_id is not None
        locked = await repository.lock_plans(uow.session, contract_id=payment.contract_id)
    # Locked after the plans, like every recording, so the two never wait on each other.
    payment = await repository.get_payment(uow.session, cmd.payment_id, for_update=True)
    require_version(payment.version, cmd.expected_version, what=f"payment {payment.id}")
    plans = await repository.plans_of(uow.session, locked)
    now = clock()
    applied_on = cmd.applied_on or now.date()
    before = len(payment.applications)
    payment.apply_unapplied(invoices=await repository.invoices_of_contracts(uow.session, locked), plans=plans,
                            invoice_id=invoice_id, on=applied_on, by=principal.sub, today=now.date())
    added = payment.applications[before:]
    uow.audit(AuditEntry(now, principal.sub, Action.APPLIED, Audited.PAYMENT, payment.id, {
        "applied_on": applied_on, "applications": _applications(added, payment.currency),
        "unapplied": payment.unapplied},
        filed_under=(*(a.invoice_id for a in added), *(a.contract_id for a in added))))
    _audit_settlements(uow, plans.values(), now, principal.sub)
    await uow.commit()
    return payment


# --- corrections ----------------------------------------------------------------------------


@dataclass(frozen=True)
class IssueCreditNote:
    credit_note_id: uuid.UUID
    invoice_id: uuid.UUID
    amount: Money | None  # gross; None: by lines
    reason: str
    expected_version: int | None = None  # the invoice's version the clerk corrected; a stale one is refused
    lines: tuple[LineCredit, ...] | None = None  # None: the whole invoice (or the amount)


async def issue_credit_note(uow: UnitOfWork, cmd: IssueCreditNote, principal: Principal) -> CreditNote:
    """Correct an issued invoice: a numbered credit note reduces what is open on it."""
    contract_id = await repository.contract_of_invoice(uow.session, cmd.invoice_id)
    plan = await repository.get_plan(uow.session, contract_id, for_update=True)
    [invoice] = [i for i in await repository.invoices_of_contracts(uow.session, [contract_id]) if i.id == cmd.invoice_id]
    require_version(invoice.version, cmd.expected_version, what=f"invoice {invoice.number}")
    now = clock()
    sequence = await repository.next_credit_note_sequence(uow.session, now.year)
    note = invoice.credit(credit_note_id=cmd.credit_note_id, number=credit_note_number(now.year, sequence),
                          amount=cmd.amount, lines=cmd.lines, reason=cmd.reason, issue_date=now.date(),
                          issued_by=principal.sub, plan=plan, now=now)
    uow.session.add(note)
    uow.audit(AuditEntry(now, principal.sub, Action.ISSUED, Audited.CREDIT_NOTE, note.id, {
        "number": note.number, "invoice_number": note.invoice_number, "amount": note.amount, "reason": note.reason,
        "issue_date": note.issue_date, "invoice_open_amount": invoice.open_amount},
        filed_under=(invoice.id, plan.contract_id)))
    _audit_settlements(uow, [plan], now, principal.sub)
    await uow.commit()
    return note


# --- the scheduled run ----------------------------------------------------------------------


@dataclass(frozen=True)
class RunSchedule:
    as_of: date | None = None  # today when not given


@dataclass
class ScheduledRun:
    as_of: date
    invoiced: list[uuid.UUID] = field(default_factory=list)
    dunned: list[tuple[OverdueInvoice, DunningLevel]] = field(default_factory=list)
    # Overdue invoices left where they stood (disputed, or promised to be paid by a day not passed).
    paused: list[Hold] = field(default_factory=list)
    # Promises to pay the run closed: kept, settled otherwise, or broken (their invoices dunned one level up).
    promises_closed: list[PromiseToPay] = field(default_factory=list)


async def run_schedule(uow: UnitOfWork, cmd: RunSchedule, principal: Principal) -> ScheduledRun:
    """The scheduled job: bill instalments whose date has come, then advance dunning, as of `as_of`.

    A run may catch up on a past day, never run ahead: it publishes reminders and levels that a
    day not yet come cannot justify (and a later run would find them already sent).

    Before dunning it reviews the open promises to pay (kept, settled, or broken the day after
    their date); an invoice with an open dispute or a promise whose date has not passed is not
    dunned, one whose promise broke on this run takes its next level now.
    """
    now = clock()
    as_of = require_happened("as_of", cmd.as_of or now.date(), now.date())
    await repository.serialize_scheduled_runs(uow.session)
    result = ScheduledRun(as_of)
    billing_day = min(as_of, now.date())
    for contract_id in await repository.plans_with_date_instalments_due(uow.session, billing_day):
        plan = await repository.get_plan(uow.session, contract_id, for_update=True)
        due = plan.invoiceable(billing_day)
        await _issue_invoices(uow, plan, due, principal.sub)
        result.invoiced.extend(i.invoice_id for i in due if i.invoice_id is not None)
    # What was held (a bill-to or a tax rule missing) is tried again, whatever released it.
    result.invoiced.extend(i.id for i in await release_held(uow, principal.sub))
    overdue = [
        OverdueInvoice(invoice_id=i.id, number=i.number, contract_id=i.contract_id, account_id=i.account_id,
                       lineage=i.lineage(), due_date=i.due_date, open_amount=i.open_amount)
        for i in await repository.overdue_open_invoices(uow.session, as_of)
    ]
    promises = await collections_queries.open_promises(uow.session, for_update=True)
    promised = await collections_queries.invoices_by_id(uow.session, {p.invoice_id for p in promises})
    for promise in promises:
        if promise.review(promised[promise.invoice_id], as_of) is not PromiseStatus.OPEN:
            uow.audit(AuditEntry(now, principal.sub, CollectionsAction(promise.status.value),
                                 CollectionsAudited.PROMISE_TO_PAY, promise.id, {
                                     "invoice_id": promise.invoice_id, "as_of": as_of, "amount": promise.amount,
                                     "promised_date": promise.promised_date,
                                     "paid_since": promise.paid_since(promised[promise.invoice_id])}))
            result.promises_closed.append(promise)
    holds = dunning_holds(await collections_queries.open_disputes(uow.session, [i.invoice_id for i in overdue]),
                          promises, as_of)
    result.paused = [holds[i.invoice_id] for i in overdue if i.invoice_id in holds]
    broken = {p.invoice_id for p in result.promises_closed if p.status is PromiseStatus.BROKEN}
    states = await repository.dunning_states(uow.session, [i.invoice_id for i in overdue])
    known = set(states)
    for state, invoice in run_dunning(overdue, states, as_of, paused=holds, escalate=broken):
        if state.invoice_id not in known:
            uow.session.add(state)
        assert state.level is not None
        uow.audit(AuditEntry(now, principal.sub, Action.DUNNED, Audited.INVOICE, invoice.invoice_id, {
            "dunning_level": state.level, "as_of": as_of, "days_overdue": (as_of - invoice.due_date).days,
            "open_amount": invoice.open_amount}, filed_under=(invoice.contract_id,)))
        result.dunned.append((invoice, state.level))
    await uow.commit()
    return result


# --- policy ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class SetAccountCodes:
    codes: AccountCodes
    expected_version: int | None  # the version the admin read; a stale one is refused


async def set_account_codes(uow: UnitOfWork, cmd: SetAccountCodes, principal: Principal) -> PolicyVersion:
    """A new version of the ERP account codes the journal posts to, from the next export on."""
    cmd.codes.require_distinct()
    version = await set_policy(uow.session, queries.ACCOUNT_CODES, cmd.codes.to_json(),
                               expected_version=cmd.expected_version, by=principal.sub, at=clock())
    await uow.commit()
    return version


@dataclass(frozen=True)
class SetTaxRules:
    document: dict[str, Any]
    expected_version: int | None


async def set_tax_rules(uow: UnitOfWork, cmd: SetTaxRules, principal: Principal) -> PolicyVersion:
    """A new version of the tax rules, for the invoices issued from now on; held instalments are
    tried again under it."""
    TaxRules.from_json(cmd.document)  # a table that cannot be read is refused, naming the row
    version = await set_policy(uow.session, queries.TAX_RULES, cmd.document,
                               expected_version=cmd.expected_version, by=principal.sub, at=clock())
    await release_held(uow, principal.sub)
    await uow.commit()
    return version


@dataclass(frozen=True)
class SetSellerIdentity:
    identity: SellerIdentity
    expected_version: int | None  # the version the admin read; a stale one is refused


async def set_seller_identity(uow: UnitOfWork, cmd: SetSellerIdentity, principal: Principal) -> PolicyVersion:
    """A new version of who our invoices name as the seller, for the invoices issued from now on."""
    cmd.identity.check()
    version = await set_policy(uow.session, queries.SELLER_IDENTITY, cmd.identity.to_json(),
                               expected_version=cmd.expected_version, by=principal.sub, at=clock())
    await release_held(uow, principal.sub)
    await uow.commit()
    return version


@dataclass(frozen=True)
class SetPolicy:
    """A new version of one of the cash policies (small-balance tolerance, refund approval, bad-debt
    tiers), for what is decided from now on."""

    name: str
    document: dict[str, Any]
    expected_version: int | None


_POLICY_READERS: dict[str, Callable[[dict[str, Any]], object]] = {
    queries.CASH_TOLERANCE: CashTolerance.from_json, queries.REFUND_APPROVAL: RefundApproval.from_json,
    queries.BAD_DEBT_TIERS: BadDebtTiers.from_json}


async def set_cash_policy(uow: UnitOfWork, cmd: SetPolicy, principal: Principal) -> PolicyVersion:
    _POLICY_READERS[cmd.name](cmd.document)  # a document that cannot be read is refused, naming the entry
    version = await set_policy(uow.session, cmd.name, cmd.document, expected_version=cmd.expected_version,
                               by=principal.sub, at=clock())
    await uow.commit()
    return version
