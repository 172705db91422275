"""Opportunities, and the plumbing tables (outbox, inbox, idempotency keys).

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
        "opportunities",
        sa.Column("id", UUID(as_uuid=True), primary_key=True),
        sa.Column("lead_id", UUID(as_uuid=True)),
        sa.Column("account_id", UUID(as_uuid=True)),
        sa.Column("account_name", sa.String(300), nullable=False),
        sa.Column("title", sa.String(300), nullable=False),
        sa.Column("need", sa.Text, nullable=False),
        sa.Column("budget_amount", sa.Numeric(20, 4)),
        sa.Column("budget_currency", sa.String(3)),
        sa.Column("start_date", sa.Date),
        sa.Column("owner", sa.String(200), nullable=False),
        sa.Column("stage", sa.String(40), nullable=False),
        sa.Column("commercial_terms", JSONB),
        sa.Column("closed_reason", sa.Text),
        sa.Column("competitor", sa.String(300)),
        sa.Column("closed_by", sa.String(200)),
        sa.Column("closed_at", sa.DateTime(timezone=True)),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("version", sa.Integer, nullable=False),
    )
    # One opportunity per converted lead; directly created ones have no lead (NULLs never clash).
    op.create_index("ix_opportunities_lead_id", "opportunities", ["lead_id"], unique=True)
    for column in ("account_id", "owner", "stage", "created_at"):
        op.create_index(f"ix_opportunities_{column}", "opportunities", [column])


def downgrade() -> None:
    op.drop_table("opportunities")
    for table in ("idempotency_keys", "inbox", "outbox"):
        op.drop_table(table)
