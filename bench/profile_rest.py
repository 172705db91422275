"""Profile the slowest REST path, POST /api/v1/leads, in-process with pyinstrument.

Starts its own PostgreSQL (no Kafka: the relay and consumer are off), migrates a leads database,
serves the leads app through httpx's ASGI transport, posts --count leads sequentially and writes
the profile to bench/out/profile-leads.html (and a text summary to stdout).

    uv run python bench/profile_rest.py [--count 500]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import re
import sys
import tempfile
import time
import uuid
from pathlib import Path

import httpx
from pyinstrument import Profiler
from sqlalchemy import event

sys.path.insert(0, str(Path(__file__).resolve().parent))

from suite import AR, ROOT, free_port, ok  # noqa: E402

from ltc.leads.bootstrap import SPEC  # noqa: E402
from ltc.shared.devstack.postgres import LocalPostgres, ensure_database  # noqa: E402
from ltc.shared.migrations import upgrade_to_head  # noqa: E402
from ltc.shared.service import create_app  # noqa: E402
from ltc.shared.settings import ServiceSettings  # noqa: E402


def by_library(profiler: Profiler) -> str:
    """Self time summed per library (sqlalchemy, fastapi, ltc...): where a request's CPU goes."""
    totals: dict[str, float] = {}

    def walk(frame, parent: str) -> None:  # noqa: ANN001
        path = frame.file_path or ""
        match = re.search(r"site-packages/([A-Za-z0-9_]+)", path) or re.search(r"/(ltc)/", path)
        if match:
            library = match.group(1)
        elif "asyncio" in path or "selectors" in path:
            library = "asyncio"
        elif not path or path.startswith("<built-in"):
            library = parent  # [self] and C functions: the caller's library
        else:
            library = "stdlib/other"
        totals[library] = totals.get(library, 0.0) + frame.total_self_time
        for child in frame.children:
            walk(child, library)

    root = profiler.last_session.root_frame()
    walk(root, "stdlib/other")
    whole = sum(totals.values()) or 1.0
    rows = sorted(totals.items(), key=lambda kv: -kv[1])[:12]
    return "self time by library: " + ", ".join(f"{name} {value / whole:.0%}" for name, value in rows)


async def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--count", type=int, default=500)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="ltc-profile-") as tmp:
        postgres = LocalPostgres(Path(tmp) / "postgres", free_port())
        postgres.start()
        try:
            url = await ensure_database(postgres.admin_dsn, "profile_leads", "profile-leads")
            await asyncio.to_thread(upgrade_to_head, SPEC.service_dir, url)
            settings = ServiceSettings(service_name="leads", database_url=url, run_workers=False, log_json=True)
            app = create_app(SPEC, settings)
            async with app.router.lifespan_context(app), httpx.AsyncClient(
                    transport=httpx.ASGITransport(app=app), base_url="http://leads") as client:
                account = ok(await client.post("/api/v1/accounts", json={"name": "Profile Co"}, headers=AR), 201)

                async def post() -> None:
                    ok(await client.post("/api/v1/leads", headers={**AR, "Idempotency-Key": str(uuid.uuid4())}, json={
                        "account_id": account["id"], "title": "Core network rollout", "need": "capacity",
                        "channel": "routine_visit", "confirm_distinct": True}), 201)

                for _ in range(50):
                    await post()
                statements: list[str] = []

                def count(_conn, _cursor, statement, *_rest) -> None:  # noqa: ANN001
                    statements.append(" ".join(statement.split()[:3]))

                engine = app.state.runtime.engine.sync_engine
                event.listen(engine, "before_cursor_execute", count)
                await post()
                event.remove(engine, "before_cursor_execute", count)
                profiler = Profiler(async_mode="disabled")
                profiler.start()
                loop = asyncio.get_running_loop()
                began, cpu_began = loop.time(), time.process_time()
                for _ in range(args.count):
                    await post()
                elapsed, cpu = loop.time() - began, time.process_time() - cpu_began
                profiler.stop()
        finally:
            postgres.stop()
    out = ROOT / "bench/out"
    out.mkdir(parents=True, exist_ok=True)
    (out / "profile-leads.html").write_text(profiler.output_html())
    print(profiler.output_text(unicode=True, show_all=bool(os.environ.get("PROFILE_ALL"))))
    print(by_library(profiler))
    print(f"SQL statements of one POST /api/v1/leads ({len(statements)}, pre-ping excluded): {statements}")
    print(f"{args.count} sequential POST /api/v1/leads in {elapsed:.2f} s: {elapsed / args.count * 1000:.2f} ms each, "
          f"{cpu / args.count * 1000:.2f} ms of this process's CPU (client included); "
          f"profile in {out / 'profile-leads.html'}")


if __name__ == "__main__":
    asyncio.run(main())
