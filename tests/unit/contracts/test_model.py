"""The contract aggregate on the plain domain objects: drafting and editing, signing, execution
through its milestones, health, and closure once delivered and fully paid."""

import re
import uuid
from datetime import date, timedelta
from decimal import Decimal

import pytest

from ltc.contracts.domain.model import (
    CONTRACT_NUMBER_PATTERN,
    Contract,
    ContractStatus,
    DraftChanges,
    Health,
    contract_number,
)
from ltc.contracts.domain.review import ReviewFunction, ReviewStatus
from ltc.contracts.domain.values import (
    AcceptanceType,
    LegalTerms,
    MilestoneStatus,
    PaymentTerm,
    Supply,
    TaxCategory,
    Trigger,
    Vat,
)
from ltc.shared.controls import DATE_IN_FUTURE
from ltc.shared.errors import DomainError, NotFound, RuleViolation
from ltc.shared.messages.contracts_events import (
    ContractClosed,
    ContractDrafted,
    ContractMilestoneAccepted,
    ContractSigned,
)
from ltc.shared.money import Money
from tests.unit.contracts.sample import (
    ALL,
    MILESTONES,
    NOW,
    NUMBER,
    RECENT_ATC,
    SIGNED_ON,
    TERMS,
    TODAY,
    UPCOMING_MILESTONES,
    line,
)
from tests.unit.contracts.sample import accept as _accept
from tests.unit.contracts.sample import active as _active
from tests.unit.contracts.sample import contract as _contract
from tests.unit.contracts.sample import draft as _draft
from tests.unit.contracts.sample import passed_review as _passed_review
from tests.unit.contracts.sample import review as _review
from tests.unit.contracts.sample import review_all as _review_all
from tests.unit.contracts.sample import sign as _sign
from tests.unit.contracts.sample import sign_on as _sign_on

# --- drafting and editing ------------------------------------------------------------------------


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


def test_an_atc_approval_is_the_won_deals_and_a_contract_without_an_opportunity_has_none():
    with pytest.raises(ValueError):
        Contract(id=uuid.uuid4(), number=NUMBER, opportunity_id=uuid.uuid4(), lead_id=None, account_id=None,
                 account_name="ACME",
                 title="Core", owner="ar-1", value=Money(Decimal("10.00"), "EUR"), payment_terms=TERMS,
                 milestones=UPCOMING_MILESTONES, now=NOW)
    with pytest.raises(ValueError):
        Contract(id=uuid.uuid4(), number=NUMBER, opportunity_id=None, lead_id=None, account_id=None,
                 account_name="ACME",
                 title="Core", owner="ar-1", value=Money(Decimal("10.00"), "EUR"), payment_terms=TERMS,
                 milestones=UPCOMING_MILESTONES, now=NOW, atc_approval=RECENT_ATC)


def test_contract_numbers_run_per_year_with_six_digits_at_least():
    assert (contract_number(2026, 1), contract_number(2027, 42), contract_number(2026, 1234567)) == (
        "CON-2026-000001", "CON-2027-000042", "CON-2026-1234567")
    assert all(re.fullmatch(CONTRACT_NUMBER_PATTERN, contract_number(2026, n)) for n in (1, 999999, 1000000))
    assert _draft().number == NUMBER


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


def test_only_a_draft_is_reviewed_or_edited():
    contract = _active()
    with pytest.raises(DomainError) as review:
        _review(contract, ReviewFunction.LEGAL)
    with pytest.raises(DomainError) as edit:
        contract.edit(DraftChanges(title="other"), by="ar-1", now=NOW)
    assert review.value.rule == edit.value.rule == "contract-not-draft"



# --- signing -------------------------------------------------------------------------------------


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
    assert signed.lines == []  # a contract without lines: finance bills its value as one


def test_the_signed_event_carries_the_contracts_lines_as_the_shared_line_payload():
    lines = [line("core routers", 4, "150000.00", milestone="PAC", supply=Supply.GOODS, code="RT-400"),
             line("support", 12, "25000.00", position=2, unit="MON", vat=Vat(TaxCategory.STANDARD, Decimal(19))),
             line("acceptance tests", 1, "100000.00", position=3, unit="LS", milestone="FAC",
                  discount=Money(Decimal("0.00"), "EUR"))]
    contract = _passed_review(_draft(line_items=lines))
    _sign(contract)
    signed = contract.events[-1]
    assert isinstance(signed, ContractSigned)
    assert [payload.to_line() for payload in signed.lines] == lines
    assert [(p.position, p.unit, p.net.amount, p.supply) for p in signed.lines] == [
        (1, "C62", Decimal("600000.00"), "goods"), (2, "MON", Decimal("300000.00"), "services"),
        (3, "LS", Decimal("100000.00"), "services")]
    assert signed.model_dump(mode="json")["lines"][1]["vat"] == {"category": "S", "rate": "19",
                                                                "exemption_reason": None}


def test_only_a_draft_is_signed():
    contract = _active()
    with pytest.raises(DomainError) as failure:
        _sign(contract, signatories=["A", "B"])
    assert failure.value.rule == "contract-not-draft"


@pytest.mark.parametrize("signatories", [["Li Wei"], ["Li Wei", "li wei "], ["Li Wei", "  "]])
def test_signing_needs_two_different_signatories(signatories):
    contract = _passed_review(_draft())
    with pytest.raises(RuleViolation) as failure:
        _sign(contract, signatories=signatories)
    assert failure.value.rule == "signatories-both-sides"
    assert contract.status is ContractStatus.DRAFT


def test_signing_tomorrow_is_today_somewhere_but_the_day_after_has_not_happened():
    contract = _contract()
    _review_all(contract)
    with pytest.raises(RuleViolation) as future:
        _sign_on(contract, TODAY + timedelta(days=2))
    assert future.value.rule == DATE_IN_FUTURE and future.value.errors[0]["field"] == "signed_on"
    assert contract.status is ContractStatus.DRAFT
    _sign_on(contract, TODAY + timedelta(days=1))



# --- execution -----------------------------------------------------------------------------------


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


def test_milestone_steps_cannot_be_dated_in_the_future_but_may_be_back_dated():
    contract = _contract()
    _review_all(contract)
    _sign_on(contract, TODAY - timedelta(days=30))
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



# --- performance monitoring ----------------------------------------------------------------------


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



# --- closure -------------------------------------------------------------------------------------


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

