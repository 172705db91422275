"""The life of a contract on the plain domain objects: drafting, signing, acceptance, closure."""

import uuid
from datetime import UTC, date, datetime
from decimal import Decimal

import pytest

from ltc.contracts.domain.approval import Approval
from ltc.contracts.domain.model import Contract, ContractStatus
from ltc.contracts.domain.review import CHECKLIST, ItemVerdict, ReviewFunction, Verdict
from ltc.contracts.domain.values import (
    AcceptanceType,
    AgreedMilestone,
    Milestone,
    MilestoneStatus,
    PaymentTerm,
    Trigger,
)
from ltc.shared.errors import DomainError, NotFound, RuleViolation
from ltc.shared.messages.contracts_events import (
    ContractClosed,
    ContractDrafted,
    ContractMilestoneAccepted,
    ContractSigned,
)
from ltc.shared.money import Money
from ltc.shared.tiers import Tier

NOW = datetime(2027, 10, 1, 12, 0, tzinfo=UTC)  # after every date the tests record as happened
SIGNED_ON = date(2026, 11, 20)
ATC = Approval.of_atc(tier=Tier.L2, decider="approver-l2", decided_at=datetime(2026, 11, 2, 9, 0, tzinfo=UTC))
TERMS = [
    PaymentTerm("advance", Decimal("30"), Trigger.SIGNING, None, 30),
    PaymentTerm("preliminary acceptance", Decimal("60"), Trigger.MILESTONE, "PAC", 45),
    PaymentTerm("final acceptance", Decimal("10"), Trigger.MILESTONE, "FAC", 45),
]
MILESTONES = [
    AgreedMilestone("PAC", date(2027, 3, 1), AcceptanceType.PRELIMINARY),
    AgreedMilestone("FAC", date(2027, 9, 1), AcceptanceType.FINAL),
]


def _draft(value: Money = Money(Decimal("1000000.00"), "EUR"), terms: list[PaymentTerm] = TERMS,
           milestones: list[AgreedMilestone] = MILESTONES) -> Contract:
    return Contract(id=uuid.uuid4(), opportunity_id=uuid.uuid4(), lead_id=uuid.uuid4(), account_id=uuid.uuid4(),
                    account_name="ACME Telecom", title="Core network upgrade", owner="ar-1", value=value,
                    payment_terms=terms, milestones=milestones, now=NOW, atc_approval=ATC)


ALL_FUNCTIONS = tuple(ReviewFunction)


def _passed_review(contract: Contract) -> Contract:
    for function in ALL_FUNCTIONS:
        contract.record_review(function=function, reviewer=f"{function.value}-reviewer",
                               items=[ItemVerdict(item, Verdict.PASS) for item in CHECKLIST[function]], comment=None,
                               required=ALL_FUNCTIONS, now=NOW)
    return contract


def _sign(contract: Contract, signatories: list[str] | None = None) -> None:
    contract.sign(signatories=signatories or ["Li Wei (ACME)", "Zhang San (us)"], signed_on=SIGNED_ON,
                  required_reviews=ALL_FUNCTIONS, by="ar-1", now=NOW)


def _active(**kwargs) -> Contract:
    contract = _passed_review(_draft(**kwargs))
    _sign(contract)
    contract.events.clear()
    return contract


def _accept(contract: Contract, milestone: Milestone) -> None:
    contract.accept_milestone(milestone.milestone_id, accepted_on=date(2027, 3, 2), certificate_ref="PAC-001", now=NOW)


def test_a_draft_carries_the_agreed_terms_and_gives_each_milestone_its_own_id():
    contract = _draft()
    assert contract.status is ContractStatus.DRAFT
    assert [m.name for m in contract.milestones] == ["PAC", "FAC"]
    assert all(m.status is MilestoneStatus.PLANNED for m in contract.milestones)
    assert len({m.milestone_id for m in contract.milestones}) == 2
    [drafted] = contract.events
    assert isinstance(drafted, ContractDrafted)
    assert drafted.lineage.model_dump() == {"lead_id": contract.lead_id, "opportunity_id": contract.opportunity_id,
                                            "contract_id": contract.id}


@pytest.mark.parametrize(("terms", "milestones", "message"), [
    ([], MILESTONES, "at least one payment term"),
    (TERMS[:2], MILESTONES, "add up to 100"),
    ([PaymentTerm("all", Decimal("100"), Trigger.MILESTONE, "SAT", 30)], MILESTONES, "unknown milestone 'SAT'"),
    ([PaymentTerm("all", Decimal("100"), Trigger.MILESTONE, None, 30)], MILESTONES, "unknown milestone None"),
    (TERMS, [MILESTONES[0], MILESTONES[0], MILESTONES[1]], "milestone names must be unique"),
    ([PaymentTerm("all", Decimal("100"), Trigger.SIGNING, None, -1)], [], "due days"),
])
def test_terms_that_cannot_make_a_contract_are_refused(terms, milestones, message):
    with pytest.raises(RuleViolation) as failure:
        _draft(terms=terms, milestones=milestones)
    assert failure.value.rule == "commercial-terms-inconsistent"
    assert message in failure.value.detail


def test_a_zero_value_is_refused():
    with pytest.raises(RuleViolation, match="must be positive"):
        _draft(value=Money.zero("EUR"))


def test_signing_activates_and_publishes_the_payment_schedule_with_milestone_ids():
    contract = _passed_review(_draft())
    contract.events.clear()
    _sign(contract)
    assert contract.status is ContractStatus.ACTIVE
    assert contract.signed_on == SIGNED_ON
    [signed] = contract.events
    assert isinstance(signed, ContractSigned)
    pac, fac = contract.milestones
    assert [(i.name, i.amount.amount, i.trigger, i.milestone_id) for i in signed.payment_schedule] == [
        ("advance", Decimal("300000.00"), "signing", None),
        ("preliminary acceptance", Decimal("600000.00"), "milestone", pac.milestone_id),
        ("final acceptance", Decimal("100000.00"), "milestone", fac.milestone_id),
    ]
    assert [m.milestone_id for m in signed.milestones] == [pac.milestone_id, fac.milestone_id]
    assert signed.lineage.contract_id == contract.id


def test_the_schedule_adds_up_exactly_to_the_value_when_shares_do_not_divide_it():
    thirds = [PaymentTerm(f"part {n}", Decimal("33.33"), Trigger.SIGNING, None, 30) for n in range(2)]
    thirds.append(PaymentTerm("rest", Decimal("33.34"), Trigger.SIGNING, None, 30))
    contract = _draft(value=Money(Decimal("100.01"), "EUR"), terms=thirds, milestones=[])
    amounts = [i.amount.to_money() for i in contract.payment_schedule()]
    assert sum((a.amount for a in amounts), Decimal(0)) == Decimal("100.01")
    assert {a.currency for a in amounts} == {"EUR"}


def test_only_a_draft_is_signed():
    contract = _active()
    with pytest.raises(DomainError) as failure:
        _sign(contract, ["A", "B"])
    assert failure.value.rule == "contract-not-draft"


@pytest.mark.parametrize("signatories", [["Li Wei"], ["Li Wei", "li wei "], ["Li Wei", "  "]])
def test_signing_needs_two_different_signatories(signatories):
    contract = _passed_review(_draft())
    with pytest.raises(RuleViolation) as failure:
        _sign(contract, signatories)
    assert failure.value.rule == "signatories-both-sides"
    assert contract.status is ContractStatus.DRAFT


def test_accepting_a_milestone_records_the_certificate_and_announces_it():
    contract = _active()
    pac = contract.milestones[0]
    _accept(contract, pac)
    accepted = contract.milestones[0]
    assert (accepted.status, accepted.accepted_on, accepted.certificate_ref) == (
        MilestoneStatus.ACCEPTED, date(2027, 3, 2), "PAC-001")
    [event] = contract.events
    assert isinstance(event, ContractMilestoneAccepted)
    assert (event.milestone_id, event.acceptance_type) == (pac.milestone_id, "preliminary")
    assert contract.status is ContractStatus.ACTIVE


def test_a_draft_has_no_acceptances():
    contract = _draft()
    with pytest.raises(DomainError) as failure:
        _accept(contract, contract.milestones[0])
    assert failure.value.rule == "contract-not-active"


def test_an_unknown_milestone_is_not_found():
    contract = _active()
    with pytest.raises(NotFound):
        contract.accept_milestone(uuid.uuid4(), accepted_on=date(2027, 3, 2), certificate_ref="X", now=NOW)


def test_a_milestone_is_accepted_once():
    contract = _active()
    _accept(contract, contract.milestones[0])
    with pytest.raises(DomainError) as failure:
        _accept(contract, contract.milestones[0])
    assert failure.value.rule == "milestone-already-accepted"


def test_acceptance_cannot_precede_signing_nor_lack_a_certificate():
    contract = _active()
    milestone_id = contract.milestones[0].milestone_id
    with pytest.raises(RuleViolation) as early:
        contract.accept_milestone(milestone_id, accepted_on=date(2026, 11, 19), certificate_ref="X", now=NOW)
    with pytest.raises(RuleViolation) as blank:
        contract.accept_milestone(milestone_id, accepted_on=date(2027, 3, 2), certificate_ref=" ", now=NOW)
    assert (early.value.rule, blank.value.rule) == ("accepted-before-signing", "acceptance-certificate-required")
    assert contract.milestones[0].status is MilestoneStatus.PLANNED


def test_payment_first_then_last_acceptance_closes():
    contract = _active()
    contract.record_fully_paid(fully_paid_on=date(2027, 10, 1), now=NOW)
    assert (contract.status, contract.fully_paid, contract.fully_paid_on) == (
        ContractStatus.ACTIVE, True, date(2027, 10, 1))
    assert contract.events == []
    for milestone in list(contract.milestones):
        _accept(contract, milestone)
    assert contract.status is ContractStatus.CLOSED
    assert contract.closed_at == NOW
    assert [type(e) for e in contract.events] == [ContractMilestoneAccepted, ContractMilestoneAccepted, ContractClosed]


def test_acceptances_first_then_payment_closes():
    contract = _active()
    for milestone in list(contract.milestones):
        _accept(contract, milestone)
    assert contract.status is ContractStatus.ACTIVE
    contract.events.clear()
    contract.record_fully_paid(fully_paid_on=date(2027, 10, 1), now=NOW)
    assert contract.status is ContractStatus.CLOSED
    assert [type(e) for e in contract.events] == [ContractClosed]


def test_a_repeated_payment_report_changes_nothing():
    contract = _active(milestones=[], terms=[PaymentTerm("all", Decimal("100"), Trigger.SIGNING, None, 30)])
    contract.record_fully_paid(fully_paid_on=date(2027, 1, 1), now=NOW)
    contract.record_fully_paid(fully_paid_on=date(2027, 2, 1), now=NOW)
    assert contract.fully_paid_on == date(2027, 1, 1)
    assert [type(e) for e in contract.events] == [ContractClosed]


def test_an_unsigned_contract_cannot_be_fully_paid():
    with pytest.raises(DomainError) as failure:
        _draft().record_fully_paid(fully_paid_on=date(2027, 1, 1), now=NOW)
    assert failure.value.rule == "contract-not-signed"


def test_value_objects_round_trip_through_json():
    contract = _active()
    _accept(contract, contract.milestones[0])
    assert [Milestone.from_json(m.to_json()) for m in contract.milestones] == contract.milestones
    assert [PaymentTerm.from_json(t.to_json()) for t in contract.payment_terms] == contract.payment_terms
