"""Disputes and promises to pay on invoices, which pause their dunning: at most one open of each per
invoice (a partial unique index on the open ones).

The downgrade refuses while any dispute or promise is held: they are what the customer said and
what finance decided, and dunning would forget why it paused.

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-03
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None


def _about_an_invoice() -> list[sa.Column]:
    return [
        sa.Column("id", postgresql.UUID(as_uuid=True), primary_key=True),
        sa.Column("invoice_id", postgresql.UUID(as_uuid=True), sa.ForeignKey("invoices.id"), nullable=False),
        sa.Column("invoice_number", sa.String(40), nullable=False),
        sa.Column("contract_id", postgresql.UUID(as_uuid=True), nullable=False),
        sa.Column("account_id", postgresql.UUID(as_uuid=True)),
        sa.Column("lead_id", postgresql.UUID(as_uuid=True)),
        sa.Column("opportunity_id", postgresql.UUID(as_uuid=True)),
        sa.Column("currency", sa.String(3), nullable=False),
    ]


def upgrade() -> None:
    op.create_table(
        "invoice_disputes",
        *_about_an_invoice(),
        sa.Column("disputed_amount", sa.Numeric(20, 4), nullable=False),
        sa.Column("reason", sa.String(1000), nullable=False),
        sa.Column("status", sa.String(40), nullable=False),
        sa.Column("opened_on", sa.Date, nullable=False),
        sa.Column("opened_by", sa.String(200), nullable=False),
        sa.Column("outcome", sa.String(40)),
        sa.Column("resolution", sa.String(1000)),
        sa.Column("resolved_on", sa.Date),
        sa.Column("resolved_by", sa.String(200)),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("version", sa.Integer, nullable=False),
    )
    op.create_table(
        "promises_to_pay",
        *_about_an_invoice(),
        sa.Column("promised_amount", sa.Numeric(20, 4), nullable=False),
        sa.Column("promised_date", sa.Date, nullable=False),
        sa.Column("paid_at_promise_amount", sa.Numeric(20, 4), nullable=False),
        sa.Column("status", sa.String(40), nullable=False),
        sa.Column("recorded_on", sa.Date, nullable=False),
        sa.Column("recorded_by", sa.String(200), nullable=False),
        sa.Column("closed_on", sa.Date),
        sa.Column("paid_since_amount", sa.Numeric(20, 4)),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("version", sa.Integer, nullable=False),
    )
    for table, unique in (("invoice_disputes", "uq_invoice_disputes_open"),
                          ("promises_to_pay", "uq_promises_to_pay_open")):
        for column in ("invoice_id", "account_id", "status", "created_at"):
            op.create_index(f"ix_{table}_{column}", table, [column])
        op.create_index(unique, table, ["invoice_id"], unique=True, postgresql_where=sa.text("status = 'open'"))


def downgrade() -> None:
    held = op.get_bind().execute(sa.text(
        "SELECT EXISTS (SELECT FROM invoice_disputes) OR EXISTS (SELECT FROM promises_to_pay)")).scalar()
    if held:
        raise RuntimeError("disputes or promises to pay are held: they are what customers said and finance "
                           "decided, not to be dropped")
    op.drop_table("promises_to_pay")
    op.drop_table("invoice_disputes")
