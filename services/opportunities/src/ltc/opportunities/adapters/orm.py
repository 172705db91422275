"""Imperative mapping: the domain classes stay plain Python, SQLAlchemy learns them here."""

from __future__ import annotations

import functools
from typing import Any

from pydantic import TypeAdapter
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
    TypeDecorator,
)
from sqlalchemy.dialects.postgresql import JSONB, UUID
from sqlalchemy.orm import registry

from ltc.opportunities.domain.competitors import Competitor
from ltc.opportunities.domain.gates import GateRequest
from ltc.opportunities.domain.insight import Insight, ValueProposition
from ltc.opportunities.domain.model import Opportunity
from ltc.opportunities.domain.requirements import Requirement
from ltc.opportunities.domain.risks import Risk
from ltc.opportunities.domain.stages import Stage
from ltc.opportunities.domain.stakeholders import Stakeholder
from ltc.opportunities.domain.team import TeamChange
from ltc.opportunities.domain.terms import CommercialTerms
from ltc.shared.db import map_aggregate

metadata = MetaData()
mapper_registry = registry(metadata=metadata)


class Document(TypeDecorator[Any]):
    """A value object (or a tuple of them) kept as JSONB, typed on the way in and out.

    The domain only ever replaces these values (they are frozen), so plain equality is enough for
    the session to see a change.
    """

    impl = JSONB
    cache_ok = True

    def __init__(self, document_type: Any) -> None:
        super().__init__()
        self.document_type = document_type
        self._adapter = TypeAdapter(document_type)

    def process_bind_param(self, value: Any, dialect: Any) -> Any:
        return None if value is None else self._adapter.dump_python(value, mode="json")

    def process_result_value(self, value: Any, dialect: Any) -> Any:
        return None if value is None else self._adapter.validate_python(value)


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
    Column("team_history", Document(tuple[TeamChange, ...]), nullable=False),
    Column("stage", Enum(Stage, native_enum=False, length=40, values_callable=lambda e: [m.value for m in e]),
           nullable=False, index=True),
    Column("probability", Numeric(5, 2), nullable=False),
    Column("value_amount", Numeric(20, 4)),
    Column("value_currency", String(3)),
    Column("insight", Document(Insight), nullable=False),
    Column("value_proposition", Document(ValueProposition | None)),
    Column("stakeholders", Document(tuple[Stakeholder, ...]), nullable=False),
    Column("competitors", Document(tuple[Competitor, ...]), nullable=False),
    Column("risks", Document(tuple[Risk, ...]), nullable=False),
    Column("requirements", Document(tuple[Requirement, ...]), nullable=False),
    Column("gate_requests", Document(tuple[GateRequest, ...]), nullable=False),
    Column("pending_gate_tier", String(2), index=True),
    Column("draft_terms", Document(CommercialTerms), nullable=False),
    Column("commercial_terms", JSONB),
    Column("closed_reason", Text),
    Column("competitor", String(300)),
    Column("closed_by", String(200)),
    Column("closed_at", DateTime(timezone=True)),
    Column("created_at", DateTime(timezone=True), nullable=False, index=True),
    Column("version", Integer, nullable=False),
)


@functools.cache
def start_mappers() -> None:
    map_aggregate(mapper_registry, Opportunity, opportunities)
