"""The opportunity's life in the thin flow: creation, win with checked terms, lose, abandon."""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime
from decimal import Decimal

import pytest
from ltc.opportunities.domain.model import (
    AcceptanceType,
    CommercialTerms,
    Milestone,
    Opportunity,
    PaymentTerm,
    PaymentTrigger,
    Stage,
)
from ltc.shared.errors import DomainError, RuleViolation
from ltc.shared.messages.opportunities_events import OpportunityCreated, OpportunityLost, OpportunityWon
from ltc.shared.money import Money

NOW = datetime(2026, 11, 27, 12, 0, tzinfo=UTC)


def an_opportunity(*, lead_id: uuid.UUID | None = None, budget: Money | None = None) -> Opportunity:
    return Opportunity(id=uuid.uuid4(), lead_id=lead_id, account_id=uuid.uuid4(), account_name="ACME Rail",
                       title="Signalling upgrade", need="unreliable interlocking", budget=budget,
                       start_date=date(2027, 1, 1), owner="alice", now=NOW)


def signing(percent: str, name: str = "advance") -> PaymentTerm:
    return PaymentTerm(name, Decimal(percent), PaymentTrigger.SIGNING, None, 30)


def on_milestone(percent: str, milestone: str | None, name: str = "progress", due_days: int = 30) -> PaymentTerm:
    return PaymentTerm(name, Decimal(percent), PaymentTrigger.MILESTONE, milestone, due_days)


def milestone(name: str, acceptance: AcceptanceType = AcceptanceType.PRELIMINARY) -> Milestone:
    return Milestone(name, date(2027, 6, 1), acceptance)


def terms(*payment_terms: PaymentTerm, milestones: tuple[Milestone, ...] = (),
          value: Money = Money(Decimal("1000000.00"), "EUR")) -> CommercialTerms:
    return CommercialTerms(value=value, payment_terms=payment_terms, milestones=milestones)


GOOD_TERMS = terms(
    signing("30"), on_milestone("60", "installation", "on installation"), on_milestone("10", "handover", "final"),
    milestones=(milestone("installation"), milestone("handover", AcceptanceType.FINAL)),
)


def fields(exc: pytest.ExceptionInfo[RuleViolation]) -> list[str]:
    return [error["field"] for error in exc.value.errors]


def test_a_new_opportunity_is_validating_and_announced_with_its_lineage() -> None:
    lead_id = uuid.uuid4()
    opportunity = an_opportunity(lead_id=lead_id, budget=Money(Decimal("500000"), "EUR"))

    assert opportunity.stage is Stage.VALIDATING
    assert opportunity.budget == Money(Decimal("500000"), "EUR")
    [created] = opportunity.events
    assert isinstance(created, OpportunityCreated)
    assert created.lead_id == lead_id and created.owner == "alice"
    assert created.budget is not None and created.budget.amount == Decimal("500000.00")
    assert created.lineage.lead_id == lead_id and created.lineage.opportunity_id == opportunity.id


def test_a_direct_opportunity_has_no_lead_and_may_have_no_budget() -> None:
    opportunity = an_opportunity()

    assert opportunity.budget is None
    [created] = opportunity.events
    assert created.lead_id is None and created.budget is None and created.lineage.lead_id is None


@pytest.mark.parametrize("amount", ["0", "-1"])
def test_a_budget_must_be_positive(amount: str) -> None:
    with pytest.raises(RuleViolation) as exc:
        an_opportunity(budget=Money(Decimal(amount), "EUR"))
    assert exc.value.rule == "budget-not-positive"


def test_winning_with_sound_terms_records_them_and_hands_over_to_contracts() -> None:
    lead_id = uuid.uuid4()
    opportunity = an_opportunity(lead_id=lead_id)
    opportunity.events.clear()

    opportunity.win(GOOD_TERMS, by="alice", now=NOW)

    assert opportunity.stage is Stage.WON and opportunity.is_closed
    assert opportunity.closed_by == "alice" and opportunity.closed_at == NOW
    assert opportunity.commercial_terms is not None
    assert opportunity.commercial_terms["value"] == {"amount": "1000000.00", "currency": "EUR"}
    [won] = opportunity.events
    assert isinstance(won, OpportunityWon)
    assert won.lineage.lead_id == lead_id and won.lineage.opportunity_id == opportunity.id
    assert [t.percent for t in won.terms.payment_terms] == [Decimal(30), Decimal(60), Decimal(10)]
    assert won.terms.payment_terms[1].milestone == "installation"
    assert [m.acceptance_type for m in won.terms.milestones] == ["preliminary", "final"]


def test_one_payment_on_signing_without_milestones_is_enough() -> None:
    opportunity = an_opportunity()
    opportunity.win(terms(signing("100")), by="alice", now=NOW)
    assert opportunity.stage is Stage.WON


def test_fractional_percentages_that_sum_to_exactly_100_are_accepted() -> None:
    opportunity = an_opportunity()
    opportunity.win(terms(signing("33.33", "a"), signing("33.33", "b"), signing("33.34", "c")), by="alice", now=NOW)
    assert opportunity.stage is Stage.WON


@pytest.mark.parametrize(("bad_terms", "expected_fields"), [
    (terms(signing("100"), value=Money(Decimal("0"), "EUR")), ["value.amount"]),
    (terms(signing("100"), value=Money(Decimal("-5"), "EUR")), ["value.amount"]),
    (terms(), ["payment_terms"]),
    (terms(signing("30"), signing("60")), ["payment_terms"]),
    (terms(signing("50"), signing("50.01")), ["payment_terms"]),
    (terms(signing("0"), signing("100")), ["payment_terms.0.percent"]),
    (terms(signing("-10"), signing("110")), ["payment_terms.0.percent"]),
    (terms(signing("NaN"), signing("100")), ["payment_terms.0.percent"]),
    (terms(on_milestone("100", "acceptance")), ["payment_terms.0.milestone"]),
    (terms(on_milestone("100", None)), ["payment_terms.0.milestone"]),
    (terms(PaymentTerm("advance", Decimal(100), PaymentTrigger.SIGNING, "handover", 0),
           milestones=(milestone("handover"),)), ["payment_terms.0.milestone"]),
    (terms(on_milestone("100", "handover", due_days=-1), milestones=(milestone("handover"),)),
     ["payment_terms.0.due_days"]),
    (terms(signing("100"), milestones=(milestone("handover"), milestone("handover"))),
     ["milestones.0.name", "milestones.1.name"]),
], ids=["zero-value", "negative-value", "no-payment-terms", "sum-below-100", "sum-above-100", "zero-percent",
        "negative-percent", "nan-percent", "unknown-milestone", "milestone-trigger-without-milestone",
        "signing-with-milestone", "negative-due-days", "duplicate-milestone-names"])
def test_unsound_terms_are_refused_naming_the_field(bad_terms: CommercialTerms, expected_fields: list[str]) -> None:
    opportunity = an_opportunity()
    opportunity.events.clear()

    with pytest.raises(RuleViolation) as exc:
        opportunity.win(bad_terms, by="alice", now=NOW)

    assert exc.value.rule == "commercial-terms-invalid"
    assert fields(exc) == expected_fields
    assert opportunity.stage is Stage.VALIDATING and opportunity.commercial_terms is None
    assert opportunity.events == []


def test_every_problem_of_the_terms_is_listed_at_once() -> None:
    bad = terms(signing("0", "advance"), on_milestone("50", "nowhere"),
                value=Money(Decimal("0"), "EUR"), milestones=(milestone("m"), milestone("m")))

    with pytest.raises(RuleViolation) as exc:
        an_opportunity().win(bad, by="alice", now=NOW)

    assert fields(exc) == ["value.amount", "milestones.0.name", "milestones.1.name", "payment_terms.0.percent",
                           "payment_terms.1.milestone", "payment_terms"]


def test_losing_records_the_reason_and_the_winning_competitor() -> None:
    opportunity = an_opportunity(lead_id=uuid.uuid4())
    opportunity.events.clear()

    opportunity.lose(reason="  price too high ", competitor="Rival Corp", by="alice", now=NOW)

    assert opportunity.stage is Stage.LOST
    assert opportunity.closed_reason == "price too high" and opportunity.competitor == "Rival Corp"
    [lost] = opportunity.events
    assert isinstance(lost, OpportunityLost)
    assert lost.reason == "price too high" and lost.competitor == "Rival Corp" and lost.lost_at == NOW
    assert lost.lineage.opportunity_id == opportunity.id


def test_losing_without_a_known_competitor_is_allowed() -> None:
    opportunity = an_opportunity()
    opportunity.lose(reason="customer cancelled the project", competitor=None, by="alice", now=NOW)
    assert opportunity.stage is Stage.LOST and opportunity.competitor is None


def test_abandoning_records_the_reason_and_publishes_nothing() -> None:
    opportunity = an_opportunity()
    opportunity.events.clear()

    opportunity.abandon(reason="no fit with our portfolio", by="admin-1", now=NOW)

    assert opportunity.stage is Stage.ABANDONED and opportunity.closed_reason == "no fit with our portfolio"
    assert opportunity.closed_by == "admin-1"
    assert opportunity.events == []


@pytest.mark.parametrize("close", [
    lambda o: o.lose(reason="  ", competitor=None, by="alice", now=NOW),
    lambda o: o.abandon(reason="", by="alice", now=NOW),
], ids=["lose", "abandon"])
def test_closing_without_a_reason_is_refused(close) -> None:  # noqa: ANN001
    opportunity = an_opportunity()
    with pytest.raises(RuleViolation) as exc:
        close(opportunity)
    assert exc.value.rule == "close-reason-required"
    assert opportunity.stage is Stage.VALIDATING


@pytest.mark.parametrize("first", ["win", "lose", "abandon"])
@pytest.mark.parametrize("then", ["win", "lose", "abandon"])
def test_a_closed_opportunity_can_no_longer_change(first: str, then: str) -> None:
    actions = {
        "win": lambda o: o.win(GOOD_TERMS, by="alice", now=NOW),
        "lose": lambda o: o.lose(reason="price", competitor=None, by="alice", now=NOW),
        "abandon": lambda o: o.abandon(reason="no budget", by="alice", now=NOW),
    }
    opportunity = an_opportunity()
    actions[first](opportunity)
    stage, events = opportunity.stage, list(opportunity.events)

    with pytest.raises(DomainError) as exc:
        actions[then](opportunity)

    assert exc.value.rule == "opportunity-closed" and exc.value.status == 409
    assert opportunity.stage is stage and opportunity.events == events


@pytest.mark.parametrize("stage", [Stage.STRATEGIZING, Stage.BIDDING, Stage.NEGOTIATING])
def test_every_open_stage_may_still_be_won(stage: Stage) -> None:
    opportunity = an_opportunity()
    opportunity.stage = stage
    opportunity.win(GOOD_TERMS, by="alice", now=NOW)
    assert opportunity.stage is Stage.WON
