"""The controls on a contract's way to signing and after it: approval of the terms signed,
segregation of duties, dates of record, and a re-planned schedule that describes itself."""

import uuid
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import pytest

from ltc.contracts.domain.amendment import DecisionOutcome
from ltc.contracts.domain.approval import Approval, ApprovalSource, ApprovalStatus, ContractOrigin
from ltc.contracts.domain.model import Contract, ContractStatus, DraftChanges, TermChanges
from ltc.contracts.domain.policy import DEFAULT_POLICY, Risk, Tier
from ltc.contracts.domain.review import CHECKLIST, ItemVerdict, ReviewFunction, Verdict
from ltc.contracts.domain.values import AcceptanceType, AgreedMilestone, PaymentTerm, Trigger
from ltc.shared.controls import DATE_IN_FUTURE
from ltc.shared.errors import DomainError, Forbidden, RuleViolation, status_of
from ltc.shared.money import Money

NOW = datetime(2027, 10, 1, 12, 0, tzinfo=UTC)
TODAY = NOW.date()
ALL = tuple(ReviewFunction)
TERMS = [
    PaymentTerm("advance", Decimal("30"), Trigger.SIGNING, None, 30),
    PaymentTerm("preliminary acceptance", Decimal("60"), Trigger.MILESTONE, "PAC", 45),
    PaymentTerm("final acceptance", Decimal("10"), Trigger.MILESTONE, "FAC", 45),
]
ATC = Approval.of_atc(tier=Tier.L2, decider="approver-l2", decided_at=datetime(2027, 8, 1, 9, 0, tzinfo=UTC))
MILESTONES = [AgreedMilestone("PAC", date(2027, 12, 1), AcceptanceType.PRELIMINARY),
              AgreedMilestone("FAC", date(2028, 3, 1), AcceptanceType.FINAL)]


def _contract(*, opportunity: bool = True, value: str = "1000000.00") -> Contract:
    return Contract(id=uuid.uuid4(), opportunity_id=uuid.uuid4() if opportunity else None, lead_id=None,
                    account_id=uuid.uuid4(), account_name="ACME", title="Core", owner="ar-1",
                    value=Money(Decimal(value), "EUR"), payment_terms=TERMS, milestones=MILESTONES, now=NOW,
                    atc_approval=ATC if opportunity else None)


def _review_all(contract: Contract, reviewer: str = "reviewer") -> None:
    for function in ALL:
        contract.record_review(function=function, reviewer=f"{reviewer}-{function.value}",
                               items=[ItemVerdict(i, Verdict.PASS) for i in CHECKLIST[function]], comment=None,
                               required=ALL, now=NOW)


def _sign(contract: Contract, signed_on: date = TODAY) -> None:
    contract.sign(signatories=["Li Wei (ACME)", "Zhang San (us)"], signed_on=signed_on, required_reviews=ALL,
                  now=NOW, by="ar-1")


def _decide(contract: Contract, decider: str = "boss", authority: Tier | None = Tier.L3,
            outcome: DecisionOutcome = DecisionOutcome.APPROVED, comment: str | None = None):
    return contract.decide_approval(outcome=outcome, decider=decider, decider_authority=authority, comment=comment,
                                    policy=DEFAULT_POLICY, version=None, now=NOW)


# --- approval ------------------------------------------------------------------------------------


def test_a_won_opportunitys_contract_is_approved_by_its_atc_and_signed_on_those_terms():
    contract = _contract()
    assert contract.origin is ContractOrigin.OPPORTUNITY
    approval = contract.approval(DEFAULT_POLICY)
    assert (approval.source, approval.status, approval.contract_version) == (ApprovalSource.ATC,
                                                                            ApprovalStatus.APPROVED, 1)
    _review_all(contract)
    _sign(contract)
    assert contract.status is ContractStatus.ACTIVE and contract.signed_by == "ar-1"


def test_a_direct_contract_is_not_signed_until_the_routed_tier_approves_it():
    contract = _contract(opportunity=False, value="80000.00")
    assert contract.origin is ContractOrigin.DIRECT and contract.opportunity_id is None
    pending = contract.approval(DEFAULT_POLICY)
    assert (pending.status, pending.tier) == (ApprovalStatus.PENDING, Tier.L2)  # 80,000 EUR: above L1's 50,000
    _review_all(contract)
    with pytest.raises(DomainError) as unapproved:
        _sign(contract)
    assert unapproved.value.rule == "contract-not-approved" and contract.status is ContractStatus.DRAFT
    for authority in (None, Tier.L1):
        with pytest.raises(Forbidden) as outside:
            _decide(contract, authority=authority)
        assert outside.value.rule == "approval-outside-authority"
    with pytest.raises(Forbidden) as own:
        _decide(contract, decider="AR-1")  # the author, whatever the case of the id
    assert own.value.rule == "approver-is-author"
    approved = _decide(contract, authority=Tier.L2)
    assert (approved.status, approved.approver) == (ApprovalStatus.APPROVED, "boss")
    _sign(contract)
    assert contract.status is ContractStatus.ACTIVE


def test_an_edited_draft_needs_a_new_approval_and_a_new_review():
    contract = _contract()
    assert contract.edit(DraftChanges(value=Money(Decimal("1.00"), "EUR"), payment_terms=[
        PaymentTerm("all", Decimal("100"), Trigger.SIGNING, None, 30)], milestones=[]), by="ar-2", now=NOW)
    assert contract.authors == ["ar-1", "ar-2"]
    assert contract.approval(DEFAULT_POLICY).status is ApprovalStatus.PENDING
    _review_all(contract)
    with pytest.raises(DomainError) as unapproved:
        _sign(contract)
    assert unapproved.value.rule == "contract-not-approved"
    with pytest.raises(Forbidden):
        _decide(contract, decider="ar-2")
    _decide(contract, decider="boss")
    _sign(contract)


def test_rejection_and_escalation_say_why_and_a_decided_version_is_decided():
    contract = _contract(opportunity=False, value="80000.00")
    with pytest.raises(RuleViolation) as silent:
        _decide(contract, outcome=DecisionOutcome.REJECTED)
    assert silent.value.rule == "decision-comment-required"
    escalated = _decide(contract, authority=Tier.L2, outcome=DecisionOutcome.ESCALATED, comment="strategic account")
    assert (escalated.status, escalated.tier) == (ApprovalStatus.PENDING, Tier.L3)
    with pytest.raises(Forbidden):
        _decide(contract, authority=Tier.L2)
    _decide(contract, outcome=DecisionOutcome.REJECTED, comment="price too low")
    with pytest.raises(DomainError) as decided:
        _decide(contract)
    assert decided.value.rule == "approval-decided"


# --- segregation of duties -----------------------------------------------------------------------


def test_nobody_reviews_terms_they_wrote():
    contract = _contract()
    for author in ("ar-1", "Ar-1"):
        with pytest.raises(Forbidden) as own:
            contract.record_review(function=ReviewFunction.LEGAL, reviewer=author,
                                   items=[ItemVerdict(i, Verdict.PASS) for i in CHECKLIST[ReviewFunction.LEGAL]],
                                   comment=None, required=ALL, now=NOW)
        assert (own.value.rule, status_of(own.value)) == ("reviewer-is-author", 403)
    contract.edit(DraftChanges(title="Core, phase 1"), by="ar-9", now=NOW)
    with pytest.raises(Forbidden):
        contract.record_review(function=ReviewFunction.LEGAL, reviewer="ar-9",
                               items=[ItemVerdict(i, Verdict.PASS) for i in CHECKLIST[ReviewFunction.LEGAL]],
                               comment=None, required=ALL, now=NOW)
    assert contract.reviews == []


# --- dates of record -----------------------------------------------------------------------------


def test_signing_tomorrow_is_today_somewhere_but_the_day_after_has_not_happened():
    contract = _contract()
    _review_all(contract)
    with pytest.raises(RuleViolation) as future:
        _sign(contract, TODAY + timedelta(days=2))
    assert future.value.rule == DATE_IN_FUTURE and future.value.errors[0]["field"] == "signed_on"
    assert contract.status is ContractStatus.DRAFT
    _sign(contract, TODAY + timedelta(days=1))


def test_milestone_steps_cannot_be_dated_in_the_future_but_may_be_back_dated():
    contract = _contract()
    _review_all(contract)
    _sign(contract, TODAY - timedelta(days=30))
    pac = contract.milestones[0].milestone_id
    for step, field in ((lambda on: contract.start_milestone(pac, started_on=on, now=NOW), "started_on"),
                        (lambda on: contract.deliver_milestone(pac, delivered_on=on, now=NOW), "delivered_on"),
                        (lambda on: contract.accept_milestone(pac, accepted_on=on, certificate_ref="PAC-1", now=NOW),
                         "accepted_on")):
        with pytest.raises(RuleViolation) as future:
            step(date(2030, 1, 1))
        assert (future.value.rule, future.value.errors[0]["field"]) == (DATE_IN_FUTURE, field)
    contract.accept_milestone(pac, accepted_on=TODAY - timedelta(days=3), certificate_ref="PAC-1", now=NOW)
    assert contract.milestones[0].accepted_on == TODAY - timedelta(days=3)


# --- an amended schedule describes itself --------------------------------------------------------


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


def test_a_contract_is_not_signed_before_its_terms_were_approved():
    contract = _contract(opportunity=False, value="80000.00")
    _review_all(contract)
    _decide(contract, authority=Tier.L2)  # approved at NOW
    for before in (TODAY - timedelta(days=2), TODAY - timedelta(days=30)):
        with pytest.raises(RuleViolation) as early:
            _sign(contract, before)
        assert (early.value.rule, early.value.errors[0]["field"]) == ("signed-before-approval", "signed_on")
    assert contract.status is ContractStatus.DRAFT
    _sign(contract, TODAY - timedelta(days=1))  # the approval's UTC day may be the next one where it was signed
    assert contract.status is ContractStatus.ACTIVE


def test_an_atc_approval_is_the_won_deals_and_a_contract_without_an_opportunity_has_none():
    with pytest.raises(ValueError):
        Contract(id=uuid.uuid4(), opportunity_id=uuid.uuid4(), lead_id=None, account_id=None, account_name="ACME",
                 title="Core", owner="ar-1", value=Money(Decimal("10.00"), "EUR"), payment_terms=TERMS,
                 milestones=MILESTONES, now=NOW)
    with pytest.raises(ValueError):
        Contract(id=uuid.uuid4(), opportunity_id=None, lead_id=None, account_id=None, account_name="ACME",
                 title="Core", owner="ar-1", value=Money(Decimal("10.00"), "EUR"), payment_terms=TERMS,
                 milestones=MILESTONES, now=NOW, atc_approval=ATC)
