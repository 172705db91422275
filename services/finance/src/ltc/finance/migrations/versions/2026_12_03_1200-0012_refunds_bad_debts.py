"""Refunds of unapplied cash (approved by a second person above an amount) and bad-debt write-off
requests decided by tier; what each payment has refunded.

The downgrade refuses while a refund or a request is held: they are records of money.

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-03
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("payments", sa.Column("refunded_amount", sa.Numeric(20, 4), nullable=False, server_default="0"))
    op.alter_column("payments", "refunded_amount", server_default=None)
    uuid = postgresql.UUID(as_uuid=True)
    op.create_table(
        "refunds",
        sa.Column("id", uuid, primary_key=True),
        sa.Column("payment_id", uuid, sa.ForeignKey("payments.id"), nullable=False),
        sa.Column("bank_reference", sa.String(200), nullable=False),
        sa.Column("account_id", uuid),
        sa.Column("lead_id", uuid),
        sa.Column("opportunity_id", uuid),
        sa.Column("contract_id", uuid),
        sa.Column("currency", sa.String(3), nullable=False),
        sa.Column("refund_amount", sa.Numeric(20, 4), nullable=False),
        sa.Column("beneficiary_name", sa.String(300), nullable=False),
        sa.Column("beneficiary_iban", sa.String(34), nullable=False),
        sa.Column("reason", sa.String(1000), nullable=False),
        sa.Column("status", sa.String(40), nullable=False),
        sa.Column("requested_by", sa.String(200), nullable=False),
        sa.Column("requested_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("decided_by", sa.String(200)),
        sa.Column("decided_at", sa.DateTime(timezone=True)),
        sa.Column("decision_note", sa.String(1000)),
        sa.Column("issued_on", sa.Date),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("version", sa.Integer, nullable=False),
    )
    for column in ("payment_id", "account_id", "status", "created_at"):
        op.create_index(f"ix_refunds_{column}", "refunds", [column])
    op.create_table(
        "write_off_requests",
        sa.Column("id", uuid, primary_key=True),
        sa.Column("invoice_id", uuid, sa.ForeignKey("invoices.id"), nullable=False),
        sa.Column("invoice_number", sa.String(40), nullable=False),
        sa.Column("contract_id", uuid, nullable=False),
        sa.Column("account_id", uuid),
        sa.Column("currency", sa.String(3), nullable=False),
        sa.Column("request_amount", sa.Numeric(20, 4), nullable=False),
        sa.Column("reason", sa.String(1000), nullable=False),
        sa.Column("tier", sa.String(40), nullable=False),
        sa.Column("status", sa.String(40), nullable=False),
        sa.Column("requested_by", sa.String(200), nullable=False),
        sa.Column("decided_by", sa.String(200)),
        sa.Column("decided_at", sa.DateTime(timezone=True)),
        sa.Column("decision_note", sa.String(1000)),
        sa.Column("write_off_id", uuid),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("version", sa.Integer, nullable=False),
    )
    for column in ("invoice_id", "account_id", "status", "created_at"):
        op.create_index(f"ix_write_off_requests_{column}", "write_off_requests", [column])


def downgrade() -> None:
    if op.get_bind().execute(sa.text(
            "SELECT EXISTS (SELECT FROM refunds) OR EXISTS (SELECT FROM write_off_requests)")).scalar():
        raise RuntimeError("refunds or write-off requests are held: they are records of money, not to be dropped")
    op.drop_table("write_off_requests")
    op.drop_table("refunds")
    op.drop_column("payments", "refunded_amount")
