"""The bare baseline of the REST-write benchmark: one FastAPI endpoint, one asyncpg INSERT.

Run by bench/suite.py as its own process with the same server settings as a service
(`uvicorn.run`, one worker, default loop, log level warning, no access log) and a pool of the
same size (LTC_DB_POOL_SIZE, default 10), so the ratio shows what the service's own work costs.

    BENCH_BASELINE_DSN=postgresql://... BENCH_BASELINE_PORT=8100 python bench/baseline_app.py
"""

from __future__ import annotations

import contextlib
import os
import uuid
from collections.abc import AsyncIterator

import asyncpg
import uvicorn
from fastapi import FastAPI
from pydantic import BaseModel


class LeadIn(BaseModel):
    account_id: uuid.UUID
    title: str
    need: str | None = None
    channel: str
    confirm_distinct: bool = False


@contextlib.asynccontextmanager
async def lifespan(app: FastAPI) -> AsyncIterator[None]:
    size = int(os.environ.get("LTC_DB_POOL_SIZE", "10"))
    app.state.pool = await asyncpg.create_pool(os.environ["BENCH_BASELINE_DSN"], min_size=size, max_size=size)
    async with app.state.pool.acquire() as conn:
        await conn.execute("CREATE TABLE IF NOT EXISTS bench_leads (id uuid PRIMARY KEY, account_id uuid NOT NULL, "
                           "title text NOT NULL, need text, channel text NOT NULL, "
                           "created_at timestamptz NOT NULL DEFAULT now())")
    yield
    await app.state.pool.close()


app = FastAPI(lifespan=lifespan)


@app.get("/readyz")
async def readyz() -> dict[str, str]:
    return {"status": "ready"}


@app.post("/api/v1/leads", status_code=201)
async def create_lead(body: LeadIn) -> dict[str, object]:
    new_id = uuid.uuid4()
    async with app.state.pool.acquire() as conn:
        await conn.execute("INSERT INTO bench_leads (id, account_id, title, need, channel) VALUES ($1, $2, $3, $4, $5)",
                           new_id, body.account_id, body.title, body.need, body.channel)
    return {"id": str(new_id), **body.model_dump(mode="json")}


if __name__ == "__main__":
    uvicorn.run(app, host="127.0.0.1", port=int(os.environ["BENCH_BASELINE_PORT"]), log_level="warning",
                access_log=False)
