"""The three decision tiers (L1 < L2 < L3) shared by the opportunity gates and contract amendments.

A decision routed to a tier may be taken by that tier or a higher one; a tier may escalate to the
next one up. A caller's authority comes only from the approver roles in their token.
"""

from __future__ import annotations

from enum import StrEnum

from ltc.shared.roles import Role


class Tier(StrEnum):
    """The three decision tiers, in rising authority."""

    L1 = "L1"
    L2 = "L2"
    L3 = "L3"

    @property
    def rank(self) -> int:
        return int(self.value[1])

    def above(self) -> Tier | None:
        """The next tier up, or None for L3."""
        return next((t for t in Tier if t.rank == self.rank + 1), None)


TIER_ROLES = {Tier.L1: Role.APPROVER_L1.value, Tier.L2: Role.APPROVER_L2.value, Tier.L3: Role.APPROVER_L3.value}


def authority_of(roles: frozenset[str]) -> Tier | None:
    """The highest tier the roles sit on, or None for someone who decides nothing."""
    held = [tier for tier, role in TIER_ROLES.items() if role in roles]
    return max(held, key=lambda t: t.rank) if held else None


def may_decide(authority: Tier | None, routed_to: Tier) -> bool:
    return authority is not None and authority.rank >= routed_to.rank
