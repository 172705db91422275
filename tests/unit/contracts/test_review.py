"""The contract quality review: every required function's verdict on the current version, item by
item, by someone who did not write the terms."""

import pytest

from ltc.contracts.domain.model import ContractStatus, DraftChanges
from ltc.contracts.domain.review import CHECKLIST, ItemVerdict, ReviewFunction, ReviewStatus, Verdict
from ltc.shared.errors import DomainError, Forbidden, RuleViolation, status_of
from ltc.shared.messages.contracts_events import ContractReviewed
from tests.unit.contracts.sample import ALL, NOW
from tests.unit.contracts.sample import contract as _contract
from tests.unit.contracts.sample import draft as _draft
from tests.unit.contracts.sample import review as _review
from tests.unit.contracts.sample import sign as _sign


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


def test_a_verdict_names_the_version_it_read():
    contract = _draft()
    contract.edit(DraftChanges(title="phase 1"), by="ar-1", now=NOW)
    with pytest.raises(DomainError) as stale:
        contract.record_review(function=ReviewFunction.LEGAL, reviewer="l-1", reviewed_version=1, comment=None,
                               items=[ItemVerdict(i, Verdict.PASS) for i in CHECKLIST[ReviewFunction.LEGAL]],
                               required=ALL, now=NOW)
    assert stale.value.rule == "review-version-stale"
    assert contract.reviews == []


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

