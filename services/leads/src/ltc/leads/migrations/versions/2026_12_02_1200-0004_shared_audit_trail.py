"""The audit trail moves into the shared `audit_trail` table; `audit_log` is copied there and dropped.

Each old entry keeps its id, time, actor, action and changes; its entity becomes the object it is
about, and its lead and account (other than the object itself) the aggregates it is filed under.
Entries are copied in the order the history endpoints showed them (time, then id), so that order
is the new table's `seq`.

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-02
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import JSONB, UUID

from ltc.shared.db import create_audit_trail, drop_audit_trail

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    create_audit_trail(op)
    # array_remove drops the missing lead or account (NULL) and the object itself; an entry's lead
    # and account are never the same id.
    op.execute("""
        INSERT INTO audit_trail (id, at, actor, action, object_type, object_id, filed_under, changes, correlation_id)
        SELECT id, at, actor, action, entity, entity_id,
               array_remove(array_remove(ARRAY[lead_id, account_id], NULL), entity_id), changes, NULL
        FROM audit_log
        ORDER BY at, id
    """)
    op.drop_table("audit_log")


# How the leads service files each kind of entry (ltc.leads.handlers._audit): the old columns follow.
_LEAD_ID = """CASE WHEN object_type = 'lead' THEN object_id
                   WHEN object_type = 'activity' AND cardinality(filed_under) = 2 THEN filed_under[1] END"""
_ACCOUNT_ID = """CASE WHEN object_type = 'account' THEN object_id ELSE filed_under[cardinality(filed_under)] END"""
_FILED_AS_THE_OLD_LOG_CAN_SAY = """
    (object_type = 'account' AND cardinality(filed_under) = 0)
    OR (object_type IN ('contact', 'lead') AND cardinality(filed_under) = 1)
    OR (object_type = 'activity' AND cardinality(filed_under) IN (1, 2))"""


def downgrade() -> None:
    """Back to `audit_log`, entry for entry; the correlation ids, which it has no column for, are lost.
    Refuses if an entry is filed in a way the old columns (one lead, one account) cannot hold."""
    unfit = op.get_bind().execute(sa.text(
        f"SELECT count(*) FROM audit_trail WHERE NOT ({_FILED_AS_THE_OLD_LOG_CAN_SAY})")).scalar()
    if unfit:
        raise RuntimeError(f"{unfit} audit entries are filed under aggregates audit_log has no column for; "
                           "downgrading would lose where they belong, so 0004 is not undone")
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
    op.execute(f"""
        INSERT INTO audit_log (id, entity, entity_id, lead_id, account_id, action, actor, at, changes)
        SELECT id, object_type, object_id, {_LEAD_ID}, {_ACCOUNT_ID}, action, actor, at, changes
        FROM audit_trail
    """)
    drop_audit_trail(op)
