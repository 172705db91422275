"""The customer's credit as finance last published it, and the ATC rule it sets.

Opportunities keeps its own copy of `account.credit_changed` per account and currency (`Credit`).
An ATC request whose deal value would take the account over its limit in the deal's currency
(exposure + value > limit) is refused with `credit-limit-exceeded` and the figures, unless it is
requested with an override reason: the request is then routed one tier higher than it would
otherwise be (as a high risk raises it; L3, the top, decides it itself) and the override is kept
on it with the figures. No copy, or a copy without a limit, means no limit. The approval checks
again against the copy as it is then: what became over the limit since the request needs a new
request with an override.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

from ltc.shared.money import Money
from ltc.shared.rules import RuleViolation

CREDIT_LIMIT_EXCEEDED = "credit-limit-exceeded"
OVERRIDE_FIELD = "credit_override_reason"


class Credit:
    """Finance's figures for one account in one currency, as of `changed_at`."""

    def __init__(self, *, account_id: uuid.UUID, currency: str, limit_amount: Decimal | None,
                 exposure_amount: Decimal, changed_at: datetime) -> None:
        self.account_id = account_id
        self.currency = currency
        self.limit_amount = limit_amount
        self.exposure_amount = exposure_amount
        self.changed_at = changed_at

    @property
    def credit_limit(self) -> Money | None:
        return None if self.limit_amount is None else Money(self.limit_amount, self.currency)

    @property
    def exposure(self) -> Money:
        return Money(self.exposure_amount, self.currency)

    def supersedes(self, changed_at: datetime) -> bool:
        """Whether figures of `changed_at` replace these: only newer ones (a replay changes nothing)."""
        return changed_at > self.changed_at


@dataclass(frozen=True)
class CreditExcess:
    """A deal that would take the account over its limit, with the figures that say so."""

    credit_limit: Money
    exposure: Money
    deal_value: Money

    @property
    def over_by(self) -> Money:
        return self.exposure + self.deal_value - self.credit_limit

    def figures(self) -> dict[str, Any]:
        return {"credit_limit": self.credit_limit.to_json(), "exposure": self.exposure.to_json(),
                "deal_value": self.deal_value.to_json(), "over_by": self.over_by.to_json()}

    def refusal(self, doing: str, remedy: str, *, field: str | None = None) -> RuleViolation:
        """`credit-limit-exceeded` with the figures; `field` names what would lift it in the request."""
        detail = (f"{doing} would take the account over its credit limit: exposure {self.exposure.amount} + this "
                  f"deal {self.deal_value.amount} is {self.over_by.amount} {self.credit_limit.currency} over the "
                  f"limit of {self.credit_limit.amount}; {remedy}")
        item: dict[str, Any] = {"message": "over the credit limit", **self.figures()}
        return RuleViolation(CREDIT_LIMIT_EXCEEDED, detail,
                             errors=[{"field": field, **item} if field is not None else item])


def credit_excess(credit: Credit | None, deal_value: Money | None) -> CreditExcess | None:
    """The excess of a deal over the account's limit in its currency; None within it or without a limit."""
    if credit is None or deal_value is None or credit.credit_limit is None:
        return None
    if credit.currency != deal_value.currency:
        return None
    excess = CreditExcess(credit.credit_limit, credit.exposure, deal_value)
    return excess if excess.over_by.amount > 0 else None


@dataclass(frozen=True)
class CreditOverride:
    """An ATC requested over the credit limit: why, and the figures when it was requested."""

    reason: str
    credit_limit: Money
    exposure: Money
    deal_value: Money
    over_by: Money

    @classmethod
    def of(cls, excess: CreditExcess, reason: str) -> CreditOverride:
        return cls(reason=reason.strip(), credit_limit=excess.credit_limit, exposure=excess.exposure,
                   deal_value=excess.deal_value, over_by=excess.over_by)
