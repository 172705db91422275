"""Billing plans, instalments, invoices and their numbering, payments and their applications,
and the plumbing tables (outbox, inbox, idempotency keys).

Revision ID: 0001
Revises:
Create Date: 2026-11-27
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import UUID

from ltc.shared.db import create_plumbing_tables

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

MONEY = sa.Numeric(20, 4)


def upgrade() -> None:
    create_plumbing_tables(op)
    op.create_table(
        "billing_plans",
        sa.Column("id", UUID(as_uuid=True), primary_key=True),
        sa.Column("contract_id", UUID(as_uuid=True), nullable=False),
        sa.Column("account_id", UUID(as_uuid=True)),
        sa.Column("lead_id", UUID(as_uuid=True)),
        sa.Column("opportunity_id", UUID(as_uuid=True)),
        sa.Column("signed_on", sa.Date, nullable=False),
        sa.Column("currency", sa.String(3), nullable=False),
        sa.Column("value_amount", MONEY, nullable=False),
        sa.Column("collected_amount", MONEY, nullable=False),
        sa.Column("fully_paid_on", sa.Date),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("version", sa.Integer, nullable=False),
        sa.UniqueConstraint("contract_id", name="uq_billing_plans_contract_id"),
    )
    op.create_index("ix_billing_plans_account_id", "billing_plans", ["account_id"])
    op.create_table(
        "instalments",
        sa.Column("id", UUID(as_uuid=True), primary_key=True),
        sa.Column("plan_id", UUID(as_uuid=True), sa.ForeignKey("billing_plans.id"), nullable=False),
        sa.Column("position", sa.Integer, nullable=False),
        sa.Column("name", sa.String(300), nullable=False),
        sa.Column("percent", sa.Numeric(9, 4), nullable=False),
        sa.Column("amount", MONEY, nullable=False),
        sa.Column("trigger", sa.String(40), nullable=False),
        sa.Column("milestone_id", UUID(as_uuid=True)),
        sa.Column("due_days", sa.Integer, nullable=False),
        sa.Column("status", sa.String(40), nullable=False),
        sa.Column("invoice_id", UUID(as_uuid=True)),
        sa.UniqueConstraint("plan_id", "position", name="uq_instalments_plan_id_position"),
    )
    op.create_table(
        "invoices",
        sa.Column("id", UUID(as_uuid=True), primary_key=True),
        sa.Column("number", sa.String(40), nullable=False),
        sa.Column("contract_id", UUID(as_uuid=True), sa.ForeignKey("billing_plans.contract_id"), nullable=False),
        sa.Column("account_id", UUID(as_uuid=True)),
        sa.Column("lead_id", UUID(as_uuid=True)),
        sa.Column("opportunity_id", UUID(as_uuid=True)),
        sa.Column("instalment_id", UUID(as_uuid=True), sa.ForeignKey("instalments.id"), nullable=False),
        sa.Column("instalment", sa.String(300), nullable=False),
        sa.Column("currency", sa.String(3), nullable=False),
        sa.Column("amount_due", MONEY, nullable=False),
        sa.Column("paid_amount", MONEY, nullable=False),
        sa.Column("issue_date", sa.Date, nullable=False),
        sa.Column("due_date", sa.Date, nullable=False),
        sa.Column("status", sa.String(40), nullable=False),
        sa.Column("paid_on", sa.Date),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("version", sa.Integer, nullable=False),
        sa.UniqueConstraint("number", name="uq_invoices_number"),
        sa.UniqueConstraint("instalment_id", name="uq_invoices_instalment_id"),
    )
    for column in ("contract_id", "account_id", "status", "created_at"):
        op.create_index(f"ix_invoices_{column}", "invoices", [column])
    op.create_table(
        "invoice_sequences",
        sa.Column("year", sa.Integer, primary_key=True, autoincrement=False),
        sa.Column("last_number", sa.Integer, nullable=False),
    )
    op.create_table(
        "payments",
        sa.Column("id", UUID(as_uuid=True), primary_key=True),
        sa.Column("bank_reference", sa.String(200), nullable=False),
        sa.Column("payer", sa.String(300), nullable=False),
        sa.Column("currency", sa.String(3), nullable=False),
        sa.Column("received_amount", MONEY, nullable=False),
        sa.Column("value_date", sa.Date, nullable=False),
        sa.Column("invoice_id", UUID(as_uuid=True), sa.ForeignKey("invoices.id")),
        sa.Column("contract_id", UUID(as_uuid=True), sa.ForeignKey("billing_plans.contract_id"), nullable=False),
        sa.Column("unapplied_amount", MONEY, nullable=False),
        sa.Column("recorded_by", sa.String(200), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.UniqueConstraint("bank_reference", name="uq_payments_bank_reference"),
    )
    op.create_index("ix_payments_contract_id", "payments", ["contract_id"])
    op.create_table(
        "payment_applications",
        sa.Column("id", UUID(as_uuid=True), primary_key=True),
        sa.Column("payment_id", UUID(as_uuid=True), sa.ForeignKey("payments.id"), nullable=False),
        sa.Column("position", sa.Integer, nullable=False),
        sa.Column("invoice_id", UUID(as_uuid=True), sa.ForeignKey("invoices.id"), nullable=False),
        sa.Column("amount", MONEY, nullable=False),
        sa.UniqueConstraint("payment_id", "position", name="uq_payment_applications_payment_id_position"),
    )
    for column in ("payment_id", "invoice_id"):
        op.create_index(f"ix_payment_applications_{column}", "payment_applications", [column])


def downgrade() -> None:
    for table in ("payment_applications", "payments", "invoice_sequences", "invoices", "instalments",
                  "billing_plans", "idempotency_keys", "inbox", "outbox"):
        op.drop_table(table)
