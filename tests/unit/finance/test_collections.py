"""Disputes and promises to pay: what they accept, how they pause an invoice's dunning, and when a
promise is kept, settled or broken."""

import uuid
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ltc.finance.domain.collections import (
    Dispute,
    DisputeOutcome,
    DisputeStatus,
    HoldReason,
    PromiseStatus,
    PromiseToPay,
    dunning_holds,
    require_no_open_dispute,
    require_no_open_promise,
)
from ltc.finance.domain.invoice import Invoice
from ltc.finance.domain.receivables import Dunning, DunningLevel, OverdueInvoice, run_dunning
from ltc.shared.messages.finance_events import (
    InvoiceDisputed,
    InvoiceDisputeResolved,
    PromiseToPayBroken,
    PromiseToPayRecorded,
)
from ltc.shared.money import Money
from ltc.shared.rules import DomainError, RuleViolation
from tests.unit.finance.samples import a_plan, credit, eur, issue_due, schedule_line

TODAY = date(2027, 1, 10)
NOW = datetime(2027, 1, 10, 9, 0, tzinfo=UTC)


def _invoice(amount: str = "1000.00") -> tuple[object, Invoice]:
    plan = a_plan([schedule_line("all", "100", amount)], value=amount)
    [invoice] = issue_due(plan)
    return plan, invoice


def _dispute(invoice: Invoice, amount: Money | None = None, reason: str = "two licences were never delivered"
             ) -> Dispute:
    return Dispute(id=uuid.uuid4(), invoice=invoice, reason=reason, amount=amount, opened_by="clerk", now=NOW)


def _promise(invoice: Invoice, amount: Money | None = None, by: date = TODAY + timedelta(days=7)) -> PromiseToPay:
    return PromiseToPay(id=uuid.uuid4(), invoice=invoice, amount=amount, promised_date=by, recorded_by="clerk",
                        now=NOW)


def _refused(error: pytest.ExceptionInfo, rule: str, field: str | None = None) -> None:
    assert error.value.rule == rule
    if field is not None:
        assert [e["field"] for e in error.value.errors] == [field]


# -- disputes ----------------------------------------------------------------------------------


def test_a_dispute_is_of_all_that_is_open_unless_it_names_a_part():
    _, invoice = _invoice()
    invoice.apply(eur("100.00"), on=TODAY)
    whole = _dispute(invoice)
    assert whole.disputed == eur("900.00") and whole.status is DisputeStatus.OPEN and whole.is_open
    [event] = whole.events
    assert isinstance(event, InvoiceDisputed)
    assert (event.invoice_id, event.invoice_number, event.disputed_amount.amount, event.opened_on, event.opened_by) \
        == (invoice.id, invoice.number, eur("900.00").amount, TODAY, "clerk")
    assert event.lineage.contract_id == invoice.contract_id
    assert _dispute(invoice, eur("900.00")).disputed == eur("900.00")
    assert _dispute(invoice, eur("0.01")).disputed == eur("0.01")


@pytest.mark.parametrize(("amount", "currency", "rule", "field"), [
    ("900.01", "EUR", "disputed-amount-exceeds-open-amount", "disputed_amount.amount"),
    ("0.00", "EUR", "disputed-amount-invalid", "disputed_amount.amount"),
    ("-5.00", "EUR", "disputed-amount-invalid", "disputed_amount.amount"),
    ("5.00", "USD", "disputed-amount-invalid", "disputed_amount.currency"),
])
def test_a_disputed_amount_is_a_positive_part_of_what_is_open(amount, currency, rule, field):
    _, invoice = _invoice()
    invoice.apply(eur("100.00"), on=TODAY)
    with pytest.raises(RuleViolation) as refused:
        _dispute(invoice, Money(Decimal(amount), currency))
    _refused(refused, rule, field)


def test_a_dispute_needs_a_reason_and_an_open_invoice():
    _, invoice = _invoice()
    with pytest.raises(RuleViolation) as refused:
        _dispute(invoice, reason="   ")
    _refused(refused, "dispute-reason-required", "reason")
    invoice.apply(eur("1000.00"), on=TODAY)
    with pytest.raises(DomainError) as refused:
        _dispute(invoice)
    _refused(refused, "invoice-not-open")


def test_one_open_dispute_per_invoice():
    _, invoice = _invoice()
    require_no_open_dispute(invoice, None)
    first = _dispute(invoice)
    with pytest.raises(DomainError) as refused:
        require_no_open_dispute(invoice, first)
    _refused(refused, "dispute-already-open", "invoice_id")
    assert refused.value.errors[0]["dispute_id"] == str(first.id)


def test_resolving_a_dispute_records_the_outcome_once():
    _, invoice = _invoice()
    dispute = _dispute(invoice)
    with pytest.raises(RuleViolation) as refused:
        dispute.resolve(outcome=DisputeOutcome.CUSTOMER_WRONG, resolution=" ", by="clerk-2", on=TODAY)
    _refused(refused, "dispute-resolution-required", "resolution")
    assert dispute.is_open
    dispute.resolve(outcome=DisputeOutcome.CUSTOMER_WRONG, resolution="delivery note signed on 3 Dec",
                    by="clerk-2", on=TODAY + timedelta(days=3))
    assert (dispute.status, dispute.outcome, dispute.resolved_on, dispute.resolved_by) == (
        DisputeStatus.RESOLVED, DisputeOutcome.CUSTOMER_WRONG, TODAY + timedelta(days=3), "clerk-2")
    resolved = dispute.events[-1]
    assert isinstance(resolved, InvoiceDisputeResolved)
    assert (resolved.outcome, resolved.resolution, resolved.dispute_id) == (
        "customer_wrong", "delivery note signed on 3 Dec", dispute.id)
    with pytest.raises(DomainError) as refused:
        dispute.resolve(outcome=DisputeOutcome.WITHDRAWN, resolution="again", by="clerk", on=TODAY)
    _refused(refused, "dispute-not-open")


# -- promises to pay -----------------------------------------------------------------------------


def test_a_promise_is_for_today_or_later_and_at_most_what_is_open():
    _, invoice = _invoice()
    with pytest.raises(RuleViolation) as refused:
        _promise(invoice, by=TODAY - timedelta(days=1))
    _refused(refused, "promised-date-passed", "promised_date")
    with pytest.raises(RuleViolation) as refused:
        _promise(invoice, eur("1000.01"))
    _refused(refused, "promised-amount-exceeds-open-amount", "amount.amount")
    with pytest.raises(RuleViolation) as refused:
        _promise(invoice, Money(eur("5.00").amount, "USD"))
    _refused(refused, "promised-amount-invalid", "amount.currency")
    today = _promise(invoice, by=TODAY)
    assert today.amount == eur("1000.00") and today.status is PromiseStatus.OPEN
    [event] = today.events
    assert isinstance(event, PromiseToPayRecorded)
    assert (event.amount.amount, event.promised_date, event.recorded_on) == (eur("1000.00").amount, TODAY, TODAY)
    with pytest.raises(DomainError) as refused:
        require_no_open_promise(invoice, today)
    _refused(refused, "promise-already-open", "invoice_id")


def test_a_promise_holds_dunning_until_its_date_and_breaks_the_day_after_unless_paid():
    _, invoice = _invoice()
    invoice.apply(eur("100.00"), on=TODAY)  # before the promise: not what was promised
    promise = _promise(invoice, eur("500.00"))
    due = promise.promised_date
    assert promise.holds(due) and not promise.holds(due + timedelta(days=1))
    assert promise.review(invoice, due) is PromiseStatus.OPEN
    invoice.apply(eur("499.99"), on=due)
    assert promise.review(invoice, due) is PromiseStatus.OPEN, "not broken on its own date"
    assert promise.review(invoice, due + timedelta(days=1)) is PromiseStatus.BROKEN
    assert (promise.closed_on, promise.paid_since(invoice)) == (due + timedelta(days=1), eur("499.99"))
    assert not promise.holds(due)
    broken = promise.events[-1]
    assert isinstance(broken, PromiseToPayBroken)
    assert (broken.paid_since.amount, broken.broken_on, broken.amount.amount) == (
        eur("499.99").amount, due + timedelta(days=1), eur("500.00").amount)
    invoice.apply(eur("0.01"), on=due + timedelta(days=2))
    assert promise.review(invoice, due + timedelta(days=2)) is PromiseStatus.BROKEN, "broken stays broken"
    assert promise.paid_since(invoice) == eur("499.99"), "what it had when it broke"


def test_a_promise_paid_is_kept_at_once_even_before_its_date():
    _, invoice = _invoice()
    promise = _promise(invoice, eur("400.00"))
    invoice.apply(eur("400.00"), on=TODAY)
    assert promise.review(invoice, TODAY) is PromiseStatus.KEPT
    assert not any(isinstance(e, PromiseToPayBroken) for e in promise.events)
    assert promise.review(invoice, promise.promised_date + timedelta(days=30)) is PromiseStatus.KEPT


def test_a_promise_on_an_invoice_credited_away_is_settled_not_broken():
    plan, invoice = _invoice()
    promise = _promise(invoice)
    credit(plan, invoice, eur("1000.00"), on=TODAY)
    assert promise.review(invoice, promise.promised_date + timedelta(days=1)) is PromiseStatus.SETTLED
    assert not any(isinstance(e, PromiseToPayBroken) for e in promise.events)


def test_an_open_dispute_holds_dunning_whatever_a_promise_says():
    _, invoice = _invoice()
    promise = _promise(invoice)
    dispute = _dispute(invoice)
    after = promise.promised_date + timedelta(days=10)
    assert dunning_holds([dispute], [promise], TODAY)[invoice.id].reason is HoldReason.DISPUTE
    assert dunning_holds([], [promise], TODAY)[invoice.id].until == promise.promised_date
    assert dunning_holds([], [promise], after) == {}
    assert dunning_holds([dispute], [], after)[invoice.id].by_id == dispute.id
    dispute.resolve(outcome=DisputeOutcome.WITHDRAWN, resolution="paid in full next week", by="clerk", on=TODAY)
    assert dunning_holds([dispute], [promise], after) == {}


# -- what the dunning run makes of a pause ---------------------------------------------------------


def _overdue(due: date) -> OverdueInvoice:
    _, invoice = _invoice()
    return OverdueInvoice(invoice_id=invoice.id, number=invoice.number, contract_id=invoice.contract_id,
                          account_id=invoice.account_id, lineage=invoice.lineage(), due_date=due,
                          open_amount=invoice.open_amount)


def _levels(invoice: OverdueInvoice, states: dict, days: range, due: date, **pause) -> list[DunningLevel | None]:
    seen = []
    for day in days:
        run_dunning([invoice], states, due + timedelta(days=day), **pause)
        seen.append(states[invoice.invoice_id].level if invoice.invoice_id in states else None)
    return seen


def test_a_paused_invoice_keeps_its_level_over_many_runs_and_resumes_from_it():
    due = date(2027, 1, 1)
    invoice = _overdue(due)
    states: dict[uuid.UUID, Dunning] = {}
    assert _levels(invoice, states, range(1, 2), due) == [DunningLevel.REMINDER]
    paused = _levels(invoice, states, range(2, 90), due, paused={invoice.invoice_id})
    assert set(paused) == {DunningLevel.REMINDER}
    assert _levels(invoice, states, range(90, 93), due) == [
        DunningLevel.SECOND_REMINDER, DunningLevel.FINAL_NOTICE, DunningLevel.ESCALATED], "one step a day, none skipped"


def test_a_broken_promise_takes_the_next_level_on_that_run_whatever_its_threshold():
    due = date(2027, 1, 1)
    invoice = _overdue(due)
    states: dict[uuid.UUID, Dunning] = {}
    run_dunning([invoice], states, due + timedelta(days=1))
    [(state, _)] = run_dunning([invoice], states, due + timedelta(days=5), escalate={invoice.invoice_id})
    assert state.level is DunningLevel.SECOND_REMINDER, "day 5, not 15: the customer's word did not hold"
    assert run_dunning([invoice], states, due + timedelta(days=6)) == [], "then the ladder's thresholds again"
    fresh = _overdue(due)
    [(state, _)] = run_dunning([fresh], {}, due + timedelta(days=1), escalate={fresh.invoice_id})
    assert state.level is DunningLevel.REMINDER
    top = Dunning(invoice_id=fresh.invoice_id)
    top.level, top.dunned_on = DunningLevel.ESCALATED, due + timedelta(days=70)
    assert run_dunning([fresh], {fresh.invoice_id: top}, due + timedelta(days=80), escalate={fresh.invoice_id}) == []


@settings(max_examples=100, deadline=None)
@given(st.lists(st.tuples(st.integers(min_value=1, max_value=120), st.booleans()), min_size=1, max_size=40))
def test_runs_while_paused_never_move_an_invoice(runs):
    """Whatever days the runs judge, in whatever order, a paused invoice's dunning state is not touched."""
    due = date(2027, 1, 1)
    invoice = _overdue(due)
    states: dict[uuid.UUID, Dunning] = {}
    for day, paused in runs:
        before = (states[invoice.invoice_id].level, states[invoice.invoice_id].dunned_on) \
            if invoice.invoice_id in states else None
        moved = run_dunning([invoice], states, due + timedelta(days=day),
                            paused={invoice.invoice_id} if paused else ())
        if paused:
            assert moved == []
            after = (states[invoice.invoice_id].level, states[invoice.invoice_id].dunned_on) \
                if invoice.invoice_id in states else None
            assert after == before


# -- the document other teams generate clients from ------------------------------------------------


def test_the_collections_schemas_keep_their_own_names_in_the_openapi_document():
    """Two models or enums of one name make FastAPI qualify both with their module path, which the
    generated clients cannot resolve (openapi-python-client drops the schema that uses them)."""
    from ltc.finance.bootstrap import SPEC
    from ltc.shared.service import create_app

    schemas = create_app(SPEC).openapi()["components"]["schemas"]
    assert [name for name in schemas if "__" in name] == []
    history = schemas["CollectionsHistoryEntryRead"]["properties"]
    assert history["action"] == {"$ref": "#/components/schemas/CollectionsAction"}
    assert schemas["CollectionsAction"]["enum"] == ["opened", "resolved", "recorded", "kept", "broken", "settled"]
    assert schemas["PromiseToPayRead"]["properties"]["status"]["$ref"] == "#/components/schemas/PromiseStatus"
    assert schemas["PromiseStatus"]["enum"] == ["open", "kept", "broken", "settled"]
    assert {"version", "etag"} <= set(schemas["DisputeRead"]["properties"])
