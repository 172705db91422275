"""Look-ups by the whole name or address in any case: `GET /accounts?name=`, `GET /contacts?email=`.

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-10
"""

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index("ix_accounts_name_lower", "accounts", [sa.text("lower(name)")])
    op.create_index("ix_contacts_email_lower", "contacts", [sa.text("lower(email)")])


def downgrade() -> None:
    op.drop_index("ix_contacts_email_lower", "contacts")
    op.drop_index("ix_accounts_name_lower", "accounts")
