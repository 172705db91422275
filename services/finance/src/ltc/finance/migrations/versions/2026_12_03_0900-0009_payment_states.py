"""Payments confirmed by the bank and returned by it; invoices in payment; write-offs.

Payments get a status (recorded -> confirmed -> returned), the end-to-end id the payer's bank
gave them and the statement entries that confirmed or returned them. Invoices and billing plans
count what write-offs settled and the part of their cash no statement has shown yet.

Payments recorded before this revision were already treated as the bank's cash (their invoices
are paid): they are marked confirmed on their value date, so no invoice goes back to "in payment".
The downgrade refuses while a write-off, an unconfirmed or a returned payment is held: the old
shape cannot say what they are.

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-03
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def _money(table: str, column: str) -> None:
    op.add_column(table, sa.Column(column, sa.Numeric(20, 4), nullable=False, server_default="0"))
    op.alter_column(table, column, server_default=None)


def upgrade() -> None:
    for table in ("invoices", "billing_plans"):
        _money(table, "written_off_amount")
        _money(table, "unconfirmed_amount")
    op.add_column("payments", sa.Column("status", sa.String(40), nullable=False, server_default="confirmed"))
    op.alter_column("payments", "status", server_default=None)
    op.add_column("payments", sa.Column("end_to_end_id", sa.String(200)))
    op.add_column("payments", sa.Column("bank_transaction_id", postgresql.UUID(as_uuid=True)))
    op.add_column("payments", sa.Column("confirmed_on", sa.Date))
    op.add_column("payments", sa.Column("returned_on", sa.Date))
    op.add_column("payments", sa.Column("return_reason", sa.String(40)))
    op.add_column("payments", sa.Column("returned_by_transaction_id", postgresql.UUID(as_uuid=True)))
    op.execute("UPDATE payments SET confirmed_on = value_date")
    # A payment a statement matched names its entry already: that entry confirmed it.
    op.execute("UPDATE payments p SET bank_transaction_id = t.id FROM bank_transactions t WHERE t.payment_id = p.id")
    op.create_index("ix_payments_status", "payments", ["status"])
    op.create_index("ix_payments_end_to_end_id", "payments", ["end_to_end_id"])
    op.create_index("ix_payments_bank_transaction_id", "payments", ["bank_transaction_id"])
    op.add_column("bank_transactions", sa.Column("resolved_by", sa.String(200)))
    op.add_column("bank_transactions", sa.Column("resolution_note", sa.String(1000)))
    op.create_table(
        "write_offs",
        sa.Column("id", postgresql.UUID(as_uuid=True), primary_key=True),
        sa.Column("invoice_id", postgresql.UUID(as_uuid=True), sa.ForeignKey("invoices.id"), nullable=False),
        sa.Column("invoice_number", sa.String(40), nullable=False),
        sa.Column("contract_id", postgresql.UUID(as_uuid=True), nullable=False),
        sa.Column("account_id", postgresql.UUID(as_uuid=True)),
        sa.Column("currency", sa.String(3), nullable=False),
        sa.Column("write_off_amount", sa.Numeric(20, 4), nullable=False),
        sa.Column("kind", sa.String(40), nullable=False),
        sa.Column("reason", sa.String(1000), nullable=False),
        sa.Column("written_off_on", sa.Date, nullable=False),
        sa.Column("decided_by", sa.String(200), nullable=False),
        sa.Column("decision_tier", sa.String(40)),
        sa.Column("bank_transaction_id", postgresql.UUID(as_uuid=True)),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    )
    for column in ("invoice_id", "contract_id", "account_id", "created_at"):
        op.create_index(f"ix_write_offs_{column}", "write_offs", [column])


def downgrade() -> None:
    held = op.get_bind().execute(sa.text(
        "SELECT EXISTS (SELECT FROM write_offs) OR EXISTS (SELECT FROM payments WHERE status <> 'confirmed') "
        "OR EXISTS (SELECT FROM bank_transactions WHERE resolved_by IS NOT NULL OR status IN ('return', 'sent_back'))"
    )).scalar()
    if held:
        raise RuntimeError("write-offs, unconfirmed or returned payments, or suspense resolved by hand are held: the shape before 0009 cannot "
                           "hold them")
    op.drop_table("write_offs")
    op.drop_column("bank_transactions", "resolved_by")
    op.drop_column("bank_transactions", "resolution_note")
    for index in ("status", "end_to_end_id", "bank_transaction_id"):
        op.drop_index(f"ix_payments_{index}", "payments")
    for column in ("status", "end_to_end_id", "bank_transaction_id", "confirmed_on", "returned_on", "return_reason",
                   "returned_by_transaction_id"):
        op.drop_column("payments", column)
    for table in ("invoices", "billing_plans"):
        op.drop_column(table, "written_off_amount")
        op.drop_column(table, "unconfirmed_amount")
