"""Contracts, and the plumbing tables (outbox, inbox, idempotency keys).

Revision ID: 0001
Revises:
Create Date: 2026-11-27
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import JSONB, UUID

from ltc.shared.db import create_plumbing_tables

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    create_plumbing_tables(op)
    op.create_table(
        "contracts",
        sa.Column("id", UUID(as_uuid=True), primary_key=True),
        sa.Column("opportunity_id", UUID(as_uuid=True), nullable=False),
        sa.Column("lead_id", UUID(as_uuid=True)),
        sa.Column("account_id", UUID(as_uuid=True)),
        sa.Column("account_name", sa.String(300), nullable=False),
        sa.Column("title", sa.String(300), nullable=False),
        sa.Column("owner", sa.String(200), nullable=False),
        sa.Column("value_amount", sa.Numeric(20, 4), nullable=False),
        sa.Column("value_currency", sa.String(3), nullable=False),
        sa.Column("payment_terms", JSONB, nullable=False),
        sa.Column("milestones", JSONB, nullable=False),
        sa.Column("status", sa.String(40), nullable=False),
        sa.Column("signatories", JSONB, nullable=False),
        sa.Column("signed_on", sa.Date),
        sa.Column("fully_paid", sa.Boolean, nullable=False),
        sa.Column("fully_paid_on", sa.Date),
        sa.Column("closed_at", sa.DateTime(timezone=True)),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("version", sa.Integer, nullable=False),
    )
    op.create_index("ux_contracts_opportunity_id", "contracts", ["opportunity_id"], unique=True)
    for column in ("account_id", "owner", "status", "created_at"):
        op.create_index(f"ix_contracts_{column}", "contracts", [column])


def downgrade() -> None:
    op.drop_table("contracts")
    for table in ("idempotency_keys", "inbox", "outbox"):
        op.drop_table(table)
