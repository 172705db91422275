"""Amendments of a contract in execution: routed to a decision tier by value change and risk,
decided there (never by their requester), applied as a new version that keeps what happened."""

import uuid
from datetime import date
from decimal import Decimal

import pytest

from ltc.contracts.domain.amendment import AmendmentStatus, DecisionOutcome, TermChanges
from ltc.contracts.domain.model import Contract
from ltc.contracts.domain.policy import DEFAULT_POLICY, Risk, Tier
from ltc.contracts.domain.values import AcceptanceType, AgreedMilestone, MilestoneStatus, PaymentTerm, Trigger
from ltc.shared.errors import DomainError, Forbidden, RuleViolation, status_of
from ltc.shared.messages.contracts_events import ContractAmended
from ltc.shared.money import Money
from tests.unit.contracts.sample import ALL, EUR, MILESTONES, NOW, TERMS, line
from tests.unit.contracts.sample import active as _active
from tests.unit.contracts.sample import draft as _draft


def _amend(contract: Contract, changes: TermChanges, risk: Risk = Risk.LOW, today: date = date(2027, 1, 10)):
    return contract.request_amendment(amendment_id=uuid.uuid4(), reason="second region", changes=changes,
                                      declared_risk=risk, requested_by="ar-1", policy=DEFAULT_POLICY, today=today,
                                      now=NOW)


def _approve(contract: Contract, amendment, authority: Tier | None = Tier.L3, today: date = date(2027, 1, 10)):
    return contract.decide_amendment(amendment.amendment_id, outcome=DecisionOutcome.APPROVED, decider="boss",
                                     decider_authority=authority, comment=None, today=today, now=NOW)


@pytest.mark.parametrize(("value", "risk", "tier"), [
    ("1040000.00", Risk.LOW, Tier.L1),
    ("1050000.00", Risk.LOW, Tier.L1),
    ("1050000.01", Risk.LOW, Tier.L2),
    ("1600000.00", Risk.LOW, Tier.L3),
    ("1010000.00", Risk.HIGH, Tier.L3),
    ("990000.00", Risk.LOW, Tier.L2),  # less value: at least medium risk
])
def test_an_amendment_is_routed_by_value_change_and_risk(value, risk, tier):
    amendment = _amend(_active(), TermChanges(value=Money(Decimal(value), EUR)), risk)
    assert amendment.tier is tier
    assert (amendment.status, amendment.kinds) == (AmendmentStatus.PENDING, ("value",))


def test_postponing_a_milestone_or_changing_payment_terms_is_at_least_medium_risk():
    contract = _active()
    later = [AgreedMilestone("PAC", date(2027, 4, 1), AcceptanceType.PRELIMINARY), MILESTONES[1]]
    amendment = _amend(contract, TermChanges(milestones=later))
    assert (amendment.kinds, amendment.risk, amendment.tier) == (("dates",), Risk.MEDIUM, Tier.L2)


def test_approval_applies_a_new_version_carrying_over_what_has_been_triggered():
    contract = _active()
    contract.accept_milestone(contract.milestones[0].milestone_id, accepted_on=date(2027, 1, 5),
                              certificate_ref="PAC-1", now=NOW)
    contract.events.clear()
    amendment = _amend(contract, TermChanges(value=Money(Decimal("1100000.00"), EUR)))
    assert contract.contract_version == 1 and contract.value.amount == Decimal("1000000.00")

    decided = _approve(contract, amendment, Tier.L2)
    assert contract.review(ALL).passed  # the signed version's review still reads as it was

    assert (decided.status, decided.applied_version, contract.contract_version) == (AmendmentStatus.APPROVED, 2, 2)
    [event] = contract.events
    assert isinstance(event, ContractAmended)
    assert (event.contract_version, event.value.amount, event.reason) == (2, Decimal("1100000.00"), "second region")
    amounts = {i.name: i.amount.amount for i in event.payment_schedule}
    # signing and PAC have happened: their instalments stay; only FAC takes the extra value
    assert amounts == {"advance": Decimal("300000.00"), "preliminary acceptance": Decimal("600000.00"),
                       "final acceptance": Decimal("200000.00")}
    assert sum(amounts.values()) == Decimal("1100000.00")
    assert [m.milestone_id for m in event.milestones] == [m.milestone_id for m in contract.milestones]
    assert contract.milestones[0].status is MilestoneStatus.ACCEPTED
    assert event.lines == []


def test_the_amended_event_carries_the_whole_new_set_of_lines():
    lines = [line("switch", 40, "15000.00"), line("installation", 100, "4000.00", position=2, unit="HUR")]
    contract = _active(line_items=lines)
    repriced = [line("switch", 40, "14000.00"),  # repriced; installation removed; training added
                line("training", 10, "5000.00", position=3, unit="DAY"),
                line("support", 12, "30000.00", position=4, unit="MON")]
    amendment = _amend(contract, TermChanges(value=Money(Decimal("970000.00"), EUR), line_items=repriced))
    assert amendment.kinds == ("scope", "value")
    contract.events.clear()
    _approve(contract, amendment)
    [event] = contract.events
    assert isinstance(event, ContractAmended)
    assert [(p.position, p.description, p.net.amount) for p in event.lines] == [
        (1, "switch", Decimal("560000.00")), (3, "training", Decimal("50000.00")), (4, "support", Decimal("360000.00"))]
    assert contract.line_items == repriced


def test_what_has_happened_cannot_be_amended():
    contract = _active()
    contract.accept_milestone(contract.milestones[0].milestone_id, accepted_on=date(2027, 1, 5),
                              certificate_ref="PAC-1", now=NOW)
    changed_advance = [PaymentTerm("advance", Decimal("20"), Trigger.SIGNING, None, 30),
                       PaymentTerm("preliminary acceptance", Decimal("60"), Trigger.MILESTONE, "PAC", 45),
                       PaymentTerm("final acceptance", Decimal("20"), Trigger.MILESTONE, "FAC", 45)]
    new_signing_term = [*TERMS[:2], PaymentTerm("final acceptance", Decimal("5"), Trigger.MILESTONE, "FAC", 45),
                        PaymentTerm("bonus", Decimal("5"), Trigger.SIGNING, None, 30)]
    moved_pac = [AgreedMilestone("PAC", date(2027, 5, 1), AcceptanceType.PRELIMINARY), MILESTONES[1]]
    cases = [
        (TermChanges(payment_terms=changed_advance), "triggered-instalment-changed"),
        (TermChanges(payment_terms=new_signing_term), "instalment-trigger-passed"),
        (TermChanges(milestones=moved_pac), "accepted-milestone-changed"),
        (TermChanges(value=Money(Decimal("850000.00"), EUR)), "amendment-value-already-invoiced"),
        (TermChanges(value=Money(Decimal("1000000.00"), "USD")), "amendment-currency-change"),
        (TermChanges(title="Core network upgrade"), "amendment-changes-nothing"),
    ]
    for changes, rule in cases:
        with pytest.raises(RuleViolation) as failure:
            _amend(contract, changes)
        assert failure.value.rule == rule, changes
    assert contract.amendments == []
    assert contract.milestones[0].accepted


def test_a_decision_needs_the_routed_tier_or_a_higher_one_and_never_the_requester():
    contract = _active()
    amendment = _amend(contract, TermChanges(value=Money(Decimal("1200000.00"), EUR)))
    assert amendment.tier is Tier.L2
    for too_low in (None, Tier.L1):
        with pytest.raises(Forbidden) as outside:
            _approve(contract, amendment, too_low)
        assert (outside.value.rule, status_of(outside.value)) == ("amendment-outside-authority", 403)
    with pytest.raises(Forbidden) as own:
        contract.decide_amendment(amendment.amendment_id, outcome=DecisionOutcome.APPROVED, decider="ar-1",
                                  decider_authority=Tier.L2, comment=None, today=date(2027, 1, 10), now=NOW)
    assert own.value.rule == "amendment-own-request" and contract.contract_version == 1
    with pytest.raises(Forbidden) as respelled:  # ids are compared as every segregation rule compares them
        contract.decide_amendment(amendment.amendment_id, outcome=DecisionOutcome.APPROVED, decider="AR-1",
                                  decider_authority=Tier.L2, comment=None, today=date(2027, 1, 10), now=NOW)
    assert respelled.value.rule == "amendment-own-request" and contract.contract_version == 1
    assert _approve(contract, amendment, Tier.L3).status is AmendmentStatus.APPROVED  # a higher tier may decide
    assert contract.contract_version == 2


def test_escalation_moves_the_amendment_up_and_rejection_needs_a_reason():
    contract = _active()
    amendment = _amend(contract, TermChanges(value=Money(Decimal("1010000.00"), EUR)))
    escalated = contract.decide_amendment(amendment.amendment_id, outcome=DecisionOutcome.ESCALATED, decider="l1",
                                          decider_authority=Tier.L1, comment=None, today=date(2027, 1, 10), now=NOW)
    assert (escalated.tier, escalated.status) == (Tier.L2, AmendmentStatus.PENDING)
    with pytest.raises(RuleViolation) as silent:
        contract.decide_amendment(amendment.amendment_id, outcome=DecisionOutcome.REJECTED, decider="l2",
                                  decider_authority=Tier.L2, comment=" ", today=date(2027, 1, 10), now=NOW)
    assert silent.value.rule == "decision-comment-required"
    rejected = contract.decide_amendment(amendment.amendment_id, outcome=DecisionOutcome.REJECTED, decider="l2",
                                         decider_authority=Tier.L2, comment="no budget", today=date(2027, 1, 10),
                                         now=NOW)
    assert (rejected.status, [d.tier for d in rejected.decisions]) == (AmendmentStatus.REJECTED, [Tier.L1, Tier.L2])
    assert contract.contract_version == 1 and contract.events == []
    with pytest.raises(DomainError) as again:
        _approve(contract, amendment)
    assert again.value.rule == "amendment-decided"


def test_one_amendment_at_a_time_and_none_on_a_draft():
    contract = _active()
    _amend(contract, TermChanges(title="Core and edge upgrade"))
    with pytest.raises(DomainError) as pending:
        _amend(contract, TermChanges(title="Edge upgrade"))
    with pytest.raises(DomainError) as draft:
        _amend(_draft(), TermChanges(title="Edge upgrade"))
    assert (pending.value.rule, draft.value.rule) == ("amendment-pending", "contract-not-active")


def test_a_new_milestone_can_be_added_with_its_instalment():
    contract = _active()
    terms = [*TERMS[:2], PaymentTerm("final acceptance", Decimal("5"), Trigger.MILESTONE, "FAC", 45),
             PaymentTerm("training", Decimal("5"), Trigger.MILESTONE, "TRN", 30)]
    milestones = [*MILESTONES, AgreedMilestone("TRN", date(2027, 6, 1), AcceptanceType.FINAL, owner="fr-2")]
    amendment = _amend(contract, TermChanges(payment_terms=terms, milestones=milestones))
    assert set(amendment.kinds) == {"dates", "payment_terms"}
    _approve(contract, amendment)
    trn = contract.milestones[2]
    assert (trn.name, trn.owner, trn.status) == ("TRN", "fr-2", MilestoneStatus.PLANNED)
    assert contract.milestone_owner(trn.milestone_id) == "fr-2"
    [event] = contract.events
    assert [(i.name, i.amount.amount) for i in event.payment_schedule][-2:] == [
        ("final acceptance", Decimal("50000.00")), ("training", Decimal("50000.00"))]

