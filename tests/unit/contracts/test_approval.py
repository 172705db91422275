"""The approval a contract's terms need before signing: the won opportunity's ATC, or the
contract's own decision by the tier its value is routed to, never by an author of the terms."""

from datetime import timedelta
from decimal import Decimal

import pytest

from ltc.contracts.domain.amendment import DecisionOutcome
from ltc.contracts.domain.approval import ApprovalSource, ApprovalStatus, ContractOrigin
from ltc.contracts.domain.model import ContractStatus, DraftChanges
from ltc.contracts.domain.policy import DEFAULT_POLICY, Tier
from ltc.contracts.domain.values import PaymentTerm, Trigger
from ltc.shared.errors import DomainError, Forbidden, RuleViolation
from ltc.shared.money import Money
from tests.unit.contracts.sample import NOW, TODAY
from tests.unit.contracts.sample import contract as _contract
from tests.unit.contracts.sample import decide as _decide
from tests.unit.contracts.sample import review_all as _review_all
from tests.unit.contracts.sample import sign_on as _sign


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

