"""Imperative mapping: the domain classes stay plain Python, SQLAlchemy learns them here."""

from __future__ import annotations

import functools

from ltc.opportunities.domain.model import Opportunity, Stage
from ltc.shared.db import map_aggregate
from sqlalchemy import Column, Date, DateTime, Enum, Integer, MetaData, Numeric, String, Table, Text
from sqlalchemy.dialects.postgresql import JSONB, UUID
from sqlalchemy.orm import registry

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
    Column("owner", String(200), nullable=False, index=True),
    Column("stage", Enum(Stage, native_enum=False, length=40, values_callable=lambda e: [m.value for m in e]),
           nullable=False, index=True),
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
