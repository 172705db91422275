"""Events published by the contracts service on `ltc.contracts`."""

from __future__ import annotations

from datetime import date, datetime
from enum import StrEnum
from typing import ClassVar, Literal
from uuid import UUID

from pydantic import BaseModel, Field

from ltc.shared.messages.base import DecimalStr, EventPayload, LinePayload, MoneyPayload


class Trigger(StrEnum):
    """What makes an instalment due: the signing, a milestone's acceptance, or a date. One
    vocabulary for the contract that plans the instalments and the finance that bills them."""

    SIGNING = "signing"
    MILESTONE = "milestone"
    DATE = "date"


class InstalmentPayload(BaseModel):
    name: str
    percent: DecimalStr
    amount: MoneyPayload
    trigger: Trigger
    milestone_id: UUID | None = None
    due_days: int
    # The trigger date of a `date` instalment; left out of the others, whose payloads stay as
    # they were before date triggers existed.
    due_date: date | None = Field(default=None, exclude_if=lambda value: value is None)


class ContractMilestonePayload(BaseModel):
    milestone_id: UUID
    name: str
    planned_date: date
    acceptance_type: Literal["preliminary", "final"]


class _ContractEvent(EventPayload):
    topic: ClassVar[str] = "ltc.contracts"
    subject_field: ClassVar[str] = "contract_id"
    contract_id: UUID


class ContractDrafted(_ContractEvent):
    event_type: ClassVar[str] = "contract.drafted"
    opportunity_id: UUID | None  # None for a direct contract (`origin` "direct"), drafted without one
    origin: Literal["opportunity", "direct"] = "opportunity"
    value: MoneyPayload
    drafted_at: datetime


class ContractSigned(_ContractEvent):
    event_type: ClassVar[str] = "contract.signed"
    account_id: UUID | None
    account_name: str
    value: MoneyPayload
    signed_on: date
    signatories: list[str]
    payment_schedule: list[InstalmentPayload]
    milestones: list[ContractMilestonePayload]
    # The contract's lines (net, adding up to the value); empty from contracts signed before lines
    # travelled, which finance bills as one line of the value.
    lines: list[LinePayload] = Field(default_factory=list)


class ContractMilestoneAccepted(_ContractEvent):
    event_type: ClassVar[str] = "contract.milestone_accepted"
    milestone_id: UUID
    name: str
    acceptance_type: Literal["preliminary", "final"]
    accepted_on: date
    certificate_ref: str


class ContractClosed(_ContractEvent):
    event_type: ClassVar[str] = "contract.closed"
    closed_at: datetime


class ContractReviewed(_ContractEvent):
    """One reviewer function recorded its verdict on the draft's current version."""

    event_type: ClassVar[str] = "contract.reviewed"
    contract_version: int
    function: Literal["commercial", "legal", "finance", "delivery"]
    outcome: Literal["passed", "failed"]
    reviewer: str
    comment: str | None = None
    review_passed: bool  # every required function has passed this version: it may be signed
    reviewed_at: datetime


class ContractAmended(_ContractEvent):
    """An approved amendment, applied as a new version.

    The schedule is complete: instalment names are unique within a contract, and an instalment
    whose trigger has already happened (signing done, milestone accepted) is carried over
    unchanged, so finance re-plans only what is not yet invoiced.
    """

    event_type: ClassVar[str] = "contract.amended"
    contract_version: int
    reason: str
    value: MoneyPayload
    payment_schedule: list[InstalmentPayload]
    milestones: list[ContractMilestonePayload]
    amended_at: datetime
    lines: list[LinePayload] = Field(default_factory=list)  # the whole set after the amendment
