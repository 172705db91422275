"""Plain domain objects the finance unit tests share: plans, invoices, payments and credit notes."""

import itertools
import uuid
from collections.abc import Callable, Sequence
from datetime import UTC, date, datetime, time
from decimal import Decimal

from ltc.finance.domain.billing_plan import BillingPlan, InstalmentTerms
from ltc.finance.domain.invoice import CreditNote, Invoice, invoice_number
from ltc.finance.domain.payment import Payment, PaymentTarget, receive_payment
from ltc.shared.lines import SalesLine, TaxCategory, Vat
from ltc.shared.messages import Lineage
from ltc.shared.messages.contracts_events import Trigger
from ltc.shared.money import Money

NOW = datetime(2026, 11, 20, 9, 0, tzinfo=UTC)
SIGNED = date(2026, 11, 20)
LATER = date(2028, 1, 1)  # "today" for a later application of cash: after every day the tests apply it on
PAC, FAC = uuid.uuid4(), uuid.uuid4()
LINEAGE = Lineage(lead_id=uuid.uuid4(), opportunity_id=uuid.uuid4())

_numbers = itertools.count(1)


def next_number() -> int:
    return next(_numbers)


def eur(amount: str) -> Money:
    return Money(Decimal(amount), "EUR")


MILLION = eur("1000000.00")


def recorded_on(value_date: date) -> datetime:
    """A receipt is recorded on the day its cash arrived: its value date is never in the future."""
    return datetime.combine(value_date, time(17, 0), UTC)


def schedule_line(name: str, percent: str, amount: Money | str, *, milestone: uuid.UUID | None = None,
                  due_days: int = 30, invoice_on: date | None = None, currency: str = "EUR") -> InstalmentTerms:
    trigger = Trigger.MILESTONE if milestone else Trigger.DATE if invoice_on else Trigger.SIGNING
    money = amount if isinstance(amount, Money) else Money(Decimal(amount), currency)
    return InstalmentTerms(name, Decimal(percent), money, trigger, milestone, due_days, invoice_on)


def standard_schedule(value: Money) -> list[InstalmentTerms]:
    """30% on signing, 60% on preliminary and 10% on final acceptance."""
    advance, preliminary, final = value.split([Decimal(30), Decimal(60), Decimal(10)])
    return [schedule_line("advance", "30", advance),
            schedule_line("preliminary acceptance", "60", preliminary, milestone=PAC, due_days=45),
            schedule_line("final acceptance", "10", final, milestone=FAC, due_days=45)]


def a_plan(schedule: list[InstalmentTerms] | None = None, value: Money | str = "1000.00", *,
           account_id: uuid.UUID | None = None, currency: str = "EUR", lines: Sequence[SalesLine] = (),
           milestones: dict[str, uuid.UUID] | None = None) -> BillingPlan:
    """Signed on SIGNED, won on 2026-11-01 from a lead created on 2026-09-01; the standard schedule by default
    (and without lines, one line of the value)."""
    money = value if isinstance(value, Money) else Money(Decimal(value), currency)
    return BillingPlan(id=uuid.uuid4(), contract_id=uuid.uuid4(), account_id=account_id or uuid.uuid4(),
                       lineage=LINEAGE, signed_on=SIGNED, value=money,
                       schedule=standard_schedule(money) if schedule is None else schedule, now=NOW,
                       won_on=date(2026, 11, 1), lead_created_on=date(2026, 9, 1), lines=lines,
                       milestones=milestones)


def amendable() -> tuple[BillingPlan, list[Invoice]]:
    """30% on signing (invoiced), 70% on PAC."""
    plan = a_plan([schedule_line("advance", "30", "300.00"), schedule_line("pac", "70", "700.00", milestone=PAC)])
    return plan, issue_due(plan)


# Most tests are about amounts, not VAT: their invoices are exports (no VAT), so gross is net.
EXPORT = Vat(TaxCategory.EXPORT, Decimal(0), "Export outside the EU")


def export(_line: SalesLine) -> Vat:
    return EXPORT


def issue_one(plan: BillingPlan, instalment_index: int, issue_date: date = SIGNED) -> Invoice:
    return plan.invoice(plan.instalments[instalment_index], invoice_id=uuid.uuid4(),
                        number=invoice_number(2026, next_number()), issue_date=issue_date, now=NOW, vat_of=export)


def issue_due(plan: BillingPlan, today: date = SIGNED, vat_of: Callable[[SalesLine], Vat] = export) -> list[Invoice]:
    return [plan.invoice(i, invoice_id=uuid.uuid4(), number=invoice_number(today.year, next_number()),
                         issue_date=today, now=NOW, vat_of=vat_of) for i in plan.invoiceable(today)]


def pay(plans: list[BillingPlan], invoices: list[Invoice], amount: Money, *, invoice_id=None, contract_id=None,
        account_id=None, on: date = date(2026, 12, 1), from_statement: bool = True) -> Payment:
    """A payment as a bank statement brings it (confirmed from the start), or typed in by hand
    (`from_statement=False`: recorded, its invoices in payment until a statement confirms it)."""
    return receive_payment(payment_id=uuid.uuid4(), bank_reference=f"B-{uuid.uuid4().hex[:8]}", payer="ACME",
                           amount=amount, value_date=on, target=PaymentTarget(invoice_id, contract_id, account_id),
                           plans={p.contract_id: p for p in plans}, invoices=invoices, recorded_by="clerk",
                           now=recorded_on(on), confirmed_by=uuid.uuid4() if from_statement else None)


def pay_contract(plan: BillingPlan, invoices: list[Invoice], amount: Money, *, invoice_id: uuid.UUID | None = None,
                 value_date: date = date(2026, 12, 1)) -> Payment:
    """A payment for the plan's contract (and account), or for one of its invoices."""
    return pay([plan], invoices, amount, invoice_id=invoice_id, contract_id=plan.contract_id,
               account_id=plan.account_id, on=value_date)


def credit(plan: BillingPlan, invoice: Invoice, amount: Money, on: date = date(2026, 12, 5)) -> CreditNote:
    return invoice.credit(credit_note_id=uuid.uuid4(), number=f"CN-{next_number()}", amount=amount,
                          reason="wrong unit price", issue_date=on, issued_by="clerk", plan=plan, now=NOW)
