"""Imperative mapping: the domain classes stay plain Python, SQLAlchemy learns them here."""

from __future__ import annotations

import functools
from typing import Any

from sqlalchemy import (
    Boolean,
    Column,
    Date,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    Numeric,
    String,
    Table,
    Text,
    TypeDecorator,
    func,
)
from sqlalchemy.dialects.postgresql import JSONB, UUID
from sqlalchemy.orm import registry

from ltc.leads.domain.accounts import Account, BillingIdentity, Contact, DecisionRole, Tier
from ltc.leads.domain.activities import Activity, ActivityKind, ActivityStatus
from ltc.leads.domain.model import Channel, Grade, Lead
from ltc.shared.db import map_aggregate, str_enum

metadata = MetaData()
mapper_registry = registry(metadata=metadata)


class BillingIdentityJSON(TypeDecorator[BillingIdentity]):
    """The billing identity as one JSONB value: it is read, replaced and published whole."""

    impl = JSONB
    cache_ok = True

    def process_bind_param(self, value: BillingIdentity | None, dialect: Any) -> dict[str, Any] | None:
        return value.to_json() if value is not None else None

    def process_result_value(self, value: dict[str, Any] | None, dialect: Any) -> BillingIdentity | None:
        return BillingIdentity.from_json(value) if value is not None else None


accounts = Table(
    "accounts", metadata,
    Column("id", UUID(as_uuid=True), primary_key=True),
    Column("name", String(300), nullable=False, index=True),
    Column("industry", String(120), index=True),
    Column("tier", str_enum(Tier), nullable=False, index=True),
    Column("region", String(120)),
    Column("website", String(300)),
    Column("notes", Text),
    Column("owner", String(200), nullable=False, index=True),
    Column("billing", BillingIdentityJSON),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("updated_at", DateTime(timezone=True), nullable=False),
    Column("version", Integer, nullable=False),
)

contacts = Table(
    "contacts", metadata,
    Column("id", UUID(as_uuid=True), primary_key=True),
    Column("account_id", UUID(as_uuid=True), ForeignKey("accounts.id"), nullable=False, index=True),
    Column("name", String(300), nullable=False),
    Column("title", String(300)),
    Column("decision_role", str_enum(DecisionRole)),
    Column("kpis", JSONB, nullable=False),
    Column("pains", JSONB, nullable=False),
    Column("communication_style", Text),
    Column("notes", Text),
    Column("email", String(320)),
    Column("phone", String(60)),
    Column("competence_rating", Integer, nullable=False),
    Column("reliability_rating", Integer, nullable=False),
    Column("created_by", String(200), nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False, index=True),
    Column("updated_at", DateTime(timezone=True), nullable=False),
    Column("version", Integer, nullable=False),
)

activities = Table(
    "activities", metadata,
    Column("id", UUID(as_uuid=True), primary_key=True),
    Column("kind", str_enum(ActivityKind), nullable=False),
    Column("account_id", UUID(as_uuid=True), ForeignKey("accounts.id"), nullable=False, index=True),
    Column("lead_id", UUID(as_uuid=True), ForeignKey("leads.id"), index=True),
    Column("contact_ids", JSONB, nullable=False),
    Column("subject", String(300), nullable=False),
    Column("planned_on", Date),
    Column("plan", JSONB),
    Column("outcome", JSONB),
    Column("status", str_enum(ActivityStatus), nullable=False),
    Column("occurred_on", Date),
    Column("created_by", String(200), nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False, index=True),
    Column("updated_at", DateTime(timezone=True), nullable=False),
    Column("version", Integer, nullable=False),
    # "Which activities met this contact" is the trust formula's question: a GIN index answers it.
    Index("ix_activities_contact_ids", "contact_ids", postgresql_using="gin"),
)

leads = Table(
    "leads", metadata,
    Column("id", UUID(as_uuid=True), primary_key=True),
    Column("account_id", UUID(as_uuid=True), ForeignKey("accounts.id"), nullable=False, index=True),
    Column("title", String(300), nullable=False),
    Column("need", Text, nullable=False),
    Column("channel", str_enum(Channel), nullable=False),
    Column("self_generated", Boolean, nullable=False),
    Column("tier", str_enum(Tier), nullable=False),
    Column("owner", String(200), index=True),
    Column("reported_by", String(300)),
    Column("contact_ids", JSONB, nullable=False),
    Column("pains", JSONB, nullable=False),
    Column("grade", str_enum(Grade), nullable=False, index=True),
    Column("evidence", JSONB, nullable=False),
    Column("grade_history", JSONB, nullable=False),
    Column("budget_amount", Numeric(20, 4)),
    Column("budget_currency", String(3)),
    Column("start_date", Date),
    Column("disqualified_reason", Text),
    Column("converted_at", DateTime(timezone=True)),
    Column("opportunity_id", UUID(as_uuid=True)),
    Column("won_at", DateTime(timezone=True)),
    Column("lost_at", DateTime(timezone=True)),
    Column("lost_reason", Text),
    Column("contract_id", UUID(as_uuid=True)),
    Column("cash_collected_on", Date),
    Column("cash_collected_amount", Numeric(20, 4)),
    Column("cash_collected_currency", String(3)),
    Column("created_at", DateTime(timezone=True), nullable=False, index=True),
    Column("updated_at", DateTime(timezone=True), nullable=False),
    Column("version", Integer, nullable=False),
)


# Looked up by the whole name or address in any case (`GET /accounts?name=`, `GET /contacts?email=`).
Index("ix_accounts_name_lower", func.lower(accounts.c.name))
Index("ix_contacts_email_lower", func.lower(contacts.c.email))


@functools.cache
def start_mappers() -> None:
    map_aggregate(mapper_registry, Account, accounts)
    map_aggregate(mapper_registry, Lead, leads)
    map_aggregate(mapper_registry, Contact, contacts)
    map_aggregate(mapper_registry, Activity, activities)
