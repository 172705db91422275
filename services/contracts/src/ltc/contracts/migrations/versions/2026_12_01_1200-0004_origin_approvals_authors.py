"""Controls: a contract's origin, the authors of its terms, the approvals of its versions, its signer.

Contracts drafted before come from an opportunity. Version 1 of a draft made from `opportunity.won`
(its creator is the event's source) carries the ATC approval; a draft typed in through the API
for an opportunity carries none, so it needs an approval before it can be signed.

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-01
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import JSONB

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("contracts", sa.Column("origin", sa.String(40), nullable=False, server_default="opportunity"))
    op.add_column("contracts", sa.Column("authors", JSONB, nullable=False, server_default=sa.text("'[]'::jsonb")))
    op.add_column("contracts", sa.Column("approvals", JSONB, nullable=False, server_default=sa.text("'[]'::jsonb")))
    op.add_column("contracts", sa.Column("signed_by", sa.String(200)))
    op.execute("UPDATE contracts SET authors = jsonb_build_array(owner)")
    op.execute("""
        UPDATE contracts c SET approvals = jsonb_build_array(jsonb_build_object(
            'contract_version', 1, 'source', 'atc', 'tier', NULL, 'status', 'approved', 'decisions', '[]'::jsonb))
        FROM contract_versions v
        WHERE v.contract_id = c.id AND v.contract_version = 1 AND v.created_by LIKE '%opportunity.won%'
    """)
    for column in ("origin", "authors", "approvals"):
        op.alter_column("contracts", column, server_default=None)
    op.alter_column("contracts", "opportunity_id", nullable=True)


def downgrade() -> None:
    # Fails while direct contracts exist (they have no opportunity): a downgrade never drops them.
    op.alter_column("contracts", "opportunity_id", nullable=False)
    for column in ("signed_by", "approvals", "authors", "origin"):
        op.drop_column("contracts", column)
