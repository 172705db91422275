"""The approval a contract's terms need before signing: the ATC of the won opportunity, or the
contract's own decision, routed by the shared tier rule, for a direct contract or an edited draft.

An approval covers one version of the terms: an edit of the draft makes a new version that
nobody has approved yet, exactly as it resets the quality review.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime
from enum import StrEnum
from typing import Any

from ltc.contracts.domain.amendment import Decision, DecisionOutcome
from ltc.shared.roles import Role
from ltc.shared.tiers import Tier

# Who decides approvals and amendments: the three decision tiers (each decides its own tier and
# the ones below: `ltc.shared.tiers.may_decide`).
APPROVER_ROLES = (Role.APPROVER_L1, Role.APPROVER_L2, Role.APPROVER_L3)


class ContractOrigin(StrEnum):
    OPPORTUNITY = "opportunity"  # drafted from `opportunity.won`, on the terms approved at ATC
    DIRECT = "direct"  # drafted by its AR without an opportunity (e.g. a renewal)


class ApprovalStatus(StrEnum):
    PENDING = "pending"
    APPROVED = "approved"
    REJECTED = "rejected"


class ApprovalSource(StrEnum):
    ATC = "atc"  # the opportunity's approve-to-contract gate
    CONTRACT = "contract"  # a decision taken here, on the contract itself


@dataclass(frozen=True)
class Approval:
    """The approval of one version of the terms and the decisions taken on it."""

    contract_version: int
    source: ApprovalSource
    tier: Tier | None  # the tier that decides now (None: an ATC whose tier the event did not carry)
    status: ApprovalStatus
    decisions: tuple[Decision, ...] = ()

    @property
    def approving(self) -> Decision | None:
        """The decision that approved these terms; None while undecided, or for an ATC the event did not detail."""
        if self.status is not ApprovalStatus.APPROVED:
            return None
        return next((d for d in reversed(self.decisions) if d.outcome is DecisionOutcome.APPROVED), None)

    @property
    def approver(self) -> str | None:
        return None if self.approving is None else self.approving.decider

    def decided(self, decision: Decision, *, status: ApprovalStatus, tier: Tier) -> Approval:
        return replace(self, decisions=(*self.decisions, decision), status=status, tier=tier)

    def to_json(self) -> dict[str, Any]:
        return {"contract_version": self.contract_version, "source": self.source.value,
                "tier": None if self.tier is None else self.tier.value, "status": self.status.value,
                "decisions": [d.to_json() for d in self.decisions]}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Approval:
        return cls(contract_version=data["contract_version"], source=ApprovalSource(data["source"]),
                   tier=None if data.get("tier") is None else Tier(data["tier"]), status=ApprovalStatus(data["status"]),
                   decisions=tuple(Decision.from_json(d) for d in data["decisions"]))

    @classmethod
    def of_atc(cls, *, tier: Tier | None, decider: str | None, decided_at: datetime | None,
               comment: str | None = None) -> Approval:
        """Version 1 of a won opportunity's contract: the terms its ATC approved.

        Events from before the won event carried the ATC decision name no decider; the win itself
        still proves the approval (an opportunity is won only on approved ATC terms).
        """
        decisions = () if tier is None or decider is None or decided_at is None else (
            Decision(tier, DecisionOutcome.APPROVED, decider, comment, decided_at),)
        return cls(contract_version=1, source=ApprovalSource.ATC, tier=tier, status=ApprovalStatus.APPROVED,
                   decisions=decisions)
