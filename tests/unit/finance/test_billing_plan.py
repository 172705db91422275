"""The billing plan: its schedule and rounding rule, triggers, amendments, and when a contract is fully paid."""

import uuid
from datetime import date
from decimal import ROUND_DOWN, Decimal
from unittest.mock import patch

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ltc.finance.domain.billing_plan import InstalmentStatus, InstalmentTerms, check_schedule
from ltc.finance.domain.invoice import InvoiceStatus
from ltc.shared.errors import DomainError
from ltc.shared.lines import SalesLine
from ltc.shared.messages import Lineage
from ltc.shared.messages.contracts_events import Trigger
from ltc.shared.messages.finance_events import (
    ContractFullyPaid,
    InvoiceIssued,
)
from ltc.shared.money import Money, minor_unit_exponent
from tests.unit.finance.samples import (
    FAC,
    LINEAGE,
    MILLION,
    NOW,
    PAC,
    SIGNED,
    a_plan,
    amendable,
    eur,
    export,
    issue_due,
    issue_one,
    pay,
    pay_contract,
    schedule_line,
    standard_schedule,
)

# -- the schedule and its rounding rule ------------------------------------------------------------


def test_a_plan_has_one_planned_instalment_per_schedule_line():
    plan = a_plan(value=MILLION)
    assert [(i.name, i.amount, i.status) for i in plan.instalments] == [
        ("advance", Decimal("300000.00"), InstalmentStatus.PLANNED),
        ("preliminary acceptance", Decimal("600000.00"), InstalmentStatus.PLANNED),
        ("final acceptance", Decimal("100000.00"), InstalmentStatus.PLANNED),
    ]
    assert plan.invoiced == eur("0") and plan.collected == eur("0") and plan.open_balance == eur("0")


def test_instalments_must_add_up_exactly_to_the_contract_value():
    schedule = standard_schedule(eur("1000000.00"))
    schedule[-1] = schedule_line("final acceptance", "10", eur("99999.99"), milestone=FAC)
    with pytest.raises(DomainError) as failure:
        a_plan(schedule, eur("1000000.00"))
    assert failure.value.rule == "billing-plan-incomplete"


def test_a_split_that_does_not_divide_evenly_still_makes_a_complete_plan():
    value = Money(Decimal("100"), "JPY")
    parts = value.split([Decimal("33.33"), Decimal("33.33"), Decimal("33.34")])
    percents = ["33.33", "33.33", "33.34"]
    plan = a_plan([schedule_line(f"part {i}", p, part) for i, (p, part) in enumerate(zip(percents, parts))], value)
    assert sum(i.amount for i in plan.instalments) == Decimal(100)


@pytest.mark.parametrize(("schedule", "rule"), [
    ([], "billing-plan-empty"),
    ([schedule_line("all", "100", Money(Decimal("1000"), "USD"))], "currency-mismatch"),
    ([schedule_line("all", "100", eur("1000.00")), schedule_line("none", "0", eur("0"))],
     "instalment-amount-not-positive"),
    ([InstalmentTerms("all", Decimal(100), eur("1000.00"), Trigger.MILESTONE, None, 30)],
     "instalment-milestone-missing"),
    ([schedule_line("all", "100", eur("1000.00"), due_days=-1)], "instalment-due-days-negative"),
])
def test_a_schedule_that_cannot_be_billed_is_refused(schedule, rule):
    with pytest.raises(DomainError) as failure:
        a_plan(schedule, eur("1000.00"))
    assert failure.value.rule == rule


@st.composite
def _percentages(draw):
    """Any 1..8 positive percentages with up to two decimals that sum to exactly 100."""
    cuts = sorted(draw(st.sets(st.integers(min_value=1, max_value=9_999), max_size=7)))
    return [Decimal(b - a) / 100 for a, b in zip([0, *cuts], [*cuts, 10_000], strict=True)]


@settings(max_examples=400, deadline=None)
@given(_percentages(), st.sampled_from(["EUR", "JPY", "BHD"]), st.integers(min_value=0, max_value=10**12))
def test_any_percentages_summing_to_100_split_any_amount_exactly(percents, currency, minor):
    value = Money(Decimal(minor).scaleb(-{"EUR": 2, "JPY": 0, "BHD": 3}[currency]), currency)
    parts = value.split(percents)
    assert sum((p.amount for p in parts), Decimal(0)) == value.amount
    quantum = Decimal(1).scaleb(-{"EUR": 2, "JPY": 0, "BHD": 3}[currency])
    for part, percent in zip(parts[:-1], percents[:-1], strict=True):
        exact = value.amount * percent / 100
        assert part.amount <= exact < part.amount + quantum  # rounded down to the minor unit
    if minor:
        schedule = [InstalmentTerms(f"part {i}", p, part, Trigger.SIGNING, None, 30)
                    for i, (p, part) in enumerate(zip(percents, parts, strict=True))]
        if all(not part.is_zero() for part in parts):
            check_schedule(value, schedule)


def test_the_remainder_of_rounding_goes_to_the_last_instalment():
    parts = eur("999999.99").split([Decimal(30), Decimal(60), Decimal(10)])
    assert [p.amount for p in parts] == [Decimal("299999.99"), Decimal("599999.99"), Decimal("100000.01")]


def test_stated_amounts_that_break_the_rounding_rule_are_refused():
    schedule = [schedule_line("a", "30", "300.01"), schedule_line("b", "70", "699.99")]
    with pytest.raises(DomainError) as failure:
        a_plan(schedule)
    assert failure.value.rule == "instalment-amount-mismatch"


def test_percentages_that_do_not_add_up_to_100_are_refused_even_when_amounts_do():
    with pytest.raises(DomainError) as failure:
        a_plan([schedule_line("a", "30", "300.00"), schedule_line("b", "60", "700.00")])
    assert failure.value.rule == "billing-plan-incomplete"


def test_instalment_names_are_unique():
    with pytest.raises(DomainError) as failure:
        a_plan([schedule_line("a", "50", "500.00"), schedule_line("a", "50", "500.00")])
    assert failure.value.rule == "instalment-names-not-unique"


# -- triggers and invoicing ------------------------------------------------------------------------


def test_signing_and_milestones_pick_their_own_instalments():
    plan = a_plan(value=MILLION)
    assert [i.name for i in plan.invoiceable(date(2026, 11, 20))] == ["advance"]
    assert plan.accept_milestone(uuid.uuid4()) == []
    assert [i.name for i in plan.accept_milestone(PAC)] == ["preliminary acceptance"]
    assert [i.name for i in plan.invoiceable(date(2026, 11, 20))] == ["advance", "preliminary acceptance"]


def test_a_date_instalment_becomes_invoiceable_on_its_date():
    plan = a_plan([schedule_line("advance", "50", "500.00"),
                   schedule_line("q1", "50", "500.00", invoice_on=date(2027, 1, 31))])
    assert [i.name for i in plan.invoiceable(date(2027, 1, 30))] == ["advance"]
    assert [i.name for i in plan.invoiceable(date(2027, 1, 31))] == ["advance", "q1"]


def test_a_date_instalment_must_name_its_date():
    with pytest.raises(DomainError) as failure:
        a_plan([InstalmentTerms("q1", Decimal(100), eur("1000.00"), Trigger.DATE, None, 30)])
    assert failure.value.rule == "instalment-date-missing"


def test_invoicing_an_instalment_issues_an_invoice_with_lineage_and_due_date():
    plan = a_plan(value=MILLION)
    invoice = issue_one(plan, 1, issue_date=date(2027, 3, 1))
    assert invoice.amount == eur("600000.00")
    assert invoice.due_date == date(2027, 4, 15)
    assert invoice.status is InvoiceStatus.ISSUED
    assert plan.instalments[1].status is InstalmentStatus.INVOICED
    assert plan.instalments[1].invoice_id == invoice.id
    assert plan.accept_milestone(PAC) == []
    assert plan.invoiced == eur("600000.00")
    [issued] = invoice.events
    assert isinstance(issued, InvoiceIssued)
    assert issued.lineage == Lineage(lead_id=LINEAGE.lead_id, opportunity_id=LINEAGE.opportunity_id,
                                     contract_id=plan.contract_id)
    assert issued.amount.to_money() == eur("600000.00")


def test_an_instalment_is_invoiced_only_once():
    plan = a_plan(value=MILLION)
    issue_one(plan, 0)
    with pytest.raises(DomainError) as failure:
        issue_one(plan, 0)
    assert failure.value.rule == "instalment-already-invoiced"


# -- amendments ------------------------------------------------------------------------------------


def test_an_amendment_replans_only_what_is_not_invoiced():
    plan, [advance] = amendable()
    changed = plan.amend(contract_version=2, value=eur("1200.00"), on=date(2027, 1, 10), schedule=[
        schedule_line("advance", "30", "300.00"), schedule_line("pac", "50", "600.00", milestone=PAC, due_days=60),
        schedule_line("extra", "25", "300.00", milestone=PAC)])
    assert changed
    assert plan.value == eur("1200.00") and plan.contract_version == 2
    assert [(i.name, i.amount, i.status) for i in plan.instalments] == [
        ("advance", Decimal("300.00"), InstalmentStatus.INVOICED), ("pac", Decimal("600.00"), InstalmentStatus.PLANNED),
        ("extra", Decimal("300.00"), InstalmentStatus.PLANNED)]
    assert plan.instalments[1].due_days == 60
    assert advance.amount == eur("300.00") and advance.events[-1].amount.to_money() == eur("300.00")


def test_an_amendment_that_changes_an_invoiced_instalment_is_refused_and_changes_nothing():
    plan, _ = amendable()
    for schedule in ([schedule_line("advance", "40", "400.00"), schedule_line("pac", "60", "600.00", milestone=PAC)],
                     [schedule_line("pac", "100", "1000.00", milestone=PAC)]):
        with pytest.raises(DomainError) as failure:
            plan.amend(contract_version=2, value=eur("1000.00"), schedule=schedule, on=date(2027, 1, 10))
        assert failure.value.rule == "invoiced-instalment-changed"
    assert plan.contract_version == 1 and [i.amount for i in plan.instalments] == [Decimal("300.00"),
                                                                                   Decimal("700.00")]


def test_an_amendment_must_still_add_up_to_the_new_value():
    plan, _ = amendable()
    with pytest.raises(DomainError) as failure:
        plan.amend(contract_version=2, value=eur("1100.00"), on=date(2027, 1, 10),
                   schedule=[schedule_line("advance", "30", "300.00"),
                             schedule_line("pac", "70", "700.00", milestone=PAC)])
    assert failure.value.rule == "billing-plan-incomplete"


def test_an_old_or_repeated_amendment_is_ignored():
    plan, _ = amendable()
    schedule = [schedule_line("advance", "30", "300.00"), schedule_line("pac", "70", "800.00", milestone=PAC)]
    assert plan.amend(contract_version=2, value=eur("1100.00"), schedule=schedule, on=date(2027, 1, 10))
    assert not plan.amend(contract_version=2, value=eur("9.00"), schedule=[], on=date(2027, 1, 10))
    assert not plan.amend(contract_version=1, value=eur("9.00"), schedule=[], on=date(2027, 1, 10))
    assert plan.value == eur("1100.00")


def test_an_instalment_added_on_an_accepted_milestone_is_invoiceable_at_once():
    plan, _ = amendable()
    [pac] = plan.accept_milestone(PAC)
    issue_due(plan)
    plan.amend(contract_version=2, value=eur("1500.00"), on=date(2027, 4, 1), schedule=[
        schedule_line("advance", "30", "300.00"), schedule_line("pac", "70", "700.00", milestone=PAC),
        schedule_line("change request", "0", "500.00", milestone=PAC)])
    assert [i.name for i in plan.invoiceable(date(2027, 4, 1))] == ["change request"]


def test_scope_added_after_full_payment_is_reported_fully_paid_again_once_collected():
    plan, invoices = amendable()
    plan.accept_milestone(PAC)
    invoices += issue_due(plan)
    pay([plan], invoices, eur("1000.00"), contract_id=plan.contract_id)
    assert plan.fully_paid_on == date(2026, 12, 1)
    plan.amend(contract_version=2, value=eur("1200.00"), on=date(2027, 2, 1), schedule=[
        schedule_line("advance", "30", "300.00"), schedule_line("pac", "70", "700.00", milestone=PAC),
        schedule_line("extra", "0", "200.00")])
    assert plan.fully_paid_on is None
    extra = issue_due(plan, date(2027, 2, 1))
    pay([plan], extra, eur("200.00"), contract_id=plan.contract_id, on=date(2027, 3, 1))
    assert [e.fully_paid_on for e in plan.events if isinstance(e, ContractFullyPaid)] == [date(2026, 12, 1),
                                                                                        date(2027, 3, 1)]


def test_a_reduced_amendment_can_finish_the_contract():
    plan, [advance] = amendable()
    pay([plan], [advance], eur("300.00"), contract_id=plan.contract_id)
    plan.amend(contract_version=2, value=eur("300.00"), on=date(2027, 2, 1),
               schedule=[schedule_line("advance", "30", "300.00")])
    assert plan.fully_paid_on == date(2027, 2, 1)


# -- fully paid ------------------------------------------------------------------------------------


def test_the_contract_is_fully_paid_once_every_instalment_is_invoiced_and_collected():
    plan = a_plan(value=MILLION)
    invoices = [issue_one(plan, 0), issue_one(plan, 1)]
    pay_contract(plan, invoices, eur("900000.00"))
    assert plan.fully_paid_on is None and not plan.events
    invoices.append(issue_one(plan, 2))
    pay_contract(plan, invoices, eur("100000.00"), value_date=date(2027, 10, 1))
    assert plan.fully_paid_on == date(2027, 10, 1)
    [fully_paid] = plan.events
    assert isinstance(fully_paid, ContractFullyPaid)
    assert fully_paid.collected.to_money() == fully_paid.value.to_money() == eur("1000000.00")
    assert fully_paid.fully_paid_on == date(2027, 10, 1) and fully_paid.signed_on == plan.signed_on
    later = pay_contract(plan, invoices, eur("50.00"))
    assert later.unapplied == eur("50.00")
    assert len(plan.events) == 1


def test_fully_paid_carries_the_lead_to_cash_dates():
    plan = a_plan([schedule_line("all", "100", "1000.00")])
    pay([plan], issue_due(plan), eur("1000.00"), contract_id=plan.contract_id, on=date(2027, 1, 19))
    [fully_paid] = plan.events
    assert isinstance(fully_paid, ContractFullyPaid)
    assert (fully_paid.lead_created_on, fully_paid.won_on, fully_paid.signed_on, fully_paid.first_invoiced_on,
            fully_paid.fully_paid_on) == (date(2026, 9, 1), date(2026, 11, 1), SIGNED, SIGNED, date(2027, 1, 19))
    assert fully_paid.days_signed_to_cash == 60 and fully_paid.days_lead_to_cash == 140
    assert fully_paid.lineage.lead_id == plan.lead_id and fully_paid.lineage.contract_id == plan.contract_id


# -- billing by line ------------------------------------------------------------------------------

LINE_CURRENCIES = ("EUR", "JPY", "BHD")


@st.composite
def lined_plans(draw):
    """A contract of awkward lines (quantities, prices and discounts as a seller sets them, each net
    exact in its currency), some delivered with the final acceptance, billed by a random schedule:
    the final acceptance's instalment bills exactly its lines, the rest are split by percentages."""
    currency = draw(st.sampled_from(LINE_CURRENCIES))
    quantum = Decimal(1).scaleb(-minor_unit_exponent(currency))
    lines = []
    for position in range(1, draw(st.integers(1, 6)) + 1):
        quantity = Decimal(draw(st.integers(1, 10_000))) / Decimal(draw(st.sampled_from([1, 4, 8, 1000])))
        price_units = draw(st.integers(1, 10**7))
        gross = quantity * price_units * quantum
        if gross != gross.quantize(quantum):
            quantity = Decimal(draw(st.integers(1, 10_000)))  # an exact line: the ATC refuses inexact ones
            gross = quantity * price_units * quantum
        discount = (gross * draw(st.integers(0, 30)) / 100).quantize(quantum, rounding=ROUND_DOWN)
        lines.append(SalesLine(position, f"line {position}", quantity, "C62", Money(price_units * quantum, currency),
                               discount=Money(discount, currency) if discount else None,
                               milestone="FAC" if position > 1 and draw(st.booleans()) else None))
    at_fac = sum((line.net.amount for line in lines if line.milestone), Decimal(0))
    rest = sum((line.net.amount for line in lines if not line.milestone), Decimal(0))
    percentages = draw(st.lists(st.integers(1, 100), min_size=1, max_size=4))
    parts = Money(rest, currency).allocate([Decimal(p) for p in percentages]) if rest else []
    schedule = [schedule_line(f"part {i}", "1", part, currency=currency, due_days=30)
                for i, part in enumerate(parts) if not part.is_zero()]
    if at_fac:
        schedule.append(schedule_line("final acceptance", "1", Money(at_fac, currency), milestone=FAC,
                                      currency=currency))
    order = draw(st.permutations(range(len(schedule))))
    return lines, schedule, Money(rest + at_fac, currency), order


@settings(max_examples=300, deadline=None)
@given(lined_plans())
def test_over_all_invoices_every_line_is_billed_at_exactly_its_net_and_quantity(case):
    lines, schedule, value, order = case
    with patch("ltc.finance.domain.billing_plan.check_schedule"):  # percentages are other tests' subject
        plan = a_plan(schedule, value, lines=lines, milestones={"FAC": FAC})
    invoices = [plan.invoice(plan.instalments[i], invoice_id=uuid.uuid4(), number=f"T-{i}", issue_date=SIGNED,
                             now=NOW, vat_of=export) for i in order]
    for invoice in invoices:
        assert sum((Decimal(line.net) for line in invoice.lines), Decimal(0)) == invoice.net.amount
        assert invoice.net.amount == next(i.amount for i in plan.instalments if i.id == invoice.instalment_id)
        assert all(line.milestone == "FAC" for line in invoice.lines) == (invoice.instalment == "final acceptance")
    for line in lines:
        billed = [x for invoice in invoices for x in invoice.lines if x.position == line.position]
        assert sum((x.net for x in billed), Decimal(0)) == line.net.amount
        assert sum((x.quantity for x in billed), Decimal(0)) == line.quantity
        assert all(x.net > 0 and x.quantity >= 0 for x in billed)


def test_an_amendment_cannot_take_a_line_below_what_is_invoiced_of_it():
    value = eur("1000.00")
    lines = [SalesLine(1, "router", Decimal(10), "C62", eur("60.00")),
             SalesLine(2, "support", Decimal(4), "MON", eur("100.00"))]
    plan = a_plan([schedule_line("advance", "30", "300.00"), schedule_line("pac", "70", "700.00", milestone=PAC)],
                  lines=lines)
    [advance] = issue_due(plan)
    assert [(x.position, x.net, x.quantity) for x in advance.lines] == [(1, Decimal("180.00"), Decimal("3")),
                                                                       (2, Decimal("120.00"), Decimal("1.2"))]
    fewer = [SalesLine(1, "router", Decimal(2), "C62", eur("60.00")), SalesLine(2, "support", Decimal(4), "MON",
                                                                               eur("100.00")),
             SalesLine(3, "cables", Decimal(1), "LS", eur("480.00"))]
    with pytest.raises(DomainError) as refused:
        plan.amend(contract_version=2, value=value, schedule=[schedule_line("advance", "30", "300.00"),
                                                              schedule_line("pac", "70", "700.00", milestone=PAC)],
                   on=SIGNED, lines=fewer)
    assert refused.value.rule == "line-below-invoiced" and "invoiced for 3" in refused.value.detail


def test_a_plan_whose_milestone_lines_its_instalments_do_not_bill_is_refused():
    lines = [SalesLine(1, "router", Decimal(10), "C62", eur("60.00")),
             SalesLine(2, "training", Decimal(1), "DAY", eur("400.00"), milestone="PAC")]
    with pytest.raises(DomainError) as refused:
        a_plan([schedule_line("advance", "30", "300.00"), schedule_line("pac", "70", "700.00", milestone=PAC)],
               lines=lines, milestones={"PAC": PAC})
    assert refused.value.rule == "billing-plan-incomplete"
