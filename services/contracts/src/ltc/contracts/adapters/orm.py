"""Imperative mapping: the domain classes stay plain Python, SQLAlchemy learns them here."""

from __future__ import annotations

import functools
from typing import Any

from sqlalchemy import (
    Boolean,
    Column,
    Date,
    DateTime,
    Dialect,
    Index,
    Integer,
    MetaData,
    Numeric,
    String,
    Table,
    Text,
    UniqueConstraint,
)
from sqlalchemy.dialects.postgresql import JSONB, UUID
from sqlalchemy.orm import registry
from sqlalchemy.types import TypeDecorator

from ltc.contracts.domain.amendment import Amendment
from ltc.contracts.domain.approval import Approval, ContractOrigin
from ltc.contracts.domain.model import Contract, ContractStatus
from ltc.contracts.domain.review import ReviewRecord
from ltc.contracts.domain.values import LegalTerms, LineItem, Milestone, PaymentTerm, line_from_json, line_to_json
from ltc.shared.db import map_aggregate, str_enum

metadata = MetaData()
mapper_registry = registry(metadata=metadata)


class _ValueList(TypeDecorator[list[Any]]):
    """A JSONB list of the domain's frozen value objects.

    The domain replaces the whole list on every change, and the values compare by content, so
    the ORM sees the change without mutation tracking.
    """

    impl = JSONB
    cache_ok = True
    value_type: Any

    def process_bind_param(self, value: list[Any] | None, dialect: Dialect) -> list[dict[str, Any]] | None:
        return None if value is None else [item.to_json() for item in value]

    def process_result_value(self, value: list[dict[str, Any]] | None, dialect: Dialect) -> list[Any] | None:
        return None if value is None else [self.value_type.from_json(item) for item in value]


class PaymentTermList(_ValueList):
    cache_ok = True
    value_type = PaymentTerm


class MilestoneList(_ValueList):
    cache_ok = True
    value_type = Milestone


class LineItemList(TypeDecorator[list[LineItem]]):
    """The contract's lines, each stored with its currency (migration 0007 gave one to the lines
    stored before, from the contract's value): a line's position defaults to its place in the list."""

    impl = JSONB
    cache_ok = True

    def process_bind_param(self, value: list[LineItem] | None, dialect: Dialect) -> list[dict[str, Any]] | None:
        return None if value is None else [line_to_json(line) for line in value]

    def process_result_value(self, value: list[dict[str, Any]] | None, dialect: Dialect) -> list[LineItem] | None:
        return None if value is None else [line_from_json(item, index=index) for index, item in enumerate(value)]


class ReviewList(_ValueList):
    cache_ok = True
    value_type = ReviewRecord


class AmendmentList(_ValueList):
    cache_ok = True
    value_type = Amendment


class ApprovalList(_ValueList):
    cache_ok = True
    value_type = Approval


class LegalTermsJson(TypeDecorator[LegalTerms]):
    impl = JSONB
    cache_ok = True

    def process_bind_param(self, value: LegalTerms | None, dialect: Dialect) -> dict[str, Any] | None:
        return None if value is None else value.to_json()

    def process_result_value(self, value: dict[str, Any] | None, dialect: Dialect) -> LegalTerms:
        return LegalTerms.from_json(value)


contracts = Table(
    "contracts", metadata,
    Column("id", UUID(as_uuid=True), primary_key=True),
    Column("number", String(40), nullable=False),  # CON-<year>-<sequence>, given when drafted
    Column("opportunity_id", UUID(as_uuid=True)),  # None for a direct contract
    Column("origin", str_enum(ContractOrigin), nullable=False),
    Column("authors", JSONB, nullable=False),
    Column("approvals", ApprovalList, nullable=False),
    Column("signed_by", String(200)),
    Column("lead_id", UUID(as_uuid=True)),
    Column("account_id", UUID(as_uuid=True), index=True),
    Column("account_name", String(300), nullable=False),
    Column("title", String(300), nullable=False),
    Column("owner", String(200), nullable=False, index=True),
    Column("value_amount", Numeric(20, 4), nullable=False),
    Column("value_currency", String(3), nullable=False),
    Column("payment_terms", PaymentTermList, nullable=False),
    Column("milestones", MilestoneList, nullable=False),
    Column("line_items", LineItemList, nullable=False),
    Column("legal_terms", LegalTermsJson, nullable=False),
    Column("fr_owner", String(200), index=True),
    Column("contract_version", Integer, nullable=False),
    Column("reviews", ReviewList, nullable=False),
    Column("amendments", AmendmentList, nullable=False),
    Column("status", str_enum(ContractStatus), nullable=False, index=True),
    Column("signatories", JSONB, nullable=False),
    Column("signed_on", Date),
    Column("fully_paid", Boolean, nullable=False),
    Column("fully_paid_on", Date),
    Column("closed_at", DateTime(timezone=True)),
    Column("created_at", DateTime(timezone=True), nullable=False, index=True),
    Column("updated_at", DateTime(timezone=True), nullable=False),
    Column("version", Integer, nullable=False),
    # One contract per won opportunity, whatever the number of deliveries of `opportunity.won`.
    Index("ux_contracts_opportunity_id", "opportunity_id", unique=True),
    UniqueConstraint("number", name="uq_contracts_number"),
)

# Gap-free numbering: the row of the year of drafting is incremented under its row lock in the
# drafting transaction, so a draft rolled back gives its number back.
contract_sequences = Table(
    "contract_sequences", metadata,
    Column("year", Integer, primary_key=True, autoincrement=False),
    Column("last_number", Integer, nullable=False),
)

# Every version of a contract's terms, as it was: drafted, edited, amended.
contract_versions = Table(
    "contract_versions", metadata,
    Column("contract_id", UUID(as_uuid=True), primary_key=True),
    Column("contract_version", Integer, primary_key=True),
    Column("terms", JSONB, nullable=False),
    Column("change", String(40), nullable=False),
    Column("reason", Text),
    Column("amendment_id", UUID(as_uuid=True)),
    Column("created_by", String(200), nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
)

# What finance has invoiced of each contract line, one row per invoice or credit note and line
# position (a credit note's rows negative), so a redelivered document is recorded once whatever
# envelope it came in; a line's invoiced quantity and net are the sums of its rows.
invoiced_lines = Table(
    "invoiced_lines", metadata,
    Column("document_id", UUID(as_uuid=True), primary_key=True),  # the invoice's or the credit note's
    Column("position", Integer, primary_key=True),  # the contract line's
    Column("contract_id", UUID(as_uuid=True), nullable=False, index=True),
    Column("document_type", String(20), nullable=False),  # invoice, credit_note
    Column("document_number", Text, nullable=False),
    Column("quantity", Numeric, nullable=False),  # finance bills shares of a quantity to six places
    Column("net_amount", Numeric(20, 4), nullable=False),
    Column("currency", String(3), nullable=False),
    Column("recorded_at", DateTime(timezone=True), nullable=False),
)

# The audit trail and the admin's policy are kept in the shared tables (`ltc.shared.db.audit_trail`,
# `ltc.shared.policy.policy_versions`), created by migration 0005.


@functools.cache
def start_mappers() -> None:
    map_aggregate(mapper_registry, Contract, contracts)
