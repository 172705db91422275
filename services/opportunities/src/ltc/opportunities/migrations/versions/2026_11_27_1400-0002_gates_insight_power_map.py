"""Iron triangle, insight, power map, risks, gates and decisions, audit log, admin configuration.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-27
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import JSONB, UUID

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

_DOCUMENTS = {  # column → what an opportunity opened before this revision starts with
    "team_history": "[]", "insight": "{}", "stakeholders": "[]", "competitors": "[]", "risks": "[]",
    "requirements": "[]", "gate_requests": "[]", "draft_terms": "{}",
}


def upgrade() -> None:
    op.add_column("opportunities", sa.Column("expected_close_date", sa.Date))
    op.add_column("opportunities", sa.Column("sr", sa.String(200)))
    op.add_column("opportunities", sa.Column("fr", sa.String(200)))
    op.add_column("opportunities", sa.Column("probability", sa.Numeric(5, 2), nullable=False,
                                             server_default="10"))
    op.add_column("opportunities", sa.Column("value_amount", sa.Numeric(20, 4)))
    op.add_column("opportunities", sa.Column("value_currency", sa.String(3)))
    op.add_column("opportunities", sa.Column("value_proposition", JSONB))
    op.add_column("opportunities", sa.Column("pending_gate_tier", sa.String(2)))
    for column, empty in _DOCUMENTS.items():
        op.add_column("opportunities", sa.Column(column, JSONB, nullable=False, server_default=sa.text(f"'{empty}'")))
        op.alter_column("opportunities", column, server_default=None)
    op.alter_column("opportunities", "probability", server_default=None)
    op.execute("UPDATE opportunities SET value_amount = budget_amount, value_currency = budget_currency")
    for column in ("expected_close_date", "sr", "fr", "pending_gate_tier"):
        op.create_index(f"ix_opportunities_{column}", "opportunities", [column])

    op.create_table(
        "audit_log",
        sa.Column("seq", sa.BigInteger, sa.Identity(always=True), primary_key=True),
        sa.Column("opportunity_id", UUID(as_uuid=True)),
        sa.Column("actor", sa.String(200), nullable=False),
        sa.Column("action", sa.String(100), nullable=False),
        sa.Column("detail", JSONB, nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("ix_audit_log_opportunity_id", "audit_log", ["opportunity_id"])
    op.create_table(
        "configuration",
        sa.Column("key", sa.String(100), primary_key=True),
        sa.Column("value", JSONB, nullable=False),
        sa.Column("version", sa.Integer, nullable=False),
        sa.Column("updated_by", sa.String(200), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("configuration")
    op.drop_table("audit_log")
    for column in ("expected_close_date", "sr", "fr", "pending_gate_tier"):
        op.drop_index(f"ix_opportunities_{column}", "opportunities")
    for column in ("expected_close_date", "sr", "fr", "probability", "value_amount", "value_currency",
                   "value_proposition", "pending_gate_tier", *_DOCUMENTS):
        op.drop_column("opportunities", column)
