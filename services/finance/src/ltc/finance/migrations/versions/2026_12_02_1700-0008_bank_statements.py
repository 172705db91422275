"""Bank statements as the bank sends them (camt.053): each statement of an account once, and its
entries as bank transactions with what became of each (matched to an invoice's payment, in
suspense, or to review).

The downgrade refuses while any statement is held: they are the bank's record of cash.

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-02
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "bank_statements",
        sa.Column("id", postgresql.UUID(as_uuid=True), primary_key=True),
        sa.Column("statement_id", sa.String(200), nullable=False),
        sa.Column("account_iban", sa.String(60), nullable=False),
        sa.Column("message_type", sa.String(40), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True)),
        sa.Column("content_sha256", sa.String(64), nullable=False),
        sa.Column("imported_by", sa.String(200), nullable=False),
        sa.Column("imported_at", sa.DateTime(timezone=True), nullable=False),
        sa.UniqueConstraint("account_iban", "statement_id", name="uq_bank_statements_account_statement"),
    )
    op.create_table(
        "bank_transactions",
        sa.Column("id", postgresql.UUID(as_uuid=True), primary_key=True),
        sa.Column("statement_id", postgresql.UUID(as_uuid=True), sa.ForeignKey("bank_statements.id"),
                  nullable=False),
        sa.Column("position", sa.Integer, nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("reference", sa.String(200), nullable=False),
        sa.Column("currency", sa.String(3), nullable=False),
        sa.Column("amount_value", sa.Numeric(20, 4), nullable=False),
        sa.Column("credit", sa.Boolean, nullable=False),
        sa.Column("value_date", sa.Date, nullable=False),
        sa.Column("booking_date", sa.Date),
        sa.Column("counterparty_name", sa.String(300)),
        sa.Column("counterparty_iban", sa.String(60)),
        sa.Column("end_to_end_id", sa.String(200)),
        sa.Column("creditor_reference", sa.String(60)),
        sa.Column("remittance", sa.Text),
        sa.Column("return_reason", sa.String(40)),
        sa.Column("status", sa.String(40), nullable=False),
        sa.Column("rule", sa.String(40)),
        sa.Column("invoice_id", postgresql.UUID(as_uuid=True), sa.ForeignKey("invoices.id")),
        sa.Column("payment_id", postgresql.UUID(as_uuid=True), sa.ForeignKey("payments.id")),
    )
    op.create_index("ix_bank_transactions_statement_id", "bank_transactions", ["statement_id"])
    op.create_index("ix_bank_transactions_status", "bank_transactions", ["status"])
    op.create_index("ix_bank_transactions_created_at", "bank_transactions", ["created_at"])


def downgrade() -> None:
    if op.get_bind().execute(sa.text("SELECT EXISTS (SELECT FROM bank_statements)")).scalar():
        raise RuntimeError("bank statements are held: they are the bank's record of cash, not to be dropped")
    op.drop_table("bank_transactions")
    op.drop_table("bank_statements")
