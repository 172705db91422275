"""The shared audit trail and policy store: audit_log and configuration move into them.

Every audit_log row becomes an audit_trail entry with the same seq (so the order is the old one),
at, actor, action and detail (as changes), no correlation id. A row about an opportunity is filed
as object_type 'opportunity' with object_id the opportunity; a row without one (an admin's
configuration change, action 'configure-<key>') as object_type 'policy' with object_id uuid5 of
the URL https://ltc.example/policies/<key> (ltc.opportunities.adapters.queries.policy_object_id).

Each configuration row becomes version <its version> of the policy <its key>, set by its
updated_by at its updated_at. configuration kept only the latest value, so that is all the
history a policy has of the time before this revision.

The downgrade copies back: audit entries into audit_log (the entry ids are lost, the policies'
object ids become NULL again), and the latest version of each policy into configuration (older
versions are lost: configuration cannot hold them).

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-01
"""

import uuid

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import JSONB, UUID

from ltc.shared.db import create_audit_trail, drop_audit_trail
from ltc.shared.policy import create_policy_versions

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def _policy_object_id(key: str) -> uuid.UUID:
    # Written out here, not imported: a revision keeps meaning what it meant when it shipped.
    return uuid.uuid5(uuid.NAMESPACE_URL, f"https://ltc.example/policies/{key}")


def upgrade() -> None:
    bind = op.get_bind()
    create_audit_trail(op)
    create_policy_versions(op)

    unfiled = [row.action for row in bind.execute(sa.text(
        "SELECT DISTINCT action FROM audit_log WHERE opportunity_id IS NULL ORDER BY action"))]
    policies = sa.table("policy_objects", sa.column("action", sa.Text), sa.column("object_id", UUID(as_uuid=True)))
    bind.execute(sa.text("CREATE TEMPORARY TABLE policy_objects (action text PRIMARY KEY, object_id uuid NOT NULL)"))
    if unfiled:
        bind.execute(policies.insert(), [{"action": action,
                                          "object_id": _policy_object_id(action.removeprefix("configure-"))}
                                         for action in unfiled])
    # OVERRIDING SYSTEM VALUE keeps each row's seq: the trail's order is exactly the log's.
    bind.execute(sa.text(
        "INSERT INTO audit_trail (seq, id, at, actor, action, object_type, object_id, filed_under, changes,"
        " correlation_id) OVERRIDING SYSTEM VALUE"
        " SELECT l.seq, gen_random_uuid(), l.at, l.actor, l.action,"
        "  CASE WHEN l.opportunity_id IS NULL THEN 'policy' ELSE 'opportunity' END,"
        "  COALESCE(l.opportunity_id, p.object_id), '{}', l.detail, NULL"
        " FROM audit_log l LEFT JOIN policy_objects p ON l.opportunity_id IS NULL AND p.action = l.action"
        " ORDER BY l.seq"))
    bind.execute(sa.text("DROP TABLE policy_objects"))
    bind.execute(sa.text(
        "SELECT setval(pg_get_serial_sequence('audit_trail', 'seq'), COALESCE(max(seq), 1), max(seq) IS NOT NULL)"
        " FROM audit_trail"))
    op.drop_table("audit_log")

    bind.execute(sa.text(
        "INSERT INTO policy_versions (name, version, document, set_by, set_at)"
        " SELECT key, version, value, updated_by, updated_at FROM configuration"))
    op.drop_table("configuration")


def downgrade() -> None:
    bind = op.get_bind()
    op.create_table(
        "audit_log",
        sa.Column("seq", sa.BigInteger, sa.Identity(always=True), primary_key=True),
        sa.Column("opportunity_id", UUID(as_uuid=True)),
        sa.Column("actor", sa.String(200), nullable=False),
        sa.Column("action", sa.String(100), nullable=False),
        sa.Column("detail", JSONB, nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("ix_audit_log_opportunity_id", "audit_log", ["opportunity_id"])
    bind.execute(sa.text(
        "INSERT INTO audit_log (seq, opportunity_id, actor, action, detail, at) OVERRIDING SYSTEM VALUE"
        " SELECT seq, CASE WHEN object_type = 'opportunity' THEN object_id END, actor, action, changes, at"
        " FROM audit_trail ORDER BY seq"))
    bind.execute(sa.text(
        "SELECT setval(pg_get_serial_sequence('audit_log', 'seq'), COALESCE(max(seq), 1), max(seq) IS NOT NULL)"
        " FROM audit_log"))
    drop_audit_trail(op)

    op.create_table(
        "configuration",
        sa.Column("key", sa.String(100), primary_key=True),
        sa.Column("value", JSONB, nullable=False),
        sa.Column("version", sa.Integer, nullable=False),
        sa.Column("updated_by", sa.String(200), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
    )
    bind.execute(sa.text(
        "INSERT INTO configuration (key, value, version, updated_by, updated_at)"
        " SELECT DISTINCT ON (name) name, document, version, set_by, set_at FROM policy_versions"
        " ORDER BY name, version DESC"))
    op.drop_table("policy_versions")
