"""Imperative mapping: the domain classes stay plain Python, SQLAlchemy learns them here."""

from __future__ import annotations

import functools

from ltc.leads.domain.model import Account, Channel, Grade, Lead, Tier
from ltc.shared.db import map_aggregate
from sqlalchemy import (
    Boolean,
    Column,
    Date,
    DateTime,
    Enum,
    ForeignKey,
    Integer,
    MetaData,
    Numeric,
    String,
    Table,
    Text,
)
from sqlalchemy.dialects.postgresql import JSONB, UUID
from sqlalchemy.orm import registry

metadata = MetaData()
mapper_registry = registry(metadata=metadata)

accounts = Table(
    "accounts", metadata,
    Column("id", UUID(as_uuid=True), primary_key=True),
    Column("name", String(300), nullable=False, index=True),
    Column("industry", String(120)),
    Column("owner", String(200), nullable=False, index=True),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("version", Integer, nullable=False),
)


def _enum(cls: type) -> Enum:
    return Enum(cls, native_enum=False, length=40, values_callable=lambda e: [m.value for m in e])


leads = Table(
    "leads", metadata,
    Column("id", UUID(as_uuid=True), primary_key=True),
    Column("account_id", UUID(as_uuid=True), ForeignKey("accounts.id"), nullable=False, index=True),
    Column("title", String(300), nullable=False),
    Column("need", Text, nullable=False),
    Column("channel", _enum(Channel), nullable=False),
    Column("self_generated", Boolean, nullable=False),
    Column("tier", _enum(Tier), nullable=False),
    Column("owner", String(200), nullable=False, index=True),
    Column("grade", _enum(Grade), nullable=False, index=True),
    Column("evidence", JSONB, nullable=False),
    Column("grade_history", JSONB, nullable=False),
    Column("budget_amount", Numeric(20, 4)),
    Column("budget_currency", String(3)),
    Column("start_date", Date),
    Column("disqualified_reason", Text),
    Column("converted_at", DateTime(timezone=True)),
    Column("opportunity_id", UUID(as_uuid=True)),
    Column("won_at", DateTime(timezone=True)),
    Column("contract_id", UUID(as_uuid=True)),
    Column("cash_collected_on", Date),
    Column("created_at", DateTime(timezone=True), nullable=False, index=True),
    Column("version", Integer, nullable=False),
)

@functools.cache
def start_mappers() -> None:
    map_aggregate(mapper_registry, Account, accounts)
    map_aggregate(mapper_registry, Lead, leads)
