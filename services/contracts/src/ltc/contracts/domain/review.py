"""The contract quality review: a checklist per function, a verdict per item.

A review belongs to one version of the draft: editing the draft makes a new version, and the
verdicts on the old one no longer count (the review is reset).
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, replace
from datetime import datetime
from enum import StrEnum
from typing import Any

from ltc.shared.roles import Role
from ltc.shared.rules import RuleViolation


class ReviewFunction(StrEnum):
    COMMERCIAL = "commercial"
    LEGAL = "legal"
    FINANCE = "finance"
    DELIVERY = "delivery"


class ChecklistItem(StrEnum):
    """An item a review function answers (`CHECKLIST` says which function answers which)."""

    PRICE = "price"
    PAYMENT_TERMS = "payment_terms"
    CURRENCY_RISK = "currency_risk"
    LIABILITY = "liability"
    PENALTIES = "penalties"
    GOVERNING_LAW = "governing_law"
    CASH_FLOW_PROFILE = "cash_flow_profile"
    CREDIT_RISK = "credit_risk"
    MILESTONES_FEASIBLE = "milestones_feasible"
    ACCEPTANCE_CRITERIA_CLEAR = "acceptance_criteria_clear"


CHECKLIST: dict[ReviewFunction, tuple[ChecklistItem, ...]] = {
    ReviewFunction.COMMERCIAL: (ChecklistItem.PRICE, ChecklistItem.PAYMENT_TERMS, ChecklistItem.CURRENCY_RISK),
    ReviewFunction.LEGAL: (ChecklistItem.LIABILITY, ChecklistItem.PENALTIES, ChecklistItem.GOVERNING_LAW),
    ReviewFunction.FINANCE: (ChecklistItem.CASH_FLOW_PROFILE, ChecklistItem.CREDIT_RISK),
    ReviewFunction.DELIVERY: (ChecklistItem.MILESTONES_FEASIBLE, ChecklistItem.ACCEPTANCE_CRITERIA_CLEAR),
}


# Who records each function's verdict.
REVIEWER_ROLES: dict[ReviewFunction, Role] = {
    ReviewFunction.COMMERCIAL: Role.REVIEWER_COMMERCIAL,
    ReviewFunction.LEGAL: Role.REVIEWER_LEGAL,
    ReviewFunction.FINANCE: Role.REVIEWER_FINANCE,
    ReviewFunction.DELIVERY: Role.REVIEWER_DELIVERY,
}


class Verdict(StrEnum):
    PASS = "pass"
    FAIL = "fail"


class ReviewStatus(StrEnum):
    PENDING = "pending"  # a required function has not passed this version yet
    PASSED = "passed"
    FAILED = "failed"  # some function failed this version: signing is blocked until the draft changes


@dataclass(frozen=True)
class ItemVerdict:
    item: ChecklistItem
    verdict: Verdict
    comment: str | None = None

    def to_json(self) -> dict[str, Any]:
        return {"item": self.item.value, "verdict": self.verdict.value, "comment": self.comment}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> ItemVerdict:
        return cls(ChecklistItem(data["item"]), Verdict(data["verdict"]), data.get("comment"))


@dataclass(frozen=True)
class ReviewRecord:
    review_id: uuid.UUID
    function: ReviewFunction
    contract_version: int
    reviewer: str
    items: tuple[ItemVerdict, ...]
    comment: str | None
    reviewed_at: datetime

    @property
    def passed(self) -> bool:
        return all(i.verdict is Verdict.PASS for i in self.items)

    def to_json(self) -> dict[str, Any]:
        return {"review_id": str(self.review_id), "function": self.function.value,
                "contract_version": self.contract_version, "reviewer": self.reviewer,
                "items": [i.to_json() for i in self.items], "comment": self.comment,
                "reviewed_at": self.reviewed_at.isoformat()}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> ReviewRecord:
        return cls(uuid.UUID(data["review_id"]), ReviewFunction(data["function"]), data["contract_version"],
                   data["reviewer"], tuple(ItemVerdict.from_json(i) for i in data["items"]), data.get("comment"),
                   datetime.fromisoformat(data["reviewed_at"]))


def checked_items(function: ReviewFunction, items: list[ItemVerdict]) -> tuple[ItemVerdict, ...]:
    """The verdicts in checklist order; every item answered once, and every fail explained."""
    checklist = CHECKLIST[function]
    problems = []
    seen = [i.item for i in items]
    for item in sorted(set(seen) - set(checklist)):
        problems.append({"field": "items", "message": f"'{item}' is not on the {function.value} checklist"})
    for item in sorted({i for i in seen if seen.count(i) > 1}):
        problems.append({"field": "items", "message": f"'{item}' is answered more than once"})
    for item in checklist:
        if item not in seen:
            problems.append({"field": "items", "message": f"'{item}' is not answered"})
    for verdict in items:
        if verdict.verdict is Verdict.FAIL and not (verdict.comment or "").strip():
            problems.append({"field": "items", "message": f"the fail of '{verdict.item}' needs a comment saying why"})
    if problems:
        raise RuleViolation("review-checklist-incomplete",
                            f"the {function.value} checklist is {', '.join(checklist)}, each item answered once "
                            "with pass or fail, and every fail with a comment: "
                            + "; ".join(p["message"] for p in problems), errors=problems)
    by_item = {i.item: i for i in items}
    return tuple(replace(by_item[item], item=item) for item in checklist)


@dataclass(frozen=True)
class ReviewState:
    contract_version: int
    required: tuple[ReviewFunction, ...]
    verdicts: dict[ReviewFunction, ReviewRecord]  # the latest verdict per function on this version

    @property
    def status(self) -> ReviewStatus:
        if any(not r.passed for r in self.verdicts.values()):
            return ReviewStatus.FAILED
        if all(f in self.verdicts for f in self.required):
            return ReviewStatus.PASSED
        return ReviewStatus.PENDING

    @property
    def passed(self) -> bool:
        return self.status is ReviewStatus.PASSED

    @property
    def outstanding(self) -> tuple[ReviewFunction, ...]:
        return tuple(f for f in self.required if f not in self.verdicts)

    @property
    def failed(self) -> tuple[ReviewFunction, ...]:
        return tuple(f for f, r in self.verdicts.items() if not r.passed)


def review_state(records: list[ReviewRecord], contract_version: int,
                 required: tuple[ReviewFunction, ...]) -> ReviewState:
    verdicts: dict[ReviewFunction, ReviewRecord] = {}
    for record in records:  # kept in the order recorded, so a later verdict replaces an earlier one
        if record.contract_version == contract_version:
            verdicts[record.function] = record
    return ReviewState(contract_version, required, verdicts)
