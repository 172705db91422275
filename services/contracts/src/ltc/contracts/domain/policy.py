"""What an admin configures: which review functions a value tier needs, the authority of the
three decision tiers for amendments (ATAC), and how early a milestone counts as at risk."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from enum import StrEnum
from typing import Any

from ltc.contracts.domain.review import ReviewFunction
from ltc.shared.money import Money
from ltc.shared.rules import RuleViolation
from ltc.shared.tiers import Tier


class ValueTier(StrEnum):
    LOW = "low"
    MEDIUM = "medium"
    HIGH = "high"


class Risk(StrEnum):
    LOW = "low"
    MEDIUM = "medium"
    HIGH = "high"

    @property
    def tier(self) -> Tier:
        return {Risk.LOW: Tier.L1, Risk.MEDIUM: Tier.L2, Risk.HIGH: Tier.L3}[self]


@dataclass(frozen=True)
class Limits:
    """Two ascending amounts in one currency splitting amounts into three bands."""

    first: Decimal
    second: Decimal

    def band(self, amount: Decimal) -> int:
        return 1 if amount <= self.first else 2 if amount <= self.second else 3


@dataclass(frozen=True)
class ContractPolicy:
    # value up to `first` is the low tier, up to `second` medium, above it high
    review_limits: dict[str, Limits]
    review_functions: dict[ValueTier, tuple[ReviewFunction, ...]]
    # a change of value up to `first` is within L1's authority, up to `second` L2's, above it L3's
    approval_limits: dict[str, Limits]
    at_risk_days: int

    def __post_init__(self) -> None:
        problems = []
        for field, limits in (("review_limits", self.review_limits), ("approval_limits", self.approval_limits)):
            for currency, band in limits.items():
                try:
                    Money(band.first, currency)
                    Money(band.second, currency)
                except ValueError as exc:
                    problems.append({"field": f"{field}.{currency}", "message": str(exc)})
                    continue
                if not Decimal(0) <= band.first <= band.second:
                    problems.append({"field": f"{field}.{currency}",
                                     "message": "limits are not negative and the first is not above the second"})
        if set(self.review_functions) != set(ValueTier):
            problems.append({"field": "review_functions", "message": "every value tier (low, medium, high) is needed"})
        if any(not functions for functions in self.review_functions.values()):
            problems.append({"field": "review_functions", "message": "every tier needs at least one review function"})
        if not 0 <= self.at_risk_days <= 365:
            problems.append({"field": "at_risk_days", "message": "between 0 and 365 days"})
        if problems:
            raise RuleViolation("contract-policy-invalid",
                                "; ".join(f"{p['field']}: {p['message']}" for p in problems), errors=problems)

    def value_tier(self, value: Money) -> ValueTier:
        """A currency without limits is treated as the high tier: unknown exposure gets every check."""
        limits = self.review_limits.get(value.currency)
        if limits is None:
            return ValueTier.HIGH
        return list(ValueTier)[limits.band(value.amount) - 1]

    def required_functions(self, value: Money) -> tuple[ReviewFunction, ...]:
        return self.review_functions[self.value_tier(value)]

    def route(self, value_change: Money, risk: Risk) -> Tier:
        """ATAC: the tier whose authority covers both the size of the change and its risk."""
        limits = self.approval_limits.get(value_change.currency)
        by_value = Tier.L3 if limits is None else list(Tier)[limits.band(abs(value_change.amount)) - 1]
        return max(by_value, risk.tier, key=lambda t: t.rank)

    def to_json(self) -> dict[str, Any]:
        def limits(table: dict[str, Limits]) -> dict[str, Any]:
            return {c: {"first": str(b.first), "second": str(b.second)} for c, b in table.items()}

        return {"review_limits": limits(self.review_limits),
                "review_functions": {t.value: [f.value for f in fs] for t, fs in self.review_functions.items()},
                "approval_limits": limits(self.approval_limits), "at_risk_days": self.at_risk_days}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> ContractPolicy:
        def limits(table: dict[str, Any]) -> dict[str, Limits]:
            return {c: Limits(Decimal(b["first"]), Decimal(b["second"])) for c, b in table.items()}

        return cls(review_limits=limits(data["review_limits"]),
                   review_functions={ValueTier(t): tuple(ReviewFunction(f) for f in fs)
                                     for t, fs in data["review_functions"].items()},
                   approval_limits=limits(data["approval_limits"]), at_risk_days=data["at_risk_days"])


_ALL = tuple(ReviewFunction)

DEFAULT_POLICY = ContractPolicy(
    review_limits={"EUR": Limits(Decimal("100000"), Decimal("1000000")),
                   "USD": Limits(Decimal("100000"), Decimal("1000000")),
                   "CNY": Limits(Decimal("700000"), Decimal("7000000"))},
    review_functions={
        ValueTier.LOW: (ReviewFunction.COMMERCIAL, ReviewFunction.LEGAL),
        ValueTier.MEDIUM: (ReviewFunction.COMMERCIAL, ReviewFunction.LEGAL, ReviewFunction.FINANCE),
        ValueTier.HIGH: _ALL,
    },
    approval_limits={"EUR": Limits(Decimal("50000"), Decimal("500000")),
                     "USD": Limits(Decimal("50000"), Decimal("500000")),
                     "CNY": Limits(Decimal("350000"), Decimal("3500000"))},
    at_risk_days=14,
)
