"""Accounts, leads, and the plumbing tables (outbox, inbox, idempotency keys).

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
        "accounts",
        sa.Column("id", UUID(as_uuid=True), primary_key=True),
        sa.Column("name", sa.String(300), nullable=False),
        sa.Column("industry", sa.String(120)),
        sa.Column("owner", sa.String(200), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("version", sa.Integer, nullable=False),
    )
    op.create_index("ix_accounts_name", "accounts", ["name"])
    op.create_index("ix_accounts_owner", "accounts", ["owner"])
    op.create_table(
        "leads",
        sa.Column("id", UUID(as_uuid=True), primary_key=True),
        sa.Column("account_id", UUID(as_uuid=True), sa.ForeignKey("accounts.id"), nullable=False),
        sa.Column("title", sa.String(300), nullable=False),
        sa.Column("need", sa.Text, nullable=False),
        sa.Column("channel", sa.String(40), nullable=False),
        sa.Column("self_generated", sa.Boolean, nullable=False),
        sa.Column("tier", sa.String(40), nullable=False),
        sa.Column("owner", sa.String(200), nullable=False),
        sa.Column("grade", sa.String(40), nullable=False),
        sa.Column("evidence", JSONB, nullable=False),
        sa.Column("grade_history", JSONB, nullable=False),
        sa.Column("budget_amount", sa.Numeric(20, 4)),
        sa.Column("budget_currency", sa.String(3)),
        sa.Column("start_date", sa.Date),
        sa.Column("disqualified_reason", sa.Text),
        sa.Column("converted_at", sa.DateTime(timezone=True)),
        sa.Column("opportunity_id", UUID(as_uuid=True)),
        sa.Column("won_at", sa.DateTime(timezone=True)),
        sa.Column("contract_id", UUID(as_uuid=True)),
        sa.Column("cash_collected_on", sa.Date),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("version", sa.Integer, nullable=False),
    )
    for column in ("account_id", "owner", "grade", "created_at"):
        op.create_index(f"ix_leads_{column}", "leads", [column])


def downgrade() -> None:
    op.drop_table("leads")
    op.drop_table("accounts")
    for table in ("idempotency_keys", "inbox", "outbox"):
        op.drop_table(table)
