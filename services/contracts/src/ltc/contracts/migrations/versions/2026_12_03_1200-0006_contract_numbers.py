"""Contract numbers: every contract gets `CON-<year>-<6 digits>`, gap-free per calendar year of drafting.

The contracts already there are numbered in the order they were drafted (created_at, then id),
per the UTC year of their drafting, as the service numbers them (`ltc.contracts.domain.model.
contract_number`); each year's counter in `contract_sequences` continues after the last of them.

The downgrade drops the numbers and the counters.

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-03
"""

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None

# The year of drafting as the service takes it (its clock is UTC).
_YEAR = "EXTRACT(YEAR FROM created_at AT TIME ZONE 'UTC')::int"


def upgrade() -> None:
    op.create_table(
        "contract_sequences",
        sa.Column("year", sa.Integer, primary_key=True, autoincrement=False),
        sa.Column("last_number", sa.Integer, nullable=False),
    )
    op.add_column("contracts", sa.Column("number", sa.String(40)))
    op.execute(f"""
        WITH numbered AS (
            SELECT id, {_YEAR} AS year,
                   row_number() OVER (PARTITION BY {_YEAR} ORDER BY created_at, id) AS sequence
            FROM contracts
        )
        UPDATE contracts c
        SET number = 'CON-' || n.year || '-' || lpad(n.sequence::text, greatest(6, length(n.sequence::text)), '0')
        FROM numbered n WHERE n.id = c.id
    """)
    op.execute(f"""
        INSERT INTO contract_sequences (year, last_number)
        SELECT {_YEAR}, count(*) FROM contracts GROUP BY {_YEAR}
    """)
    op.alter_column("contracts", "number", nullable=False)
    op.create_unique_constraint("uq_contracts_number", "contracts", ["number"])


def downgrade() -> None:
    op.drop_constraint("uq_contracts_number", "contracts", type_="unique")
    op.drop_column("contracts", "number")
    op.drop_table("contract_sequences")
