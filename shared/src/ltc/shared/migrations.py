"""Alembic plumbing: each service's `migrations/env.py` calls `run_migrations`, and the service
runs `upgrade_to_head` before it serves."""

from __future__ import annotations

import asyncio
from pathlib import Path

from alembic import command, context
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Connection, MetaData, pool
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

from ltc.shared.db import plumbing_metadata


def alembic_config(service_dir: Path, database_url: str) -> Config:
    config = Config(str(service_dir / "alembic.ini"))
    config.set_main_option("script_location", str(service_dir / "migrations"))
    config.set_main_option("sqlalchemy.url", database_url.replace("%", "%%"))
    return config


def upgrade_to_head(service_dir: Path, database_url: str) -> None:
    command.upgrade(alembic_config(service_dir, database_url), "head")


def head_revision(service_dir: Path) -> str | None:
    return ScriptDirectory.from_config(alembic_config(service_dir, "postgresql+asyncpg://unused")).get_current_head()


async def current_revision(engine: AsyncEngine) -> str | None:
    async with engine.connect() as conn:
        return await conn.run_sync(lambda sync: MigrationContext.configure(sync).get_current_revision())


def run_migrations(target_metadata: MetaData, *shared: MetaData) -> None:
    """Body of every service's env.py (online mode, async engine). `shared`: the shared tables
    the service's migrations created besides the plumbing (`audit_metadata`, `policy_metadata`)."""
    url = context.config.get_main_option("sqlalchemy.url")
    assert url, "sqlalchemy.url must be set by alembic_config()"

    def _do(connection: Connection) -> None:
        # The plumbing tables live in every service's database too: without them here,
        # autogenerate would propose dropping them.
        context.configure(connection=connection, target_metadata=[target_metadata, plumbing_metadata, *shared],
                          compare_type=True)
        with context.begin_transaction():
            context.run_migrations()

    async def _run() -> None:
        engine = create_async_engine(url, poolclass=pool.NullPool)
        async with engine.connect() as connection:
            await connection.run_sync(_do)
        await engine.dispose()

    asyncio.run(_run())
