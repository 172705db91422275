"""Hand-over time of one hop: `lead.converted` committed in leads → opportunity committed in opportunities.

Starts its own PostgreSQL, Kafka and the two services on free ports (so it never disturbs a
running `make run`), prepares N opportunity-grade leads, converts them at a fixed offered rate,
waits for every opportunity, and reads both databases: the hop is the opportunity's `created_at`
minus the lead's `converted_at` (both stamped inside their committing transactions, on the same
clock). Prints p50/p95/p99/max and writes bench/out/hop.json.

    uv run python bench/hop.py [--leads 300] [--rate 50]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import statistics
import tempfile
import time
from pathlib import Path

import asyncpg
import httpx

from ltc.shared.devstack.cli import repo_root
from ltc.shared.devstack.kafka import LocalKafka
from ltc.shared.devstack.postgres import LocalPostgres, ensure_database
from ltc.shared.devstack.services import free_port, running_services
from ltc.shared.kafka import ensure_topics
from ltc.shared.messages import ALL_TOPICS
from ltc.shared.testing.apps import auth

AR = auth("bench-ar", "ar")
EVIDENCE = [{"criterion": c, "source": "bench", "who": "bench", "when": "2026-11-01"}
            for c in ("customer_identified", "purchase_intent", "matching_solution")]


def _percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(q / 100 * len(ordered)) - 1))]


ETAGS: dict[str, str] = {}  # each prepared lead's ETag after its last grade


async def _prepare(client: httpx.AsyncClient, leads_url: str, count: int) -> list[str]:
    semaphore = asyncio.Semaphore(8)

    async def one(index: int) -> str:
        async with semaphore:
            # One account per lead: near-identical open leads on one account are refused as duplicates.
            account = (await client.post(f"{leads_url}/api/v1/accounts", json={"name": f"Bench Co {index}"},
                                         headers=AR)).json()
            response = await client.post(f"{leads_url}/api/v1/leads", headers=AR, json={
                "account_id": account["id"], "title": "Core network rollout", "channel": "routine_visit",
                "need": "capacity"})
            response.raise_for_status()
            lead = response.json()
            response = await client.post(f"{leads_url}/api/v1/leads/{lead['id']}/grade",
                                         headers={**AR, "If-Match": lead["etag"]},
                                         json={"to": "credible", "evidence": EVIDENCE})
            response.raise_for_status()
            response = await client.post(f"{leads_url}/api/v1/leads/{lead['id']}/grade",
                                         headers={**AR, "If-Match": response.json()["etag"]}, json={
                "to": "opportunity", "budget": {"amount": "100000.00", "currency": "EUR"}, "start_date": "2027-01-01"})
            response.raise_for_status()
            ETAGS[lead["id"]] = response.json()["etag"]  # the conversion's If-Match
            return lead["id"]

    return await asyncio.gather(*(one(i) for i in range(count)))


async def _convert_at_rate(client: httpx.AsyncClient, leads_url: str, lead_ids: list[str], rate: float) -> float:
    started = time.monotonic()
    tasks = []
    for index, lead_id in enumerate(lead_ids):
        delay = started + index / rate - time.monotonic()
        if delay > 0:
            await asyncio.sleep(delay)
        tasks.append(asyncio.create_task(client.post(f"{leads_url}/api/v1/leads/{lead_id}/convert",
                                                     headers={**AR, "If-Match": ETAGS[lead_id]})))
    responses = await asyncio.gather(*tasks)
    failed = [r for r in responses if r.status_code != 200]
    if failed:
        raise RuntimeError(f"{len(failed)} conversions failed, e.g. {failed[0].text}")
    return len(lead_ids) / (time.monotonic() - started)


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--leads", type=int, default=300)
    parser.add_argument("--rate", type=float, default=50.0, help="offered conversions per second")
    args = parser.parse_args()
    root = repo_root()
    with tempfile.TemporaryDirectory(prefix="ltc-bench-") as tmp:
        work = Path(tmp)
        kafka = LocalKafka(root / "deploy/local/kafka", work / "kafka", free_port(), free_port())
        postgres = LocalPostgres(work / "postgres", free_port())
        try:
            kafka.start()
            postgres.start()
            await kafka.wait_ready()
            await ensure_topics(kafka.bootstrap_servers, ALL_TOPICS, partitions=3)
            urls = {name: await ensure_database(postgres.admin_dsn, f"bench_{name}", f"bench-{name}")
                    for name in ("leads", "opportunities")}
            ports = {name: free_port() for name in urls}
            async with running_services(bootstrap_servers=kafka.bootstrap_servers, database_urls=urls, ports=ports,
                                        log_dir=work / "logs") as services:
                leads_url = services["leads"].url
                async with httpx.AsyncClient(timeout=30, limits=httpx.Limits(max_connections=64)) as client:
                    lead_ids = await _prepare(client, leads_url, args.leads)
                    achieved = await _convert_at_rate(client, leads_url, lead_ids, args.rate)
                opportunities = await asyncpg.connect(urls["opportunities"].replace("+asyncpg", ""))
                leads = await asyncpg.connect(urls["leads"].replace("+asyncpg", ""))
                try:
                    deadline = time.monotonic() + 120
                    while await opportunities.fetchval("SELECT count(*) FROM opportunities") < len(lead_ids):
                        if time.monotonic() > deadline:
                            raise RuntimeError("not every conversion became an opportunity within 120 s")
                        await asyncio.sleep(0.2)
                    converted = dict(await leads.fetch("SELECT id, converted_at FROM leads WHERE converted_at IS NOT NULL"))
                    created = dict(await opportunities.fetch("SELECT lead_id, created_at FROM opportunities"))
                finally:
                    await opportunities.close()
                    await leads.close()
        finally:
            kafka.stop()
            postgres.stop()

    hops_ms = [(created[lead_id] - converted[lead_id]).total_seconds() * 1000 for lead_id in created]
    result = {
        "machine": {"cores": os.cpu_count(), "python": platform.python_version(), "platform": platform.platform()},
        "conversions": len(hops_ms), "offered_rate_per_s": args.rate, "achieved_rate_per_s": round(achieved, 1),
        "hop_ms": {"p50": round(statistics.median(hops_ms), 1), "p95": round(_percentile(hops_ms, 95), 1),
                   "p99": round(_percentile(hops_ms, 99), 1), "max": round(max(hops_ms), 1),
                   "mean": round(statistics.fmean(hops_ms), 1)},
    }
    out = root / "bench/out"
    out.mkdir(parents=True, exist_ok=True)
    (out / "hop.json").write_text(json.dumps(result, indent=2) + "\n")
    print(f"| conversions | offered/s | achieved/s | hop p50 ms | p95 | p99 | max |\n|---|---|---|---|---|---|---|\n"
          f"| {result['conversions']} | {args.rate:g} | {result['achieved_rate_per_s']} | {result['hop_ms']['p50']} "
          f"| {result['hop_ms']['p95']} | {result['hop_ms']['p99']} | {result['hop_ms']['max']} |")
    print(f"({os.cpu_count()} cores, Python {platform.python_version()}; written to {out / 'hop.json'})")


if __name__ == "__main__":
    asyncio.run(main())
