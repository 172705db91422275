"""The migrations build exactly the schema the ORM maps: no drift between 0001 + 0002 and the code."""

from __future__ import annotations

import asyncio

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy.ext.asyncio import create_async_engine

from ltc.leads.adapters.orm import metadata
from ltc.leads.bootstrap import SPEC
from ltc.shared.db import plumbing_metadata
from ltc.shared.migrations import upgrade_to_head

pytestmark = pytest.mark.integration


async def test_migrated_schema_matches_the_mapped_tables(make_database):
    url = await make_database("leads_schema")
    await asyncio.to_thread(upgrade_to_head, SPEC.service_dir, url)
    engine = create_async_engine(url)
    try:
        async with engine.connect() as conn:
            diff = await conn.run_sync(lambda sync: compare_metadata(
                MigrationContext.configure(sync, opts={"compare_type": True}), [metadata, plumbing_metadata]))
    finally:
        await engine.dispose()
    assert diff == []
