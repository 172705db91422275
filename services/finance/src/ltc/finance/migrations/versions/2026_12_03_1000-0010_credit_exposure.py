"""Credit limits per account and currency, and the exposure last published.

`credit_limits` holds the limit finance set (versioned: a change names the version it read);
`credit_published` the figures of the last `account.credit_changed` per account and currency, so
that finance publishes only what changed. The downgrade refuses while any limit is set: they are
finance's decisions, not to be dropped silently (the published figures are derived and may go).

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-03
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "credit_limits",
        sa.Column("account_id", postgresql.UUID(as_uuid=True), primary_key=True),
        sa.Column("currency", sa.String(3), primary_key=True),
        sa.Column("amount", sa.Numeric(20, 4), nullable=False),
        sa.Column("reason", sa.String(1000), nullable=False),
        sa.Column("set_by", sa.String(200), nullable=False),
        sa.Column("set_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("version", sa.Integer, nullable=False),
    )
    op.create_table(
        "credit_published",
        sa.Column("account_id", postgresql.UUID(as_uuid=True), primary_key=True),
        sa.Column("currency", sa.String(3), primary_key=True),
        sa.Column("limit_amount", sa.Numeric(20, 4)),
        sa.Column("open_receivables_amount", sa.Numeric(20, 4), nullable=False),
        sa.Column("signed_not_invoiced_amount", sa.Numeric(20, 4), nullable=False),
        sa.Column("changed_at", sa.DateTime(timezone=True)),
    )


def downgrade() -> None:
    if op.get_bind().execute(sa.text("SELECT EXISTS (SELECT FROM credit_limits)")).scalar():
        raise RuntimeError("credit limits are set: they are finance's decisions, not to be dropped")
    op.drop_table("credit_published")
    op.drop_table("credit_limits")
