"""The customer's credit as finance publishes it (`account.credit_changed`), per account and currency:
the copy the ATC gate's credit-limit rule reads. Derived data: the downgrade drops it, and a replay
of finance's topic fills it again.

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-03
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "account_credit",
        sa.Column("account_id", postgresql.UUID(as_uuid=True), primary_key=True),
        sa.Column("currency", sa.String(3), primary_key=True),
        sa.Column("limit_amount", sa.Numeric(20, 4)),
        sa.Column("exposure_amount", sa.Numeric(20, 4), nullable=False),
        sa.Column("changed_at", sa.DateTime(timezone=True), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("account_credit")
