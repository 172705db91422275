"""Imperative mapping: the domain classes stay plain Python, SQLAlchemy learns them here."""

from __future__ import annotations

import functools

from sqlalchemy import (
    Column,
    Date,
    DateTime,
    Enum,
    Integer,
    MetaData,
    Numeric,
    String,
    Table,
    Text,
)
from sqlalchemy.dialects.postgresql import JSONB, UUID
from sqlalchemy.orm import registry

from ltc.opportunities.domain.competitors import Competitor
from ltc.opportunities.domain.credit import Credit
from ltc.opportunities.domain.gates import GateRequest
from ltc.opportunities.domain.insight import Insight, ValueProposition
from ltc.opportunities.domain.model import Opportunity
from ltc.opportunities.domain.requirements import Requirement
from ltc.opportunities.domain.risks import Risk
from ltc.opportunities.domain.stages import Stage
from ltc.opportunities.domain.stakeholders import Stakeholder
from ltc.opportunities.domain.team import TeamChange
from ltc.opportunities.domain.terms import CommercialTerms
from ltc.shared.db import JsonDocument, map_aggregate

metadata = MetaData()
mapper_registry = registry(metadata=metadata)


opportunities = Table(
    "opportunities", metadata,
    Column("id", UUID(as_uuid=True), primary_key=True),
    # One opportunity per converted lead: the guard behind the event handler's existence check.
    Column("lead_id", UUID(as_uuid=True), index=True, unique=True),
    Column("account_id", UUID(as_uuid=True), index=True),
    Column("account_name", String(300), nullable=False),
    Column("title", String(300), nullable=False),
    Column("need", Text, nullable=False),
    Column("budget_amount", Numeric(20, 4)),
    Column("budget_currency", String(3)),
    Column("start_date", Date),
    Column("expected_close_date", Date, index=True),
    Column("owner", String(200), nullable=False, index=True),
    Column("sr", String(200), index=True),
    Column("fr", String(200), index=True),
    Column("team_history", JsonDocument(tuple[TeamChange, ...]), nullable=False),
    Column("stage", Enum(Stage, native_enum=False, length=40, values_callable=lambda e: [m.value for m in e]),
           nullable=False, index=True),
    Column("probability", Numeric(5, 2), nullable=False),
    Column("value_amount", Numeric(20, 4)),
    Column("value_currency", String(3)),
    Column("insight", JsonDocument(Insight), nullable=False),
    Column("value_proposition", JsonDocument(ValueProposition | None)),
    Column("stakeholders", JsonDocument(tuple[Stakeholder, ...]), nullable=False),
    Column("competitors", JsonDocument(tuple[Competitor, ...]), nullable=False),
    Column("risks", JsonDocument(tuple[Risk, ...]), nullable=False),
    Column("requirements", JsonDocument(tuple[Requirement, ...]), nullable=False),
    Column("gate_requests", JsonDocument(tuple[GateRequest, ...]), nullable=False),
    Column("pending_gate_tier", String(2), index=True),
    Column("draft_terms", JsonDocument(CommercialTerms), nullable=False),
    Column("commercial_terms", JSONB),
    Column("closed_reason", Text),
    Column("competitor", String(300)),
    Column("closed_by", String(200)),
    Column("closed_at", DateTime(timezone=True)),
    Column("created_at", DateTime(timezone=True), nullable=False, index=True),
    Column("version", Integer, nullable=False),
)

# The customer's credit per account and currency, as finance last published it (account.credit_changed).
account_credit = Table(
    "account_credit", metadata,
    Column("account_id", UUID(as_uuid=True), primary_key=True),
    Column("currency", String(3), primary_key=True),
    Column("limit_amount", Numeric(20, 4)),
    Column("exposure_amount", Numeric(20, 4), nullable=False),
    Column("changed_at", DateTime(timezone=True), nullable=False),
)


@functools.cache
def start_mappers() -> None:
    map_aggregate(mapper_registry, Opportunity, opportunities)
    map_aggregate(mapper_registry, Credit, account_credit, versioned=False)
