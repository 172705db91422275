"""Settings an admin maintains (stage probabilities, decision thresholds, review and approval
policy, account codes), kept the same way in every service: one JSON document per policy name,
each change a new numbered version with who set it and when, the highest in force, the others its
history. Version 0 is the built-in default and is never stored.

The domain decides what a document means (`ContractPolicy.from_json`, ...); this module only
keeps versions, and refuses a change based on a version that is no longer the latest.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Column, DateTime, Integer, MetaData, String, Table, select
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.ext.asyncio import AsyncSession

from ltc.shared.rules import require_version

policy_metadata = MetaData()

policy_versions = Table(
    "policy_versions",
    policy_metadata,
    Column("name", String(100), primary_key=True),
    Column("version", Integer, primary_key=True),
    Column("document", JSONB, nullable=False),
    Column("set_by", String(200), nullable=False),
    Column("set_at", DateTime(timezone=True), nullable=False),
)


def create_policy_versions(op: Any) -> None:
    """Called from each service's migration that introduces the shared policy store."""
    policy_metadata.create_all(op.get_bind())


def drop_policy_versions(op: Any) -> None:
    policy_versions.drop(op.get_bind())


@dataclass(frozen=True)
class PolicyVersion:
    name: str
    version: int
    document: Any
    set_by: str | None
    set_at: datetime | None


async def current_policy(session: AsyncSession, name: str, default: Any) -> PolicyVersion:
    """The version in force; `default` as version 0 until an admin sets one."""
    row = (await session.execute(select(policy_versions).where(policy_versions.c.name == name)
                                 .order_by(policy_versions.c.version.desc()).limit(1))).first()
    if row is None:
        return PolicyVersion(name, 0, default, None, None)
    return PolicyVersion(row.name, row.version, row.document, row.set_by, row.set_at)


async def set_policy(session: AsyncSession, name: str, document: Any, *, expected_version: int | None, by: str,
                     at: datetime) -> PolicyVersion:
    """Store `document` as the version after the one in force. `expected_version` (the version the
    admin read) must still be the latest: else `StaleVersion` (412), and nothing is written; a
    concurrent setter of the same version loses the same way (the primary key decides)."""
    latest = (await session.execute(select(policy_versions.c.version).where(policy_versions.c.name == name)
                                    .order_by(policy_versions.c.version.desc()).limit(1))).scalar()
    latest = latest or 0
    require_version(latest, expected_version, what=f"the {name} policy")
    inserted = await session.execute(
        pg_insert(policy_versions).values(name=name, version=latest + 1, document=document, set_by=by, set_at=at)
        .on_conflict_do_nothing().returning(policy_versions.c.version))
    if inserted.first() is None:
        require_version(latest + 1, latest, what=f"the {name} policy")
    return PolicyVersion(name, latest + 1, document, by, at)


async def policy_history(session: AsyncSession, name: str) -> list[PolicyVersion]:
    rows = await session.execute(select(policy_versions).where(policy_versions.c.name == name)
                                 .order_by(policy_versions.c.version))
    return [PolicyVersion(r.name, r.version, r.document, r.set_by, r.set_at) for r in rows]
