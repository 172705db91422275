"""An account's billing identity (legal name, registration and VAT ids, billing address and contact,
ERP customer id, buyer reference): one nullable JSONB value, read, replaced and published whole.

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-12
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("accounts", sa.Column("billing", postgresql.JSONB(), nullable=True))


def downgrade() -> None:
    op.drop_column("accounts", "billing")
