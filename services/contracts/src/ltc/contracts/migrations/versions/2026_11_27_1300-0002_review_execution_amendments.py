"""Quality review, legal terms, line items, FR owner, contract versions, amendments, audit, policy.

Existing contracts get version 1 with its snapshot, and every instalment its amount in money
(the schedule is now stored: after an amendment it is no longer the plain split of the value).

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-27
"""

import json
from datetime import UTC, datetime
from decimal import Decimal

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import JSONB, UUID

from ltc.shared.money import Money

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    empty_list = sa.text("'[]'::jsonb")
    op.add_column("contracts", sa.Column("line_items", JSONB, nullable=False, server_default=empty_list))
    op.add_column("contracts", sa.Column("legal_terms", JSONB, nullable=False, server_default=sa.text("'{}'::jsonb")))
    op.add_column("contracts", sa.Column("fr_owner", sa.String(200)))
    op.add_column("contracts", sa.Column("contract_version", sa.Integer, nullable=False, server_default="1"))
    op.add_column("contracts", sa.Column("reviews", JSONB, nullable=False, server_default=empty_list))
    op.add_column("contracts", sa.Column("amendments", JSONB, nullable=False, server_default=empty_list))
    op.add_column("contracts", sa.Column("updated_at", sa.DateTime(timezone=True)))
    op.execute("UPDATE contracts SET updated_at = created_at")
    op.alter_column("contracts", "updated_at", nullable=False)
    for column in ("line_items", "legal_terms", "contract_version", "reviews", "amendments"):
        op.alter_column("contracts", column, server_default=None)
    op.create_index("ix_contracts_fr_owner", "contracts", ["fr_owner"])

    versions = op.create_table(
        "contract_versions",
        sa.Column("contract_id", UUID(as_uuid=True), primary_key=True),
        sa.Column("contract_version", sa.Integer, primary_key=True),
        sa.Column("terms", JSONB, nullable=False),
        sa.Column("change", sa.String(40), nullable=False),
        sa.Column("reason", sa.Text),
        sa.Column("amendment_id", UUID(as_uuid=True)),
        sa.Column("created_by", sa.String(200), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_table(
        "contract_audit",
        sa.Column("seq", sa.BigInteger, sa.Identity(always=True), primary_key=True),
        sa.Column("contract_id", UUID(as_uuid=True), nullable=False),
        sa.Column("action", sa.String(60), nullable=False),
        sa.Column("actor", sa.String(200), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("details", JSONB, nullable=False),
    )
    op.create_index("ix_contract_audit_contract_id", "contract_audit", ["contract_id"])
    op.create_table(
        "contract_policy",
        sa.Column("version", sa.Integer, primary_key=True),
        sa.Column("document", JSONB, nullable=False),
        sa.Column("updated_by", sa.String(200), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
    )
    _backfill(versions)


def _backfill(versions: sa.Table) -> None:
    bind = op.get_bind()
    rows = bind.execute(sa.text(
        "SELECT id, title, value_amount, value_currency, payment_terms, milestones, created_at FROM contracts"))
    snapshots = []
    for row in rows:
        value = Money(row.value_amount, row.value_currency)
        amounts = value.split([Decimal(t["percent"]) for t in row.payment_terms])
        terms = [{**t, "due_date": None, "amount": str(a.amount)} for t, a in zip(row.payment_terms, amounts,
                                                                                   strict=True)]
        bind.execute(sa.text("UPDATE contracts SET payment_terms = CAST(:terms AS jsonb) WHERE id = :id"),
                     {"terms": json.dumps(terms), "id": row.id})
        snapshots.append({
            "contract_id": row.id, "contract_version": 1, "change": "drafted", "reason": None, "amendment_id": None,
            "created_by": "migration", "created_at": datetime.now(UTC),
            "terms": {"title": row.title, "value": value.to_json(), "line_items": [], "payment_terms": terms,
                      "milestones": [{"name": m["name"], "planned_date": m["planned_date"],
                                      "acceptance_type": m["acceptance_type"], "owner": None}
                                     for m in row.milestones],
                      "legal_terms": {}},
        })
    if snapshots:
        op.bulk_insert(versions, snapshots)


def downgrade() -> None:
    for table in ("contract_policy", "contract_audit", "contract_versions"):
        op.drop_table(table)
    op.drop_index("ix_contracts_fr_owner", "contracts")
    for column in ("updated_at", "amendments", "reviews", "contract_version", "fr_owner", "legal_terms",
                   "line_items"):
        op.drop_column("contracts", column)
