"""Finance's copy of each account (from `account.created` / `account.updated`), and the parties an
invoice names, snapshotted on issue: `bill_to` (the customer's billing identity then) and `seller`.

Invoices issued before 0005 keep both empty: what the parties were when they were issued is not
known, and an issued invoice is not rewritten.

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-02
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "accounts",
        sa.Column("account_id", postgresql.UUID(as_uuid=True), primary_key=True),
        sa.Column("name", sa.String(300), nullable=False),
        sa.Column("owner", sa.String(200), nullable=False),
        sa.Column("billing", postgresql.JSONB()),
        sa.Column("as_of", sa.DateTime(timezone=True), nullable=False),
        sa.Column("copied_from", sa.String(40), nullable=False),
    )
    op.add_column("invoices", sa.Column("bill_to", postgresql.JSONB()))
    op.add_column("invoices", sa.Column("seller", postgresql.JSONB()))


def downgrade() -> None:
    # The snapshots are what the invoices said when issued: refuse to drop them while any holds one.
    bind = op.get_bind()
    if bind.execute(sa.text("SELECT EXISTS (SELECT FROM invoices WHERE bill_to IS NOT NULL OR seller IS NOT NULL)")
                    ).scalar():
        raise RuntimeError("invoices hold bill-to or seller snapshots that revision 0004 has no place for; "
                           "archive them before downgrading below 0005")
    op.drop_column("invoices", "seller")
    op.drop_column("invoices", "bill_to")
    op.drop_table("accounts")
