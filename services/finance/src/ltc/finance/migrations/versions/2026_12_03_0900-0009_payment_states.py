"""Payments confirmed by the bank and returned by it; invoices in payment; write-offs and refunds.

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-03
"""

import sqlalchemy as sa  # noqa: F401 - filled in by the change that needs it
from alembic import op  # noqa: F401

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
