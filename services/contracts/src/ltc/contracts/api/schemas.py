"""Request and response bodies, named by role (`SignRequest`, `ContractRead`, ...)."""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated
from uuid import UUID

from ltc.contracts.domain.model import AcceptanceType, Contract, ContractStatus, MilestoneStatus, Trigger
from ltc.shared.messages import MoneyPayload
from ltc.shared.messages.base import DecimalStr
from pydantic import BaseModel, ConfigDict, Field, StringConstraints

Name = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class SignRequest(_Strict):
    signatories: list[Name] = Field(min_length=2, max_length=20,
                                    description="who signed, for both sides: the customer's and ours")
    signed_on: date


class AcceptMilestoneRequest(_Strict):
    accepted_on: date
    certificate_ref: Name = Field(description="reference of the customer's acceptance certificate")


class PaymentTermRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    name: str
    percent: DecimalStr
    trigger: Trigger
    milestone: str | None = Field(description="name of the milestone whose acceptance triggers the instalment")
    due_days: int


class MilestoneRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    milestone_id: UUID
    name: str
    planned_date: date
    acceptance_type: AcceptanceType
    status: MilestoneStatus
    accepted_on: date | None
    certificate_ref: str | None


class ContractRead(BaseModel):
    id: UUID
    opportunity_id: UUID
    lead_id: UUID | None
    account_id: UUID | None
    account_name: str
    title: str
    owner: str
    value: MoneyPayload
    payment_terms: list[PaymentTermRead]
    milestones: list[MilestoneRead]
    status: ContractStatus
    signatories: list[str]
    signed_on: date | None
    fully_paid: bool
    fully_paid_on: date | None
    closed_at: datetime | None
    created_at: datetime
    version: int

    @classmethod
    def of(cls, contract: Contract) -> ContractRead:
        nested = ("value", "payment_terms", "milestones")
        data = {name: getattr(contract, name) for name in cls.model_fields if name not in nested}
        return cls(
            **data, value=MoneyPayload.of(contract.value),
            payment_terms=[PaymentTermRead.model_validate(t) for t in contract.payment_terms],
            milestones=[MilestoneRead.model_validate(m) for m in contract.milestones],
        )
