"""Sample contracts for the unit tests of the contracts domain, with the clock passed in.

Two deals: the default one (signed last November, its milestones since due) and the controls'
one (approved at ATC this summer, its milestones still ahead, signed around `TODAY`).
"""

import uuid
from datetime import UTC, date, datetime
from decimal import Decimal

from ltc.contracts.domain.amendment import DecisionOutcome
from ltc.contracts.domain.approval import Approval
from ltc.contracts.domain.model import Contract
from ltc.contracts.domain.policy import DEFAULT_POLICY
from ltc.contracts.domain.review import CHECKLIST, ItemVerdict, ReviewFunction, Verdict
from ltc.contracts.domain.values import AcceptanceType, AgreedMilestone, LineItem, Milestone, PaymentTerm, Trigger
from ltc.shared.money import Money
from ltc.shared.tiers import Tier

NOW = datetime(2027, 10, 1, 12, 0, tzinfo=UTC)  # after every date the tests record as happened
TODAY = NOW.date()
SIGNED_ON = date(2026, 11, 20)
ATC = Approval.of_atc(tier=Tier.L2, decider="approver-l2", decided_at=datetime(2026, 11, 2, 9, 0, tzinfo=UTC))
EUR = "EUR"
NUMBER = "CON-2026-000001"
TERMS = [
    PaymentTerm("advance", Decimal("30"), Trigger.SIGNING, None, 30),
    PaymentTerm("preliminary acceptance", Decimal("60"), Trigger.MILESTONE, "PAC", 45),
    PaymentTerm("final acceptance", Decimal("10"), Trigger.MILESTONE, "FAC", 45),
]
MILESTONES = [
    AgreedMilestone("PAC", date(2027, 3, 1), AcceptanceType.PRELIMINARY),
    AgreedMilestone("FAC", date(2027, 9, 1), AcceptanceType.FINAL),
]
ALL = tuple(ReviewFunction)


def line(description: str, quantity: str | int, price: str, *, position: int = 1, currency: str = EUR,
         unit: str = "C62", **kwargs) -> LineItem:
    return LineItem(position=position, description=description, quantity=Decimal(quantity), unit=unit,
                    unit_price=Money(Decimal(price), currency), **kwargs)


def draft(value: str | Money = "1000000.00", terms=TERMS, milestones=MILESTONES, **kwargs) -> Contract:
    kwargs.setdefault("lead_id", uuid.uuid4())
    return Contract(id=uuid.uuid4(), number=NUMBER, opportunity_id=uuid.uuid4(), account_id=uuid.uuid4(),
                    account_name="ACME Telecom", title="Core network upgrade", owner="ar-1",
                    value=value if isinstance(value, Money) else Money(Decimal(value), EUR), payment_terms=terms,
                    milestones=milestones, now=NOW, atc_approval=ATC, **kwargs)


def review(contract: Contract, function: ReviewFunction, failing: str | None = None, required=ALL):
    items = [ItemVerdict(item, Verdict.FAIL, "cap missing") if item == failing else ItemVerdict(item, Verdict.PASS)
             for item in CHECKLIST[function]]
    return contract.record_review(function=function, reviewer=f"{function.value}-1", items=items, comment=None,
                                  required=required, now=NOW)


def passed_review(contract: Contract) -> Contract:
    for function in ALL:
        contract.record_review(function=function, reviewer=f"{function.value}-reviewer",
                               items=[ItemVerdict(item, Verdict.PASS) for item in CHECKLIST[function]], comment=None,
                               required=ALL, now=NOW)
    return contract


def sign(contract: Contract, required=ALL, *, signatories: list[str] | None = None) -> None:
    contract.sign(signatories=signatories or ["Li Wei (ACME)", "Zhang San (us)"], signed_on=SIGNED_ON,
                  required_reviews=required, by="ar-1", now=NOW)


def active(**kwargs) -> Contract:
    contract = passed_review(draft(**kwargs))
    sign(contract)
    contract.events.clear()
    return contract


def accept(contract: Contract, milestone: Milestone) -> None:
    contract.accept_milestone(milestone.milestone_id, accepted_on=date(2027, 3, 2), certificate_ref="PAC-001", now=NOW)


# --- the controls' deal ----------------------------------------------------------------------------

RECENT_ATC = Approval.of_atc(tier=Tier.L2, decider="approver-l2", decided_at=datetime(2027, 8, 1, 9, 0, tzinfo=UTC))
UPCOMING_MILESTONES = [AgreedMilestone("PAC", date(2027, 12, 1), AcceptanceType.PRELIMINARY),
                       AgreedMilestone("FAC", date(2028, 3, 1), AcceptanceType.FINAL)]


def contract(*, opportunity: bool = True, value: str = "1000000.00") -> Contract:
    return Contract(id=uuid.uuid4(), number=NUMBER, opportunity_id=uuid.uuid4() if opportunity else None, lead_id=None,
                    account_id=uuid.uuid4(), account_name="ACME", title="Core", owner="ar-1",
                    value=Money(Decimal(value), "EUR"), payment_terms=TERMS, milestones=UPCOMING_MILESTONES, now=NOW,
                    atc_approval=RECENT_ATC if opportunity else None)


def review_all(contract: Contract, reviewer: str = "reviewer") -> None:
    for function in ALL:
        contract.record_review(function=function, reviewer=f"{reviewer}-{function.value}",
                               items=[ItemVerdict(i, Verdict.PASS) for i in CHECKLIST[function]], comment=None,
                               required=ALL, now=NOW)


def sign_on(contract: Contract, signed_on: date = TODAY) -> None:
    contract.sign(signatories=["Li Wei (ACME)", "Zhang San (us)"], signed_on=signed_on, required_reviews=ALL,
                  now=NOW, by="ar-1")


def decide(contract: Contract, decider: str = "boss", authority: Tier | None = Tier.L3,
           outcome: DecisionOutcome = DecisionOutcome.APPROVED, comment: str | None = None):
    return contract.decide_approval(outcome=outcome, decider=decider, decider_authority=authority, comment=comment,
                                    policy=DEFAULT_POLICY, version=None, now=NOW)
