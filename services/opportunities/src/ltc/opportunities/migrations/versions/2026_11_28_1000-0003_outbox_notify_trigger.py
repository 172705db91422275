"""Plumbing version 2: the outbox NOTIFYs its relay from a trigger (one round trip less per write).

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-28
"""

from alembic import op

from ltc.shared.db import create_outbox_notify_trigger, drop_outbox_notify_trigger

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    create_outbox_notify_trigger(op)


def downgrade() -> None:
    drop_outbox_notify_trigger(op)
