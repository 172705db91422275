"""What an admin configures: the review functions of each value tier, the decision tiers'
authority, the at-risk window; a policy that cannot work is refused."""

from decimal import Decimal

import pytest

from ltc.contracts.domain.policy import DEFAULT_POLICY, ContractPolicy, Limits, ValueTier
from ltc.contracts.domain.review import ReviewFunction
from ltc.shared.errors import RuleViolation
from ltc.shared.money import Money
from tests.unit.contracts.sample import ALL, EUR


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

