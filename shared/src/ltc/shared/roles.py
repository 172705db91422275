"""Who the caller is and which roles they hold: plain values the domain and handlers reason about.

How a principal is proven (a verified JWT) is the API's business: `ltc.shared.auth`.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class Role(StrEnum):
    AR = "ar"
    SR = "sr"
    FR = "fr"
    APPROVER_L1 = "approver_l1"
    APPROVER_L2 = "approver_l2"
    APPROVER_L3 = "approver_l3"
    REVIEWER_LEGAL = "reviewer_legal"
    REVIEWER_FINANCE = "reviewer_finance"
    REVIEWER_COMMERCIAL = "reviewer_commercial"
    REVIEWER_DELIVERY = "reviewer_delivery"
    FINANCE = "finance"
    INTEGRATION = "integration"
    ADMIN = "admin"


@dataclass(frozen=True)
class Principal:
    sub: str
    roles: frozenset[str]

    def has_any(self, *roles: str) -> bool:
        return bool(self.roles.intersection(roles))
