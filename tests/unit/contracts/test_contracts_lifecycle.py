"""Quality review, execution monitoring and amendments on the plain domain objects, with the
clock passed in."""

import uuid
from datetime import UTC, date, datetime
from decimal import Decimal

import pytest

from ltc.contracts.domain.amendment import AmendmentStatus, DecisionOutcome
from ltc.contracts.domain.approval import Approval
from ltc.contracts.domain.model import (
    Contract,
    ContractStatus,
    DraftChanges,
    Health,
    TermChanges,
)
from ltc.contracts.domain.policy import DEFAULT_POLICY, ContractPolicy, Limits, Risk, Tier, ValueTier
from ltc.contracts.domain.review import CHECKLIST, ItemVerdict, ReviewFunction, ReviewStatus, Verdict
from ltc.contracts.domain.values import (
    AcceptanceType,
    AgreedMilestone,
    LegalTerms,
    LineItem,
    MilestoneStatus,
    PaymentTerm,
    Trigger,
)
from ltc.shared.errors import DomainError, Forbidden, RuleViolation, status_of
from ltc.shared.messages.contracts_events import ContractAmended, ContractReviewed
from ltc.shared.money import Money

NOW = datetime(2027, 10, 1, 12, 0, tzinfo=UTC)  # after every date the tests record as happened
SIGNED_ON = date(2026, 11, 20)
ATC = Approval.of_atc(tier=Tier.L2, decider="approver-l2", decided_at=datetime(2026, 11, 2, 9, 0, tzinfo=UTC))
EUR = "EUR"
TERMS = [
    PaymentTerm("advance", Decimal("30"), Trigger.SIGNING, None, 30),
    PaymentTerm("preliminary acceptance", Decimal("60"), Trigger.MILESTONE, "PAC", 45),
    PaymentTerm("final acceptance", Decimal("10"), Trigger.MILESTONE, "FAC", 45),
]
MILESTONES = [
    AgreedMilestone("PAC", date(2027, 3, 1), AcceptanceType.PRELIMINARY),
    AgreedMilestone("FAC", date(2027, 9, 1), AcceptanceType.FINAL),
]
ALL = tuple(ReviewFunction)


def _draft(value: str = "1000000.00", terms=TERMS, milestones=MILESTONES, **kwargs) -> Contract:
    return Contract(id=uuid.uuid4(), opportunity_id=uuid.uuid4(), lead_id=None, account_id=uuid.uuid4(),
                    account_name="ACME Telecom", title="Core network upgrade", owner="ar-1",
                    value=Money(Decimal(value), EUR), payment_terms=terms, milestones=milestones, now=NOW,
                    atc_approval=ATC, **kwargs)


def _review(contract: Contract, function: ReviewFunction, failing: str | None = None, required=ALL):
    items = [ItemVerdict(item, Verdict.FAIL, "cap missing") if item == failing else ItemVerdict(item, Verdict.PASS)
             for item in CHECKLIST[function]]
    return contract.record_review(function=function, reviewer=f"{function.value}-1", items=items, comment=None,
                                  required=required, now=NOW)


def _sign(contract: Contract, required=ALL) -> None:
    contract.sign(signatories=["Li Wei (ACME)", "Zhang San (us)"], signed_on=SIGNED_ON, required_reviews=required,
                  by="ar-1", now=NOW)


def _active(**kwargs) -> Contract:
    contract = _draft(**kwargs)
    for function in ALL:
        _review(contract, function)
    _sign(contract)
    contract.events.clear()
    return contract


# --- quality review -----------------------------------------------------------------------------


def test_signing_waits_for_every_required_function():
    contract = _draft()
    _review(contract, ReviewFunction.COMMERCIAL)
    _review(contract, ReviewFunction.LEGAL)
    assert contract.review(ALL).status is ReviewStatus.PENDING
    assert contract.review(ALL).outstanding == (ReviewFunction.FINANCE, ReviewFunction.DELIVERY)
    with pytest.raises(DomainError) as failure:
        _sign(contract)
    assert failure.value.rule == "contract-review-not-passed"
    assert "finance" in failure.value.detail
    _review(contract, ReviewFunction.FINANCE)
    _review(contract, ReviewFunction.DELIVERY)
    _sign(contract)
    assert contract.status is ContractStatus.ACTIVE


def test_any_fail_blocks_signing_even_from_a_function_not_required():
    contract = _draft()
    required = (ReviewFunction.COMMERCIAL,)
    _review(contract, ReviewFunction.COMMERCIAL, required=required)
    assert contract.review(required).passed
    _review(contract, ReviewFunction.LEGAL, failing="liability", required=required)
    assert contract.review(required).status is ReviewStatus.FAILED
    with pytest.raises(DomainError) as failure:
        _sign(contract, required)
    assert failure.value.rule == "contract-review-not-passed"
    assert contract.status is ContractStatus.DRAFT


def test_a_later_verdict_of_the_same_function_replaces_the_earlier_one():
    contract = _draft()
    _review(contract, ReviewFunction.LEGAL, failing="penalties", required=(ReviewFunction.LEGAL,))
    _review(contract, ReviewFunction.LEGAL, required=(ReviewFunction.LEGAL,))
    assert contract.review((ReviewFunction.LEGAL,)).passed
    assert len(contract.reviews) == 2  # the history keeps both


def test_each_verdict_is_announced_with_whether_the_review_has_passed():
    contract = _draft()
    contract.events.clear()
    _review(contract, ReviewFunction.COMMERCIAL, required=(ReviewFunction.COMMERCIAL, ReviewFunction.LEGAL))
    _review(contract, ReviewFunction.LEGAL, failing="liability",
            required=(ReviewFunction.COMMERCIAL, ReviewFunction.LEGAL))
    first, second = contract.events
    assert isinstance(first, ContractReviewed) and isinstance(second, ContractReviewed)
    assert (first.function, first.outcome, first.review_passed, first.contract_version) == (
        "commercial", "passed", False, 1)
    assert (second.outcome, second.comment) == ("failed", "liability: cap missing")


def test_editing_the_draft_resets_the_review():
    contract = _draft()
    for function in ALL:
        _review(contract, function)
    assert contract.review(ALL).passed
    assert contract.edit(DraftChanges(legal_terms=LegalTerms(warranty_months=24)), by="ar-1", now=NOW)
    assert contract.contract_version == 2
    state = contract.review(ALL)
    assert (state.status, state.outstanding) == (ReviewStatus.PENDING, ALL)
    with pytest.raises(DomainError) as unreviewed:
        _sign(contract)
    assert unreviewed.value.rule == "contract-review-not-passed"


def test_an_edit_that_changes_nothing_keeps_the_version_and_the_review():
    contract = _draft()
    _review(contract, ReviewFunction.LEGAL)
    assert not contract.edit(DraftChanges(title="Core network upgrade", payment_terms=TERMS, milestones=MILESTONES),
                             by="ar-1", now=NOW)
    assert contract.contract_version == 1
    assert ReviewFunction.LEGAL in contract.review(ALL).verdicts


@pytest.mark.parametrize(("items", "message"), [
    ([ItemVerdict("price", Verdict.PASS)], "'payment_terms' is not answered"),
    ([ItemVerdict(i, Verdict.PASS) for i in (*CHECKLIST[ReviewFunction.COMMERCIAL], "weather")],
     "'weather' is not on the commercial checklist"),
    ([ItemVerdict("price", Verdict.FAIL), ItemVerdict("payment_terms", Verdict.PASS),
      ItemVerdict("currency_risk", Verdict.PASS)], "the fail of 'price' needs a comment"),
    ([ItemVerdict(i, Verdict.PASS) for i in (*CHECKLIST[ReviewFunction.COMMERCIAL], "price")],
     "'price' is answered more than once"),
])
def test_a_verdict_answers_the_whole_checklist(items, message):
    contract = _draft()
    with pytest.raises(RuleViolation) as failure:
        contract.record_review(function=ReviewFunction.COMMERCIAL, reviewer="c-1", items=items, comment=None,
                               required=ALL, now=NOW)
    assert failure.value.rule == "review-checklist-incomplete"
    assert message in failure.value.detail
    assert contract.reviews == []


def test_only_a_draft_is_reviewed_or_edited():
    contract = _active()
    with pytest.raises(DomainError) as review:
        _review(contract, ReviewFunction.LEGAL)
    with pytest.raises(DomainError) as edit:
        contract.edit(DraftChanges(title="other"), by="ar-1", now=NOW)
    assert review.value.rule == edit.value.rule == "contract-not-draft"


def test_required_functions_follow_the_value_tier_and_unknown_currencies_get_every_check():
    assert DEFAULT_POLICY.value_tier(Money(Decimal("100000.00"), EUR)) is ValueTier.LOW
    assert DEFAULT_POLICY.value_tier(Money(Decimal("100000.01"), EUR)) is ValueTier.MEDIUM
    assert DEFAULT_POLICY.value_tier(Money(Decimal("1000000.01"), EUR)) is ValueTier.HIGH
    assert DEFAULT_POLICY.required_functions(Money(Decimal("5000"), "CHF")) == ALL
    assert ReviewFunction.DELIVERY not in DEFAULT_POLICY.required_functions(Money(Decimal("5000"), EUR))


def test_a_policy_that_cannot_work_is_refused():
    with pytest.raises(RuleViolation) as failure:
        ContractPolicy(review_limits={EUR: Limits(Decimal(10), Decimal(5))},
                       review_functions={ValueTier.LOW: (), ValueTier.HIGH: ALL},
                       approval_limits={"JPY": Limits(Decimal("0.5"), Decimal(5))}, at_risk_days=400)
    fields = {e["field"] for e in failure.value.errors}
    assert fields == {"review_limits.EUR", "review_functions", "approval_limits.JPY", "at_risk_days"}
    assert ContractPolicy.from_json(DEFAULT_POLICY.to_json()) == DEFAULT_POLICY


# --- instalments and terms ----------------------------------------------------------------------


@pytest.mark.parametrize(("terms", "line_items", "legal", "message"), [
    ([PaymentTerm("a", Decimal(50), Trigger.SIGNING, None, 0), PaymentTerm("a", Decimal(50), Trigger.SIGNING, None, 0)],
     [], LegalTerms(), "instalment names must be unique"),
    ([PaymentTerm("a", Decimal(100), Trigger.DATE, None, 0)], [], LegalTerms(), "triggered by a date but names none"),
    ([PaymentTerm("a", Decimal(100), Trigger.SIGNING, "PAC", 0)], [], LegalTerms(), "names a milestone"),
    ([PaymentTerm("a", Decimal(100), Trigger.SIGNING, None, 0)], [LineItem("router", Decimal(2), Decimal("10.00"))],
     LegalTerms(), "the line items add up to 20.00"),
    ([PaymentTerm("a", Decimal(100), Trigger.SIGNING, None, 0)], [LineItem("hours", Decimal("0.333"), Decimal(3))],
     LegalTerms(), "whole EUR minor units"),
    ([PaymentTerm("a", Decimal(100), Trigger.SIGNING, None, 0)], [],
     LegalTerms(liability_cap_percent=Decimal(150)), "between 0 and 100"),
])
def test_terms_that_cannot_make_a_contract_are_refused(terms, line_items, legal, message):
    with pytest.raises(RuleViolation) as failure:
        _draft(value="100.00", terms=terms, milestones=MILESTONES, line_items=line_items, legal_terms=legal)
    assert failure.value.rule == "commercial-terms-inconsistent"
    assert message in failure.value.detail


def test_a_date_triggered_instalment_carries_its_date_and_line_items_price_the_value():
    terms = [PaymentTerm("advance", Decimal(40), Trigger.SIGNING, None, 30),
             PaymentTerm("year end", Decimal(60), Trigger.DATE, None, 30, due_date=date(2027, 12, 31))]
    contract = _draft(value="1000.00", terms=terms, milestones=[],
                      line_items=[LineItem("licence", Decimal(4), Decimal("250.00"))])
    [advance, year_end] = contract.payment_schedule()
    assert (advance.amount.amount, year_end.amount.amount) == (Decimal("400.00"), Decimal("600.00"))
    assert (year_end.trigger, year_end.due_date, year_end.milestone_id) == ("date", date(2027, 12, 31), None)
    assert "due_date" not in advance.model_dump(mode="json")


# --- execution and monitoring --------------------------------------------------------------------


def test_a_milestone_runs_from_planned_to_accepted_with_its_actual_dates():
    contract = _active()
    pac = contract.milestones[0].milestone_id
    contract.start_milestone(pac, started_on=date(2026, 12, 1), now=NOW)
    assert contract.milestones[0].status is MilestoneStatus.IN_PROGRESS
    with pytest.raises(RuleViolation) as early:
        contract.deliver_milestone(pac, delivered_on=date(2026, 11, 30), now=NOW)
    assert early.value.rule == "milestone-dates-out-of-order"
    contract.deliver_milestone(pac, delivered_on=date(2027, 2, 20), now=NOW)
    with pytest.raises(RuleViolation) as before_delivery:
        contract.accept_milestone(pac, accepted_on=date(2027, 2, 19), certificate_ref="PAC-1", now=NOW)
    assert before_delivery.value.rule == "milestone-dates-out-of-order"
    contract.accept_milestone(pac, accepted_on=date(2027, 2, 25), certificate_ref="PAC-1", now=NOW)
    milestone = contract.milestones[0]
    assert (milestone.status, milestone.started_on, milestone.delivered_on, milestone.accepted_on) == (
        MilestoneStatus.ACCEPTED, date(2026, 12, 1), date(2027, 2, 20), date(2027, 2, 25))
    with pytest.raises(DomainError) as restart:
        contract.start_milestone(pac, started_on=date(2027, 3, 1), now=NOW)
    assert restart.value.rule == "milestone-already-accepted"


def test_health_follows_the_clock():
    contract = _active()
    assert contract.health(date(2026, 12, 1), 14) is Health.ON_TRACK
    assert contract.health(date(2027, 2, 15), 14) is Health.AT_RISK  # PAC due within 14 days, not delivered
    assert [m.name for m in contract.late_milestones(date(2027, 3, 2))] == ["PAC"]
    assert contract.health(date(2027, 3, 2), 14) is Health.LATE
    assert contract.late_milestones(date(2027, 3, 1)) == []  # due today is not late yet


def test_a_delivered_milestone_is_not_at_risk_but_still_late_until_accepted():
    contract = _active()
    pac = contract.milestones[0].milestone_id
    contract.deliver_milestone(pac, delivered_on=date(2027, 2, 10), now=NOW)
    assert contract.health(date(2027, 2, 15), 14) is Health.ON_TRACK
    assert contract.health(date(2027, 3, 5), 14) is Health.LATE
    contract.accept_milestone(pac, accepted_on=date(2027, 3, 5), certificate_ref="PAC-1", now=NOW)
    assert contract.health(date(2027, 3, 5), 14) is Health.ON_TRACK


def test_only_a_contract_in_execution_has_a_health():
    assert _draft().health(date(2030, 1, 1), 14) is None
    assert _draft().late_milestones(date(2030, 1, 1)) == []


# --- amendments ----------------------------------------------------------------------------------


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


def test_a_verdict_names_the_version_it_read():
    contract = _draft()
    contract.edit(DraftChanges(title="phase 1"), by="ar-1", now=NOW)
    with pytest.raises(DomainError) as stale:
        contract.record_review(function=ReviewFunction.LEGAL, reviewer="l-1", reviewed_version=1, comment=None,
                               items=[ItemVerdict(i, Verdict.PASS) for i in CHECKLIST[ReviewFunction.LEGAL]],
                               required=ALL, now=NOW)
    assert stale.value.rule == "review-version-stale"
    assert contract.reviews == []


def test_final_acceptance_waits_for_every_preliminary_one_and_types_must_match():
    contract = _active()
    pac, fac = (m.milestone_id for m in contract.milestones)
    with pytest.raises(DomainError) as early:
        contract.accept_milestone(fac, accepted_on=date(2027, 9, 2), certificate_ref="F", now=NOW)
    with pytest.raises(RuleViolation) as mismatch:
        contract.accept_milestone(pac, accepted_on=date(2027, 3, 2), certificate_ref="P", now=NOW,
                                  acceptance_type=AcceptanceType.FINAL)
    assert (early.value.rule, mismatch.value.rule) == ("preliminary-acceptance-pending", "acceptance-type-mismatch")
    contract.accept_milestone(pac, accepted_on=date(2027, 3, 2), certificate_ref="P", now=NOW,
                              acceptance_type=AcceptanceType.PRELIMINARY)
    contract.accept_milestone(fac, accepted_on=date(2027, 9, 2), certificate_ref="F", now=NOW)
    assert contract.all_milestones_accepted
