"""Full leads stage: account details, contacts, activities, pain points, lead outcome, audit log.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-27
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import JSONB, UUID

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("accounts", sa.Column("tier", sa.String(40), nullable=False, server_default="normal"))
    op.add_column("accounts", sa.Column("region", sa.String(120)))
    op.add_column("accounts", sa.Column("website", sa.String(300)))
    op.add_column("accounts", sa.Column("notes", sa.Text))
    op.add_column("accounts", sa.Column("updated_at", sa.DateTime(timezone=True)))
    op.execute("UPDATE accounts SET updated_at = created_at")
    op.alter_column("accounts", "updated_at", nullable=False)
    op.alter_column("accounts", "tier", server_default=None)
    op.create_index("ix_accounts_industry", "accounts", ["industry"])
    op.create_index("ix_accounts_tier", "accounts", ["tier"])

    op.alter_column("leads", "owner", nullable=True)
    op.add_column("leads", sa.Column("reported_by", sa.String(300)))
    op.add_column("leads", sa.Column("contact_ids", JSONB, nullable=False, server_default="[]"))
    op.add_column("leads", sa.Column("pains", JSONB, nullable=False, server_default="[]"))
    op.add_column("leads", sa.Column("lost_at", sa.DateTime(timezone=True)))
    op.add_column("leads", sa.Column("lost_reason", sa.Text))
    op.add_column("leads", sa.Column("cash_collected_amount", sa.Numeric(20, 4)))
    op.add_column("leads", sa.Column("cash_collected_currency", sa.String(3)))
    op.add_column("leads", sa.Column("updated_at", sa.DateTime(timezone=True)))
    op.execute("UPDATE leads SET updated_at = created_at")
    op.alter_column("leads", "updated_at", nullable=False)
    op.alter_column("leads", "contact_ids", server_default=None)
    op.alter_column("leads", "pains", server_default=None)

    op.create_table(
        "contacts",
        sa.Column("id", UUID(as_uuid=True), primary_key=True),
        sa.Column("account_id", UUID(as_uuid=True), sa.ForeignKey("accounts.id"), nullable=False),
        sa.Column("name", sa.String(300), nullable=False),
        sa.Column("title", sa.String(300)),
        sa.Column("decision_role", sa.String(40)),
        sa.Column("kpis", JSONB, nullable=False),
        sa.Column("pains", JSONB, nullable=False),
        sa.Column("communication_style", sa.Text),
        sa.Column("notes", sa.Text),
        sa.Column("email", sa.String(320)),
        sa.Column("phone", sa.String(60)),
        sa.Column("competence_rating", sa.Integer, nullable=False),
        sa.Column("reliability_rating", sa.Integer, nullable=False),
        sa.Column("created_by", sa.String(200), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("version", sa.Integer, nullable=False),
    )
    op.create_index("ix_contacts_account_id", "contacts", ["account_id"])
    op.create_index("ix_contacts_created_at", "contacts", ["created_at"])

    op.create_table(
        "activities",
        sa.Column("id", UUID(as_uuid=True), primary_key=True),
        sa.Column("kind", sa.String(40), nullable=False),
        sa.Column("account_id", UUID(as_uuid=True), sa.ForeignKey("accounts.id"), nullable=False),
        sa.Column("lead_id", UUID(as_uuid=True), sa.ForeignKey("leads.id")),
        sa.Column("contact_ids", JSONB, nullable=False),
        sa.Column("subject", sa.String(300), nullable=False),
        sa.Column("planned_on", sa.Date),
        sa.Column("plan", JSONB),
        sa.Column("outcome", JSONB),
        sa.Column("status", sa.String(40), nullable=False),
        sa.Column("occurred_on", sa.Date),
        sa.Column("created_by", sa.String(200), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("version", sa.Integer, nullable=False),
    )
    for column in ("account_id", "lead_id", "created_at"):
        op.create_index(f"ix_activities_{column}", "activities", [column])
    op.create_index("ix_activities_contact_ids", "activities", ["contact_ids"], postgresql_using="gin")

    op.create_table(
        "audit_log",
        sa.Column("id", UUID(as_uuid=True), primary_key=True),
        sa.Column("entity", sa.String(40), nullable=False),
        sa.Column("entity_id", UUID(as_uuid=True), nullable=False),
        sa.Column("lead_id", UUID(as_uuid=True)),
        sa.Column("account_id", UUID(as_uuid=True)),
        sa.Column("action", sa.String(80), nullable=False),
        sa.Column("actor", sa.String(200), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("changes", JSONB, nullable=False),
    )
    for column in ("entity_id", "lead_id", "account_id"):
        op.create_index(f"ix_audit_log_{column}", "audit_log", [column])


def downgrade() -> None:
    op.drop_table("audit_log")
    op.drop_table("activities")
    op.drop_table("contacts")
    for column in ("updated_at", "cash_collected_currency", "cash_collected_amount", "lost_reason", "lost_at", "pains", "contact_ids", "reported_by"):
        op.drop_column("leads", column)
    op.alter_column("leads", "owner", nullable=False)
    op.drop_index("ix_accounts_tier", "accounts")
    op.drop_index("ix_accounts_industry", "accounts")
    for column in ("updated_at", "notes", "website", "region", "tier"):
        op.drop_column("accounts", column)
