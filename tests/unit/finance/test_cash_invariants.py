"""Issue 16's cash invariants, property-tested over random sequences of cash and its exceptions.

A hypothesis state machine (no database: the domain objects alone) runs two accounts' contracts
through receipts (from a statement, so confirmed, or typed in, so recorded) to an invoice, a
contract or an account, of any amount (exact, short, over); confirmations, returns, later
applications of unapplied cash, credit notes, write-offs, milestone and date instalments invoiced
later, disputes, promises to pay and dunning runs. After every step, exactly, in Decimal money:

- received (payments not returned) = applied + unapplied; a returned payment holds no cash;
- per invoice: payable = paid + credited + written off + open, open >= 0; paid is what the payments
  not returned applied to it, unconfirmed what the recorded ones did; its status follows;
- per plan: collected, unconfirmed, credited and written off are its invoices'; open balance =
  invoiced gross - collected - credited - written off; `contract.fully_paid` at most once, and only
  when settled with nothing unconfirmed;
- the aging buckets add up to the open receivables, and exposure nets the unapplied cash;
- the journal balances per entry; receivable = open receivables, unapplied cash = cash held,
  cash = received, revenue + VAT = invoiced - credited, VAT = invoices' less notes', write-off = written off;
- `invoice.paid` only for an invoice paid at that moment; `payment.returned` reopens exactly what
  the payment had applied; disputes, promises and dunning change no amount.
"""

import uuid
from collections import defaultdict
from dataclasses import dataclass
from datetime import timedelta
from decimal import Decimal

import pytest
from hypothesis import HealthCheck, event, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, precondition, rule

from ltc.finance.domain.adjustments import WriteOff, WriteOffKind

try:  # refunds of unapplied cash: the lead engineer is adding them (Refund, Payment.refunded)
    from ltc.finance.domain.adjustments import Refund, RefundApproval, RefundStatus
except ImportError:  # pragma: no cover - before refunds
    Refund = RefundApproval = RefundStatus = None
from ltc.finance.domain.billing_plan import BillingPlan, InstalmentStatus
from ltc.finance.domain.collections import (
    Dispute,
    DisputeOutcome,
    PromiseStatus,
    PromiseToPay,
    dunning_holds,
)
from ltc.finance.domain.invoice import CreditNote, Invoice, InvoiceStatus
from ltc.finance.domain.journal import AccountCodes, JournalLine, journal
from ltc.finance.domain.lines import NO_BILL, LineCredit
from ltc.finance.domain.payment import Payment, PaymentStatus
from ltc.finance.domain.receivables import BUCKETS, Dunning, OpenItem, OverdueInvoice, age, exposure, run_dunning
from ltc.shared.lines import SalesLine, TaxCategory, Vat
from ltc.shared.messages.finance_events import (
    ContractFullyPaid,
    InvoicePaid,
    PaymentApplied,
    PaymentReceived,
    PaymentReturned,
)
from ltc.shared.money import Money
from ltc.shared.rules import DomainError, RuleViolation
from tests.unit.finance.samples import (
    FAC,
    PAC,
    SIGNED,
    a_plan,
    credit,
    issue_due,
    pay,
    recorded_on,
    schedule_line,
)

CODES = AccountCodes(receivable="1100", revenue="4000", cash="1000", unapplied_cash="2150")
TOLERANCE = 500  # minor units: a small balance up to 5.00 is written off as such, more is a bad debt
DATE_INSTALMENT = SIGNED + timedelta(days=20)
BY_CODE = {"HW": Vat(TaxCategory.STANDARD, Decimal(19)), "BOOK": Vat(TaxCategory.STANDARD, Decimal(7))}


def money(minor: int, currency: str) -> Money:
    return Money(Decimal(minor).scaleb(-2), currency)  # EUR and USD: two decimals


def refunded(payment: Payment) -> Money:
    """Paid back, or reserved for a refund waiting for approval (nothing, before refunds)."""
    return payment.refunded if Refund is not None else Money.zero(payment.currency)


def minor(amount: Money) -> int:
    return int(amount.amount.scaleb(2))


def total(amounts, currency: str) -> Money:
    """The sum of `amounts`, all in `currency` (summed as Decimals: Money checks its currency on each +)."""
    amounts = list(amounts)
    assert all(a.currency == currency for a in amounts)
    return Money(sum((a.amount for a in amounts), Decimal(0)), currency)


def applied_by_invoice(payment: Payment) -> dict[uuid.UUID, Money]:
    paid: dict[uuid.UUID, Money] = {}
    for a in payment.applications:
        paid[a.invoice_id] = paid.get(a.invoice_id, Money.zero(payment.currency)) + Money(a.amount, payment.currency)
    return paid


@dataclass(frozen=True)
class Figures:
    amount: Money
    paid: Money
    credited: Money
    written_off: Money
    unconfirmed: Money
    open: Money


def amounts(invoice: Invoice) -> tuple:
    return invoice.paid, invoice.credited, invoice.written_off, invoice.unconfirmed, invoice.status, invoice.paid_on


class CashMachine(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        self.today = SIGNED
        self.plans: list[BillingPlan] = []
        self.invoices: list[Invoice] = []
        self.payments: list[Payment] = []
        self.notes: list[CreditNote] = []
        self.write_offs: list[WriteOff] = []
        self.refunds: list = []
        self.disputes: list[Dispute] = []
        self.promises: list[PromiseToPay] = []
        self.dunning: dict[uuid.UUID, Dunning] = {}
        self.seen: dict[int, int] = {}  # id(object) -> how many of its events were checked

    # -- the contracts ---------------------------------------------------------------------------

    @initialize(values=st.lists(st.integers(min_value=100, max_value=500_000), min_size=4, max_size=4),
                hardware=st.tuples(st.integers(1, 20), st.integers(1, 100_000)),
                books=st.tuples(st.integers(1, 50), st.integers(1, 5_000)))
    def sign(self, values, hardware, books):
        account_a, account_b = uuid.uuid4(), uuid.uuid4()
        v0, v1, v2 = (money(v, "EUR") for v in values[:3])
        v3 = money(values[3], "USD")
        advance, pac, fac = v0.split([Decimal(30), Decimal(60), Decimal(10)])
        half, rest = v1.split([Decimal(50), Decimal(50)])
        early, late = v2.split([Decimal(40), Decimal(60)])
        self.plans = [
            a_plan([schedule_line("advance", "30", advance), schedule_line("pac", "60", pac, milestone=PAC, due_days=45),
                    schedule_line("fac", "10", fac, milestone=FAC, due_days=45)], v0, account_id=account_a),
            a_plan([schedule_line("signing", "50", half),
                    schedule_line("dated", "50", rest, invoice_on=DATE_INSTALMENT)], v1, account_id=account_a),
            a_plan([schedule_line("early", "40", early, due_days=10), schedule_line("late", "60", late, due_days=60)],
                   v2, account_id=account_b),
            a_plan([schedule_line("all", "100", v3, due_days=15)], v3, account_id=account_b, currency="USD"),
        ]
        # Account B's taxed contract: two lines (19% and 7% VAT) pro-rated over two instalments.
        lines = [SalesLine(1, "hardware", Decimal(hardware[0]), "C62", money(hardware[1], "EUR"), code="HW"),
                 SalesLine(2, "manuals", Decimal(books[0]), "C62", money(books[1], "EUR"), code="BOOK")]
        value = total((line.net for line in lines), "EUR")
        first, second = value.split([Decimal(50), Decimal(50)])
        taxed = a_plan([schedule_line("first", "50", first), schedule_line("second", "50", second, due_days=90)],
                       value, account_id=account_b, lines=lines)
        for plan in self.plans:
            self.invoices += issue_due(plan, SIGNED)
        self.plans.append(taxed)
        self.invoices += issue_due(taxed, SIGNED, vat_of=lambda line: BY_CODE[line.code])

    def plan_of(self, invoice: Invoice) -> BillingPlan:
        return next(p for p in self.plans if p.contract_id == invoice.contract_id)

    def invoices_of(self, plans) -> list[Invoice]:
        ids = {p.contract_id for p in plans}
        return [i for i in self.invoices if i.contract_id in ids]

    def plans_of_account(self, account_id) -> list[BillingPlan]:
        return [p for p in self.plans if p.account_id == account_id]

    @rule(days=st.integers(min_value=0, max_value=25))
    def time_passes(self, days):
        self.today += timedelta(days=days)

    @precondition(lambda self: any(i.milestone_id and i.status is InstalmentStatus.PLANNED
                                   for i in self.plans[0].instalments))
    @rule(milestone=st.sampled_from([PAC, FAC]))
    def milestone_accepted(self, milestone):
        plan = self.plans[0]
        plan.accept_milestone(milestone)
        self.invoices += issue_due(plan, self.today)

    @precondition(lambda self: self.today >= DATE_INSTALMENT)
    @rule()
    def dated_instalment_invoiced(self):
        self.invoices += issue_due(self.plans[1], self.today)

    # -- cash ------------------------------------------------------------------------------------

    @rule(data=st.data(), kind=st.sampled_from(["invoice", "contract", "account"]),
          size=st.sampled_from(["exact", "short", "over", "any"]))
    def cash_on_a_statement(self, data, kind, size):
        """Cash a bank statement brings: confirmed from the start."""
        self.receive(data, kind, size, from_statement=True)

    @rule(data=st.data(), kind=st.sampled_from(["invoice", "contract", "account"]),
          size=st.sampled_from(["exact", "short", "over", "any"]))
    def cash_typed_in(self, data, kind, size):
        """Cash a clerk types in: recorded, its invoices in payment until a statement shows it."""
        self.receive(data, kind, size, from_statement=False)

    def receive(self, data, kind, size, *, from_statement):
        if kind == "invoice":
            invoice = data.draw(st.sampled_from(self.invoices))
            plans, scope, currency, target = [self.plan_of(invoice)], [invoice], invoice.currency, invoice.id
        elif kind == "contract":
            plan = data.draw(st.sampled_from(self.plans))
            plans, currency, target = [plan], plan.currency, None
            scope = self.invoices_of(plans)
        else:
            plans = self.plans_of_account(data.draw(st.sampled_from([self.plans[0].account_id,
                                                                     self.plans[2].account_id])))
            currency = data.draw(st.sampled_from(sorted({p.currency for p in plans})))
            target = None
            scope = [i for i in self.invoices_of(plans) if i.currency == currency]
        due = minor(total((i.open_amount for i in scope), currency))
        if size == "exact" and due:
            cents = due
        elif size == "short" and due > 1:
            cents = data.draw(st.integers(min_value=1, max_value=due - 1))
        elif size == "over":
            cents = due + data.draw(st.integers(min_value=1, max_value=100_000))
        else:
            cents = data.draw(st.integers(min_value=1, max_value=600_000))
        amount = money(cents, currency)
        plan = plans[0]
        before = {i.id: i.paid for i in scope}
        payment = pay(plans, self.invoices_of(plans), amount, invoice_id=target,
                      contract_id=plan.contract_id if kind != "account" else None, account_id=plan.account_id,
                      on=self.today, from_statement=from_statement)
        self.payments.append(payment)
        assert payment.status is (PaymentStatus.CONFIRMED if from_statement else PaymentStatus.RECORDED)
        assert payment.applied + payment.unapplied == amount
        # What each invoice took is what the payment says it applied to it, and only in scope.
        for invoice_id, share in applied_by_invoice(payment).items():
            assert invoice_id in before
        for invoice in scope:
            took = applied_by_invoice(payment).get(invoice.id, Money.zero(currency))
            assert invoice.paid - before[invoice.id] == took
        # Cash is held unapplied only when nothing in scope is left open to take it.
        if not payment.unapplied.is_zero():
            assert all(i.open_amount.is_zero() for i in scope)

    @precondition(lambda self: any(p.status is PaymentStatus.RECORDED for p in self.payments))
    @rule(data=st.data())
    def statement_confirms(self, data):
        payment = data.draw(st.sampled_from([p for p in self.payments if p.status is PaymentStatus.RECORDED]))
        payment.confirm(transaction_id=uuid.uuid4(), on=self.today, invoices={i.id: i for i in self.invoices},
                        plans={p.contract_id: p for p in self.plans})
        assert payment.is_confirmed and payment.confirmed_on == self.today
        event("recorded payment confirmed")

    def returnable(self) -> list[Payment]:
        # A payment with a refund (issued or waiting) is not returned here: the domain mishandles it,
        # see test_a_payment_returned_after_a_refund_* below; drop this condition once those pass.
        return [p for p in self.live() if refunded(p).is_zero()]

    @precondition(lambda self: bool(self.returnable()))
    @rule(data=st.data(), reason=st.sampled_from([None, "AC04", "MD06"]))
    def bank_returns(self, data, reason):
        payment = data.draw(st.sampled_from(self.returnable()))
        opened = {i.id: i.open_amount for i in self.invoices}
        applied = applied_by_invoice(payment)
        payment.return_(on=self.today, reason=reason, transaction_id=uuid.uuid4(),
                        invoices={i.id: i for i in self.invoices}, plans={p.contract_id: p for p in self.plans})
        assert payment.status is PaymentStatus.RETURNED and payment.unapplied.is_zero()
        for invoice in self.invoices:
            reopened = invoice.open_amount - opened[invoice.id]
            assert reopened == applied.get(invoice.id, Money.zero(invoice.currency))
            if invoice.id in applied:
                assert invoice.status in (InvoiceStatus.ISSUED, InvoiceStatus.PARTIALLY_PAID)

    @precondition(lambda self: any(p.status is not PaymentStatus.RETURNED and not p.unapplied.is_zero()
                                   for p in self.payments))
    @rule(data=st.data(), named=st.booleans())
    def unapplied_cash_applied(self, data, named):
        payment = data.draw(st.sampled_from([p for p in self.payments if p.status is not PaymentStatus.RETURNED
                                             and not p.unapplied.is_zero()]))
        plans = self.plans_of_account(payment.account_id)
        scope = [i for i in self.invoices_of(plans) if i.currency == payment.currency]
        invoice_id = data.draw(st.sampled_from(scope)).id if named and scope else None
        held = payment.unapplied
        before = {i.id: amounts(i) for i in self.invoices}
        try:
            applications = payment.apply_unapplied(invoices=scope, plans={p.contract_id: p for p in plans},
                                                   invoice_id=invoice_id, on=self.today, by="clerk", today=self.today)
        except DomainError as refused:
            assert refused.rule == "nothing-to-apply"
            event("unapplied cash: nothing open to take it")
            assert all(i.open_amount.is_zero() for i in scope if invoice_id in (None, i.id))
            assert payment.unapplied == held and before == {i.id: amounts(i) for i in self.invoices}
            return
        assert total((m for _, m in applications), payment.currency) + payment.unapplied == held
        applied = payment.events[-1]
        assert isinstance(applied, PaymentApplied) and applied.unapplied.to_money() == payment.unapplied

    def refundable(self) -> list[Payment]:
        return [p for p in self.live() if not p.unapplied.is_zero()] if Refund is not None else []

    @precondition(lambda self: bool(self.refundable()))
    @rule(data=st.data(), all_of_it=st.booleans(), approve_above=st.sampled_from([None, "0", "100.00", "1000000"]))
    def unapplied_cash_refunded(self, data, all_of_it, approve_above):
        """Unapplied cash paid back: issued at once up to the approval amount, else waiting for a second person."""
        payment = data.draw(st.sampled_from(self.refundable()))
        held = payment.unapplied
        amount = held if all_of_it else money(data.draw(st.integers(1, minor(held))), payment.currency)
        policy = RefundApproval({} if approve_above is None else {payment.currency: Decimal(approve_above)})
        refund = Refund(id=uuid.uuid4(), payment=payment, amount=amount, beneficiary_name="ACME",
                        beneficiary_iban="DE89370400440532013000", reason="over-payment", requested_by="clerk",
                        now=recorded_on(self.today), policy=policy)
        assert payment.unapplied == held - amount
        assert (refund.status is RefundStatus.ISSUED) == (not policy.needs_approval(amount))
        self.refunds.append(refund)
        event(f"refund {refund.status.value}")

    def pending_refunds(self) -> list:
        return [r for r in self.refunds if r.status is RefundStatus.PENDING_APPROVAL]

    @precondition(lambda self: bool(self.pending_refunds()))
    @rule(data=st.data(), approve=st.booleans())
    def refund_decided(self, data, approve):
        refund = data.draw(st.sampled_from(self.pending_refunds()))
        payment = next(p for p in self.payments if p.id == refund.payment_id)
        held = payment.unapplied
        refund.decide(approve=approve, by="controller", note=None, now=recorded_on(self.today), payment=payment)
        assert refund.status is (RefundStatus.ISSUED if approve else RefundStatus.REJECTED)
        assert payment.unapplied == (held if approve else held + refund.amount)

    # -- settled without cash --------------------------------------------------------------------

    def open_invoices(self) -> list[Invoice]:
        return [i for i in self.invoices if i.is_open]

    def open_untaxed(self) -> list[Invoice]:
        return [i for i in self.open_invoices() if i.tax.is_zero()]

    def open_taxed(self) -> list[Invoice]:
        return [i for i in self.open_invoices() if not i.tax.is_zero()]

    @precondition(lambda self: bool(self.open_untaxed()))
    @rule(data=st.data())
    def credit_note_issued(self, data):
        """An invoice bearing no VAT is credited by an amount (pro rata over its lines)."""
        invoice = data.draw(st.sampled_from(self.open_untaxed()))
        cents = data.draw(st.integers(min_value=1, max_value=minor(invoice.open_amount)))
        self.notes.append(credit(self.plan_of(invoice), invoice, money(cents, invoice.currency), on=self.today))

    @precondition(lambda self: bool(self.open_taxed()))
    @rule(data=st.data(), whole=st.booleans())
    def credit_note_by_lines(self, data, whole):
        """An invoice bearing VAT is credited line by line (what is left of a line, or a net of it),
        its VAT with it; never for more than is open on the invoice."""
        invoice = data.draw(st.sampled_from(self.open_taxed()))
        line = data.draw(st.sampled_from(invoice.lines))
        left = line.net - invoice.credited_lines().get(line.position, NO_BILL).net
        if left <= 0:
            return
        chosen = LineCredit(line.position) if whole else LineCredit(
            line.position, net=Decimal(data.draw(st.integers(1, int(left.scaleb(2))))).scaleb(-2))
        before = self.snapshot()
        try:
            note = invoice.credit(credit_note_id=uuid.uuid4(), number=f"CN-{uuid.uuid4().hex[:6]}",
                                  reason="damaged", issue_date=self.today, issued_by="clerk",
                                  plan=self.plan_of(invoice), now=recorded_on(self.today), lines=[chosen])
        except RuleViolation as refused:
            assert refused.rule == "credit-exceeds-open-amount", refused.rule
            assert self.snapshot() == before
            event("credit by lines refused: more than is open")
            return
        assert note.amount == note.net + note.tax and note.tax.amount >= 0
        self.notes.append(note)

    @precondition(lambda self: bool(self.open_invoices()))
    @rule(data=st.data(), whole=st.booleans())
    def balance_written_off(self, data, whole):
        invoice = data.draw(st.sampled_from(self.open_invoices()))
        left = minor(invoice.open_amount)
        cents = left if whole else data.draw(st.integers(min_value=1, max_value=min(left, TOLERANCE)))
        kind = WriteOffKind.SMALL_BALANCE if cents <= TOLERANCE else WriteOffKind.BAD_DEBT
        self.write_offs.append(WriteOff(
            id=uuid.uuid4(), invoice=invoice, plan=self.plan_of(invoice), amount=money(cents, invoice.currency),
            kind=kind, reason="payer short" if kind is WriteOffKind.SMALL_BALANCE else "insolvent",
            on=self.today, decided_by="finance", now=recorded_on(self.today),
            decision_tier=None if kind is WriteOffKind.SMALL_BALANCE else "director"))

    # -- collections: they hold dunning and change no amount -------------------------------------

    def undisputed(self) -> list[Invoice]:
        disputed = {d.invoice_id for d in self.disputes if d.is_open}
        return [i for i in self.open_invoices() if i.id not in disputed]

    def unpromised(self) -> list[Invoice]:
        promised = {p.invoice_id for p in self.promises if p.is_open}
        return [i for i in self.open_invoices() if i.id not in promised]

    def snapshot(self) -> tuple:
        return [amounts(i) for i in self.invoices], [(p.status, p.unapplied) for p in self.payments]

    @precondition(lambda self: bool(self.undisputed()))
    @rule(data=st.data(), part=st.booleans())
    def dispute_opened(self, data, part):
        invoice = data.draw(st.sampled_from(self.undisputed()))
        before = self.snapshot()
        amount = money(data.draw(st.integers(1, minor(invoice.open_amount))), invoice.currency) if part else None
        self.disputes.append(Dispute(id=uuid.uuid4(), invoice=invoice, reason="not delivered", amount=amount,
                                     opened_by="clerk", now=recorded_on(self.today)))
        assert self.snapshot() == before

    @precondition(lambda self: any(d.is_open for d in self.disputes))
    @rule(data=st.data(), outcome=st.sampled_from(DisputeOutcome))
    def dispute_resolved(self, data, outcome):
        dispute = data.draw(st.sampled_from([d for d in self.disputes if d.is_open]))
        before = self.snapshot()
        dispute.resolve(outcome=outcome, resolution="decided", by="finance", on=self.today)
        assert self.snapshot() == before and not dispute.is_open

    @precondition(lambda self: bool(self.unpromised()))
    @rule(data=st.data(), days=st.integers(0, 30), part=st.booleans())
    def promise_recorded(self, data, days, part):
        invoice = data.draw(st.sampled_from(self.unpromised()))
        before = self.snapshot()
        amount = money(data.draw(st.integers(1, minor(invoice.open_amount))), invoice.currency) if part else None
        self.promises.append(PromiseToPay(id=uuid.uuid4(), invoice=invoice, amount=amount,
                                          promised_date=self.today + timedelta(days=days), recorded_by="clerk",
                                          now=recorded_on(self.today)))
        assert self.snapshot() == before

    @rule()
    def dunning_run(self):
        before = self.snapshot()
        by_id = {i.id: i for i in self.invoices}
        for promise in self.promises:
            status = promise.review(by_id[promise.invoice_id], self.today)
            if status is PromiseStatus.KEPT:
                assert not promise.paid_since(by_id[promise.invoice_id]) < promise.amount
        holds = dunning_holds(self.disputes, self.promises, self.today)
        assert {d.invoice_id for d in self.disputes if d.is_open} <= set(holds)
        overdue = [OverdueInvoice(invoice_id=i.id, number=i.number, contract_id=i.contract_id,
                                  account_id=i.account_id, lineage=i.lineage(), due_date=i.due_date,
                                  open_amount=i.open_amount) for i in self.invoices]
        moved = run_dunning(overdue, self.dunning, self.today, paused=set(holds))
        for state, item in moved:
            assert item.invoice_id not in holds and not item.open_amount.is_zero() and item.due_date < self.today
            assert state.dunned_on == self.today
        assert self.snapshot() == before

    # -- the invariants --------------------------------------------------------------------------

    def live(self) -> list[Payment]:
        return [p for p in self.payments if p.status is not PaymentStatus.RETURNED]

    def currencies(self) -> list[str]:
        return sorted({p.currency for p in self.plans})

    @invariant()
    def the_books_hold(self):
        """Every invariant but the events', over one reading of each invoice's figures (Money is dear to build)."""
        figures = {i.id: Figures(i.amount, i.paid, i.credited, i.written_off, i.unconfirmed, i.open_amount)
                   for i in self.invoices}
        self.cash_is_received_applied_or_held()
        self.every_invoice_adds_up(figures)
        self.every_plan_is_its_invoices(figures)
        self.aging_ties_to_the_open_receivables(figures)
        self.the_journal_balances_and_ties(figures)

    def cash_is_received_applied_or_held(self):
        for currency in self.currencies():
            live = [p for p in self.live() if p.currency == currency]
            assert (total((p.amount for p in live), currency)
                    == total((p.applied for p in live), currency) + total((p.unapplied for p in live), currency)
                    + total((refunded(p) for p in live), currency))
        for payment in self.payments:
            assert payment.unapplied.amount >= 0 and refunded(payment).amount >= 0
            if payment.status is PaymentStatus.RETURNED:
                assert payment.unapplied.is_zero()
            else:
                assert payment.applied + payment.unapplied + refunded(payment) == payment.amount
                assert refunded(payment) == total((r.amount for r in self.refunds if r.payment_id == payment.id
                                                   and r.status is not RefundStatus.REJECTED), payment.currency)

    def every_invoice_adds_up(self, figures):
        paid: dict[uuid.UUID, Decimal] = defaultdict(Decimal)
        unconfirmed: dict[uuid.UUID, Decimal] = defaultdict(Decimal)
        for payment in self.live():
            for a in payment.applications:
                paid[a.invoice_id] += a.amount
                if payment.status is PaymentStatus.RECORDED:
                    unconfirmed[a.invoice_id] += a.amount
        credited: dict[uuid.UUID, Decimal] = defaultdict(Decimal)
        for note in self.notes:
            credited[note.invoice_id] += note.amount.amount
        written_off: dict[uuid.UUID, Decimal] = defaultdict(Decimal)
        for write_off in self.write_offs:
            written_off[write_off.invoice_id] += write_off.amount.amount
        for invoice in self.invoices:
            f = figures[invoice.id]
            assert f.amount == f.paid + f.credited + f.written_off + f.open
            assert f.open.amount >= 0 and f.unconfirmed.amount >= 0
            assert f.paid.amount == paid[invoice.id], "paid is what the payments not returned applied"
            assert f.unconfirmed.amount == unconfirmed[invoice.id], "unconfirmed is what recorded payments applied"
            assert f.credited.amount == credited[invoice.id] and f.written_off.amount == written_off[invoice.id]
            settled, has_cash, pending = f.open.is_zero(), not f.paid.is_zero(), not f.unconfirmed.is_zero()
            expected = (
                (InvoiceStatus.PARTIALLY_PAID if has_cash else InvoiceStatus.ISSUED) if not settled
                else (InvoiceStatus.IN_PAYMENT if pending else InvoiceStatus.PAID) if has_cash
                else InvoiceStatus.CREDITED if f.written_off.is_zero() else InvoiceStatus.WRITTEN_OFF)
            assert invoice.status is expected, (invoice.status, expected)
            event(f"invoice {invoice.status}")
            assert (invoice.paid_on is not None) == (invoice.status is InvoiceStatus.PAID)

    def every_plan_is_its_invoices(self, figures):
        for plan in self.plans:
            mine, c = [figures[i.id] for i in self.invoices_of([plan])], plan.currency
            assert plan.collected == total((f.paid for f in mine), c)
            assert plan.unconfirmed == total((f.unconfirmed for f in mine), c)
            assert plan.credited == total((f.credited for f in mine), c)
            assert plan.written_off == total((f.written_off for f in mine), c)
            assert plan.invoiced_gross_money == total((f.amount for f in mine), c)
            assert plan.open_balance == plan.invoiced_gross_money - plan.collected - plan.credited - plan.written_off
            assert plan.open_balance == total((f.open for f in mine), c)
            fully_paid = [e for e in plan.events if isinstance(e, ContractFullyPaid)]
            assert len(fully_paid) <= 1
            assert (plan.fully_paid_on is not None) == bool(fully_paid)

    def open_receivables(self, figures, currency: str) -> Money:
        return total((figures[i.id].open for i in self.invoices if i.currency == currency), currency)

    def aging_ties_to_the_open_receivables(self, figures):
        items = [OpenItem(invoice_id=i.id, number=i.number, contract_id=i.contract_id, account_id=i.account_id,
                          issue_date=i.issue_date, due_date=i.due_date, open_amount=figures[i.id].open)
                 for i in self.invoices]
        aging = {a.currency: a for a in age(items, self.today)}
        unapplied = {c: total((p.unapplied for p in self.live() if p.currency == c), c) for c in self.currencies()}
        rows = {row.currency: row for row in exposure(aging.values(), unapplied)}
        for currency in self.currencies():
            open_total = self.open_receivables(figures, currency)
            if currency in aging:
                assert total((aging[currency].buckets[b] for b in BUCKETS), currency) == aging[currency].total
                assert aging[currency].total == open_total
                assert all(not item.open_amount.is_zero() for item in aging[currency].items)
            else:
                assert open_total.is_zero()
            row = rows[currency]
            assert row.total_open == open_total and row.net_exposure == open_total - unapplied[currency]

    def the_journal_balances_and_ties(self, figures):
        lines = journal(invoices=self.invoices, credit_notes=self.notes, payments=self.payments, codes=CODES,
                        start=SIGNED - timedelta(days=1), end=self.today + timedelta(days=1),
                        write_offs=self.write_offs, **({"refunds": self.refunds} if Refund is not None else {}))
        entries: dict[str, list[JournalLine]] = defaultdict(list)
        balances: dict[tuple[str, str], Decimal] = defaultdict(Decimal)  # (currency, account) -> debit - credit
        for line in lines:
            assert line.debit >= 0 and line.credit >= 0
            entries[line.entry_id].append(line)
            balances[line.currency, line.account_code] += line.debit - line.credit
        for entry in entries.values():
            assert len({line.currency for line in entry}) == 1
            assert sum(line.debit for line in entry) == sum(line.credit for line in entry)
        for currency in self.currencies():
            invoices = [figures[i.id] for i in self.invoices if i.currency == currency]
            live = [p for p in self.live() if p.currency == currency]
            assert sum(balances[c, a] for c, a in balances if c == currency) == 0
            assert balances[currency, CODES.receivable] == self.open_receivables(figures, currency).amount
            # A refund waiting for approval is reserved from the payment's unapplied cash; it is booked when issued.
            pending = [r for r in self.refunds if r.currency == currency and r.status is RefundStatus.PENDING_APPROVAL
                       and any(p.id == r.payment_id for p in live)]
            issued = [r for r in self.refunds if r.currency == currency and r.status is RefundStatus.ISSUED]
            assert -balances[currency, CODES.unapplied_cash] == (total((p.unapplied for p in live), currency)
                                                                 + total((r.amount for r in pending), currency)).amount
            assert balances[currency, CODES.cash] == (total((p.amount for p in live), currency)
                                                      - total((r.amount for r in issued), currency)).amount
            notes = [n for n in self.notes if n.currency == currency]
            taxed = [i for i in self.invoices if i.currency == currency]
            vat = sum((i.tax.amount for i in taxed), Decimal(0)) - sum((n.tax.amount for n in notes if n.tax), Decimal(0))
            assert -balances[currency, CODES.vat_payable] == vat
            assert -balances[currency, CODES.revenue] == sum((f.amount.amount - f.credited.amount for f in invoices),
                                                             Decimal(0)) - vat
            assert balances[currency, CODES.write_off] == total((f.written_off for f in invoices), currency).amount

    @invariant()
    def events_tell_what_happened(self):
        for plan in self.plans:
            for happened in self.new_events(plan):
                if isinstance(happened, ContractFullyPaid):
                    event("contract.fully_paid")
                    assert plan.fully_settled and plan.unconfirmed.is_zero() and not plan.collected.is_zero()
                    assert happened.fully_paid_on == plan.fully_paid_on == self.today
        for invoice in self.invoices:
            for happened in self.new_events(invoice):
                if isinstance(happened, InvoicePaid):
                    event("invoice.paid")
                    assert invoice.status is InvoiceStatus.PAID and invoice.unconfirmed.is_zero()
                    assert happened.paid_on == invoice.paid_on == self.today
        for payment in self.payments:
            for happened in self.new_events(payment):
                if isinstance(happened, PaymentReceived):
                    applied = [a.amount.to_money() for a in happened.applications]
                    assert total(applied, payment.currency) + happened.unapplied.to_money() == payment.amount
                elif isinstance(happened, PaymentReturned):
                    event("payment.returned, reopening" if happened.reopened else "payment.returned, all unapplied")
                    reopened = {a.invoice_id: a.amount.to_money() for a in happened.reopened}
                    assert reopened == applied_by_invoice(payment)
                    assert total(reopened.values(), payment.currency) == payment.applied
                    assert happened.returned_on == payment.returned_on == self.today

    def new_events(self, owner) -> list:
        start = self.seen.get(id(owner), 0)
        self.seen[id(owner)] = len(owner.events)
        return owner.events[start:]


CashMachine.TestCase.settings = settings(max_examples=60, stateful_step_count=40, deadline=None,
                                         suppress_health_check=[HealthCheck.too_slow])
TestCashInvariants = CashMachine.TestCase


# -- what the machine found: a return after a refund ------------------------------------------------
# Returning a payment part of whose cash was refunded (or is reserved for a refund) counted that
# part twice (a rejected refund gave the returned payment cash again; the return's journal entry
# debited unapplied cash for it a second time). Such a return is refused: a clerk settles it.


@pytest.mark.skipif(Refund is None, reason="before refunds")
@pytest.mark.parametrize("approve_above", [{}, {"EUR": Decimal(1000)}], ids=["refund pending", "refund issued"])
def test_a_payment_with_a_refund_is_not_returned_behind_it(approve_above):
    plan = a_plan([schedule_line("all", "100", "100.00")], "100.00")
    [invoice] = issue_due(plan)
    payment = pay([plan], [invoice], money(15000, "EUR"), invoice_id=invoice.id, on=SIGNED)
    Refund(id=uuid.uuid4(), payment=payment, amount=money(5000, "EUR"), beneficiary_name="ACME",
           beneficiary_iban="DE89370400440532013000", reason="over-payment", requested_by="clerk",
           now=recorded_on(SIGNED), policy=RefundApproval(approve_above))
    with pytest.raises(DomainError) as refused:
        payment.return_(on=SIGNED, reason="AC04", transaction_id=None, invoices={invoice.id: invoice},
                        plans={plan.contract_id: plan})
    assert refused.value.rule == "payment-refunded"
    assert invoice.status.value == "paid" and payment.status.value != "returned"
