"""A version's schedule in money: the value split exactly, date triggers, and after an amendment
percentages derived from the amounts kept."""

import uuid
from datetime import date
from decimal import Decimal

from ltc.contracts.domain.amendment import DecisionOutcome, TermChanges
from ltc.contracts.domain.policy import DEFAULT_POLICY, Risk, Tier
from ltc.contracts.domain.values import PaymentTerm, Trigger
from ltc.shared.money import Money
from tests.unit.contracts.sample import NOW, TODAY
from tests.unit.contracts.sample import contract as _contract
from tests.unit.contracts.sample import draft as _draft
from tests.unit.contracts.sample import line as _line
from tests.unit.contracts.sample import review_all as _review_all
from tests.unit.contracts.sample import sign_on as _sign


def test_the_schedule_adds_up_exactly_to_the_value_when_shares_do_not_divide_it():
    thirds = [PaymentTerm(f"part {n}", Decimal("33.33"), Trigger.SIGNING, None, 30) for n in range(2)]
    thirds.append(PaymentTerm("rest", Decimal("33.34"), Trigger.SIGNING, None, 30))
    contract = _draft(value=Money(Decimal("100.01"), "EUR"), terms=thirds, milestones=[])
    amounts = [i.amount.to_money() for i in contract.payment_schedule()]
    assert sum((a.amount for a in amounts), Decimal(0)) == Decimal("100.01")
    assert {a.currency for a in amounts} == {"EUR"}


def test_a_date_triggered_instalment_carries_its_date_and_line_items_price_the_value():
    terms = [PaymentTerm("advance", Decimal(40), Trigger.SIGNING, None, 30),
             PaymentTerm("year end", Decimal(60), Trigger.DATE, None, 30, due_date=date(2027, 12, 31))]
    contract = _draft(value="1000.00", terms=terms, milestones=[],
                      line_items=[_line("licence", 4, "250.00")])
    [advance, year_end] = contract.payment_schedule()
    assert (advance.amount.amount, year_end.amount.amount) == (Decimal("400.00"), Decimal("600.00"))
    assert (year_end.trigger, year_end.due_date, year_end.milestone_id) == ("date", date(2027, 12, 31), None)
    assert "due_date" not in advance.model_dump(mode="json")


def test_after_an_amendment_percentages_and_amounts_describe_the_same_schedule():
    contract = _contract()
    _review_all(contract)
    _sign(contract, date(2027, 9, 1))  # the advance (30 % = 300,000.00) is triggered and invoiced
    amendment = contract.request_amendment(amendment_id=uuid.uuid4(), reason="second region",
                                           changes=TermChanges(value=Money(Decimal("1200000.00"), "EUR")),
                                           declared_risk=Risk.LOW, requested_by="ar-1", policy=DEFAULT_POLICY,
                                           today=TODAY, now=NOW)
    contract.events.clear()
    contract.decide_amendment(amendment.amendment_id, outcome=DecisionOutcome.APPROVED, decider="boss",
                              decider_authority=Tier.L3, comment=None, today=TODAY, now=NOW)
    schedule = [(t.name, t.percent, t.amount) for t in contract.payment_terms]
    assert schedule == [("advance", Decimal("25.0000"), Decimal("300000.00")),
                        ("preliminary acceptance", Decimal("64.2857"), Decimal("771428.57")),
                        ("final acceptance", Decimal("10.7143"), Decimal("128571.43"))]
    assert sum(t.percent for t in contract.payment_terms) == 100
    assert sum(t.amount for t in contract.payment_terms) == Decimal("1200000.00")
    [amended] = contract.events
    assert [(i.percent, i.amount.amount) for i in amended.payment_schedule] == [(p, a) for _, p, a in schedule]
    assert [(t.percent, t.amount) for t in contract.terms().payment_terms] == [(p, a) for _, p, a in schedule]
    assert "ar-1" in contract.authors  # the requester wrote these terms


def test_before_any_amendment_the_agreed_percentages_stand():
    contract = _contract(value="999999.99")
    assert [t.percent for t in contract.payment_terms] == [Decimal("30"), Decimal("60"), Decimal("10")]
    assert [t.amount for t in contract.payment_terms] == [Decimal("299999.99"), Decimal("599999.99"),
                                                        Decimal("100000.01")]

