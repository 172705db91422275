"""`make bench`: how fast the system is, each figure beside the raw limit of the part underneath it.

Starts its own PostgreSQL and Kafka on free ports (or uses given ones), the four services, and a
bare FastAPI+asyncpg baseline; then, in one run on this machine:

1. REST write: POST /api/v1/leads vs the baseline's one INSERT, closed loop, N concurrent clients.
2. Event hop: lead.converted committed in leads -> opportunity committed, at fixed offered rates,
   vs the raw aiokafka produce -> consume round trip (same producer settings) at the same rates.
3. Full flows: lead to cash through every REST call and event, at increasing offered rates until
   latency, errors or lost events break; every stage is counted in the databases at the end.
4. Scaling: hop and flows again with a second `ltc-<service> worker` per service (same group).

Warm-up is not counted; each figure is the median of --reps repetitions with its spread
(min-max). Prints one markdown table, writes bench/out/bench.json and bench/out/bench.png.
Bounded in count and time; loopback only; stops by itself.

    uv run python bench/suite.py [--reps 3] [--clients 32] [--rest-seconds 4] [--hop-rates 50,200,500] ...
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import importlib.metadata
import json
import os
import platform
import re
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import asyncpg
import httpx

from ltc.shared.devstack.kafka import LocalKafka
from ltc.shared.devstack.postgres import LocalPostgres, drop_database, ensure_database
from ltc.shared.devstack.services import ServiceProcess, free_port, running_services, spawn, wait_ready
from ltc.shared.kafka import ensure_topics, make_consumer, make_producer
from ltc.shared.messages import ALL_TOPICS
from ltc.shared.testing import deal
from ltc.shared.testing.apps import auth
from ltc.shared.testing.bank import camt053, camt_entry

ROOT = Path(__file__).resolve().parent.parent
SERVICES = ("leads", "opportunities", "contracts", "finance")


AR, SR, FR, FIN = auth("bench-ar", "ar"), auth("bench-sr", "sr"), auth("bench-fr", "fr"), auth("bench-fin", "finance")
APPROVER = {"L1": auth("bench-l1", "approver_l1"), "L2": auth("bench-l2", "approver_l2"),
            "L3": auth("bench-l3", "approver_l3")}
EVIDENCE = [{"criterion": c, "source": "bench", "who": "bench", "when": "2026-11-01"}
            for c in ("customer_identified", "purchase_intent", "matching_solution")]


# --------------------------------------------------------------------------------------------- helpers

def pct(values: list[float], q: float) -> float:
    """Nearest-rank percentile."""
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(q / 100 * len(ordered) + 0.5) - 1))]


SEGMENTS = ("commit_to_acked_p50", "commit_to_consumer_p50", "consumer_p50", "leads_loop_lag_p99_le",
            "opportunities_loop_lag_p99_le")


def latency_summary(values_ms: list[float]) -> dict[str, float]:
    if not values_ms:
        return {"n": 0, "p50": float("nan"), "p99": float("nan"), "max": float("nan")}
    return {"n": len(values_ms), "p50": round(pct(values_ms, 50), 2), "p99": round(pct(values_ms, 99), 2),
            "max": round(max(values_ms), 2)}


def spread(reps: list[dict], key: str) -> dict[str, float]:
    """Median and min-max of one figure over the repetitions."""
    values = [r[key] for r in reps if r.get(key) == r.get(key)]  # drop NaN
    if not values:
        return {"median": float("nan"), "min": float("nan"), "max": float("nan")}
    return {"median": round(statistics.median(values), 2), "min": round(min(values), 2),
            "max": round(max(values), 2)}


def fmt(s: dict[str, float], digits: int = 1) -> str:
    if s["median"] != s["median"]:
        return "n/a"
    if s["min"] == s["max"]:
        return f"{s['median']:.{digits}f}"
    return f"{s['median']:.{digits}f} ({s['min']:.{digits}f}–{s['max']:.{digits}f})"


def log(message: str) -> None:
    print(f"[bench {time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def ok(response: httpx.Response, status: int = 200) -> dict:
    if response.status_code != status:
        raise RuntimeError(f"{response.request.method} {response.request.url.path}: {response.status_code} "
                           f"{response.text[:300]}")
    return response.json()


async def run_at_rate(rate: float, count: int, make: Callable[[int], Awaitable[Any]]) -> list[Any]:
    """Open loop: start `make(i)` at i/rate seconds, whatever the previous ones are doing."""
    started = time.monotonic()
    tasks = []
    for index in range(count):
        delay = started + index / rate - time.monotonic()
        if delay > 0:
            await asyncio.sleep(delay)
        tasks.append(asyncio.create_task(make(index)))
    return await asyncio.gather(*tasks, return_exceptions=True)


def versions() -> dict[str, str]:
    found = {"python": platform.python_version()}
    for package in ("fastapi", "uvicorn", "sqlalchemy", "asyncpg", "aiokafka", "pydantic", "httpx", "uvloop"):
        with contextlib.suppress(importlib.metadata.PackageNotFoundError):
            found[package] = importlib.metadata.version(package)
    pom = (ROOT / "deploy/local/kafka/pom.xml").read_text()
    match = re.search(r"<kafka.version>([^<]+)<", pom)
    found["kafka"] = match.group(1) if match else "?"
    return found


# --------------------------------------------------------------------------------------------- stack

@dataclass
class Stack:
    bootstrap: str
    urls: dict[str, str]  # service -> sqlalchemy URL
    baseline_dsn: str

    def dsn(self, service: str) -> str:
        return self.urls[service].replace("+asyncpg", "")


@contextlib.asynccontextmanager
async def infrastructure(args: argparse.Namespace, work: Path) -> AsyncIterator[Stack]:
    kafka = postgres = None
    created: list[str] = []
    admin = None
    try:
        if args.kafka_bootstrap:
            bootstrap = args.kafka_bootstrap
        else:
            kafka = LocalKafka(ROOT / "deploy/local/kafka", work / "kafka", free_port(), free_port())
            kafka.start()
        if args.pg_admin_dsn:
            admin = args.pg_admin_dsn
        else:
            # Commit timestamps let the hop be measured from commit to commit, as the database saw them.
            postgres = LocalPostgres(work / "postgres", free_port(), settings={"track_commit_timestamp": "on"})
            postgres.start()
            admin = postgres.admin_dsn
        if kafka is not None:
            await kafka.wait_ready()
            bootstrap = kafka.bootstrap_servers
        suffix = uuid.uuid4().hex[:8]
        # Partitions >= the largest number of consumer instances, so the second one gets work.
        await ensure_topics(bootstrap, [*ALL_TOPICS, "bench.raw"], partitions=args.partitions)
        created = [f"bench_{name}_{suffix}" for name in (*SERVICES, "baseline")]
        urls = {name: await ensure_database(admin, f"bench_{name}_{suffix}", f"bench-{name}") for name in SERVICES}
        baseline = await ensure_database(admin, f"bench_baseline_{suffix}", "bench-baseline")
        yield Stack(bootstrap, urls, baseline.replace("+asyncpg", ""))
    finally:
        if postgres is None and admin is not None:  # a server we were lent: leave it as we found it
            for name in created:
                with contextlib.suppress(Exception):
                    await drop_database(admin, name)
        if kafka is not None:
            kafka.stop()
        if postgres is not None:
            postgres.stop()


# --------------------------------------------------------------------------------------------- 1. REST

async def closed_loop(url: str, accounts: list[str], seconds: float) -> dict[str, float]:
    """Each client posts a lead as soon as its previous one answered (its own account: no lock contention)."""
    latencies: list[float] = []
    errors = 0
    deadline = time.monotonic() + seconds

    # One keep-alive connection per client: a shared httpx pool serialises 32 clients on its lock
    # and the generator, not the server, becomes the limit.
    async def one_client(account: str) -> None:
        nonlocal errors
        async with httpx.AsyncClient(timeout=30, limits=httpx.Limits(max_connections=1)) as client:
            while time.monotonic() < deadline:
                body = {"account_id": account, "title": "Core network rollout", "need": "capacity",
                        "channel": "routine_visit", "confirm_distinct": True}
                started = time.perf_counter()
                try:
                    response = await client.post(f"{url}/api/v1/leads", json=body,
                                                 headers={**AR, "Idempotency-Key": str(uuid.uuid4())})
                    if response.status_code == 201:
                        latencies.append((time.perf_counter() - started) * 1000)
                    else:
                        errors += 1
                except httpx.HTTPError:
                    errors += 1

    began = time.monotonic()
    await asyncio.gather(*(one_client(a) for a in accounts))
    elapsed = time.monotonic() - began
    return {"requests": len(latencies), "errors": errors, "rps": round(len(latencies) / elapsed, 1),
            **{k: v for k, v in latency_summary(latencies).items() if k != "n"}}


async def bench_rest(args: argparse.Namespace, services: dict[str, ServiceProcess], baseline_url: str) -> dict:
    leads = services["leads"].url
    async with httpx.AsyncClient(timeout=30) as client:
        accounts = [ok(await client.post(f"{leads}/api/v1/accounts", json={"name": f"Rest Co {i}"}, headers=AR), 201)["id"]
                    for i in range(args.clients)]
    result: dict[str, Any] = {"clients": args.clients, "seconds": args.rest_seconds}
    for name, url in (("baseline", baseline_url), ("service", leads)):
        log(f"REST write: {name}, warm-up")
        await closed_loop(url, accounts, args.warmup_seconds)
        reps = []
        part = "baseline" if name == "baseline" else "leads"
        for rep in range(args.reps):
            cpu_before = cpu_by_process()
            reps.append(await closed_loop(url, accounts, args.rest_seconds))
            # Server CPU per request: steadier than req/s when the two cores are shared unevenly.
            reps[-1]["cpu_ms"] = round(cpu_used(cpu_before, cpu_by_process()).get(part, 0.0) * 1000
                                       / max(1, reps[-1]["requests"]), 2)
            log(f"REST write: {name} rep {rep + 1}: {reps[-1]}")
        result[name] = {"reps": reps, **{k: spread(reps, k) for k in ("rps", "p50", "p99", "cpu_ms")}}
    return result


# --------------------------------------------------------------------------------------------- 2. hop

async def raw_round_trip(bootstrap: str, rate: float, count: int, topic: str) -> dict[str, float]:
    """aiokafka produce (the relay's producer settings) -> consume (the services' consumer settings)."""
    run = uuid.uuid4().hex.encode()
    producer = make_producer(bootstrap)
    consumer = make_consumer(bootstrap, f"bench-raw-{run.decode()}", topic)
    await producer.start()
    await consumer.start()
    latencies: list[float] = []
    try:
        # Position at the end of every partition before producing, so only this run is seen.
        while not consumer.assignment():
            await consumer.getmany(timeout_ms=100)
        await consumer.seek_to_end()
        for tp in consumer.assignment():
            await consumer.position(tp)

        async def receive() -> None:
            while len(latencies) < count:
                batches = await consumer.getmany(timeout_ms=100, max_records=500)
                now = time.time_ns()
                for records in batches.values():
                    for record in records:
                        headers = dict(record.headers)
                        if headers.get("run") == run:
                            latencies.append((now - int(headers["ts"])) / 1e6)

        receiver = asyncio.create_task(receive())

        async def send(index: int) -> None:
            delivery = await producer.send(topic, value=b"{}", key=str(uuid.uuid4()).encode(),
                                           headers=[("run", run), ("ts", str(time.time_ns()).encode())])
            await delivery

        await run_at_rate(rate, count, send)
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(receiver, 30)
    finally:
        await consumer.stop()
        await producer.stop()
    return {"offered": rate, "lost": count - len(latencies), **latency_summary(latencies)}


# The ETag of each prepared lead as its last grade left it: the conversion's If-Match.
PREPARED_ETAGS: dict[str, str] = {}


async def prepare_leads(leads_url: str, count: int, concurrency: int = 16) -> list[str]:
    """Opportunity-grade leads, ready to convert (one account per preparing client)."""
    async with httpx.AsyncClient(timeout=60, limits=httpx.Limits(max_connections=concurrency)) as client:
        accounts = [ok(await client.post(f"{leads_url}/api/v1/accounts", json={"name": f"Hop Co {uuid.uuid4().hex[:8]}"},
                                         headers=AR), 201)["id"] for _ in range(concurrency)]
        queue = list(range(count))
        ids: list[str] = []

        async def worker(account: str) -> None:
            while queue:
                queue.pop()
                lead = ok(await client.post(f"{leads_url}/api/v1/leads", headers=AR, json={
                    "account_id": account, "title": "Core network rollout", "channel": "routine_visit",
                    "need": "capacity", "confirm_distinct": True}), 201)
                lead = ok(await client.post(f"{leads_url}/api/v1/leads/{lead['id']}/grade",
                                            headers={**AR, "If-Match": lead["etag"]},
                                            json={"to": "credible", "evidence": EVIDENCE}))
                lead = ok(await client.post(f"{leads_url}/api/v1/leads/{lead['id']}/grade",
                                            headers={**AR, "If-Match": lead["etag"]}, json={
                    "to": "opportunity", "budget": {"amount": "100000.00", "currency": "EUR"},
                    "start_date": "2027-01-01"}))
                PREPARED_ETAGS[lead["id"]] = lead["etag"]
                ids.append(lead["id"])

        await asyncio.gather(*(worker(a) for a in accounts))
    return ids


async def loop_lag_buckets(client: httpx.AsyncClient, url: str) -> dict[float, float]:
    """Cumulative bucket counts of a service's ltc_event_loop_lag_seconds histogram."""
    buckets: dict[float, float] = {}
    for line in (await client.get(f"{url}/metrics")).text.splitlines():
        if line.startswith("ltc_event_loop_lag_seconds_bucket"):
            bound = line.split('le="', 1)[1].split('"', 1)[0]
            buckets[float(bound)] = float(line.rsplit(" ", 1)[1])
    return buckets


def lag_p99(before: dict[float, float], after: dict[float, float]) -> float:
    """The bucket bound (ms) under which 99 % of the loop-lag samples between two scrapes fall."""
    delta = {bound: after.get(bound, 0) - before.get(bound, 0) for bound in after}
    total = delta.get(float("inf"), 0)
    if not total:
        return float("nan")
    return next(bound * 1000 for bound in sorted(delta) if delta[bound] >= 0.99 * total)


async def hop_run(stack: Stack, leads_url: str, lead_ids: list[str], rate: float,
                  lag_urls: dict[str, str] | None = None) -> dict[str, float]:
    lag_urls = lag_urls or {}
    async with httpx.AsyncClient(timeout=10) as scraper:
        lag_before = {name: await loop_lag_buckets(scraper, url) for name, url in lag_urls.items()}
    # Several small client pools: one shared httpx pool of hundreds of connections limits the
    # generator before it limits the service.
    async with contextlib.AsyncExitStack() as exits:
        clients = [await exits.enter_async_context(httpx.AsyncClient(timeout=60, limits=httpx.Limits(
            max_connections=32))) for _ in range(8)]

        async def convert(index: int) -> int:
            client = clients[index % len(clients)]
            lead_id = lead_ids[index]
            return (await client.post(f"{leads_url}/api/v1/leads/{lead_id}/convert",
                                      headers={**AR, "If-Match": PREPARED_ETAGS[lead_id]})).status_code

        statuses = await run_at_rate(rate, len(lead_ids), convert)
    errors = sum(1 for s in statuses if s != 200)
    leads = await asyncpg.connect(stack.dsn("leads"))
    opportunities = await asyncpg.connect(stack.dsn("opportunities"))
    try:
        ids = [uuid.UUID(i) for i in lead_ids]
        deadline = time.monotonic() + 60
        while await opportunities.fetchval("SELECT count(*) FROM opportunities WHERE lead_id = ANY($1)", ids) \
                < len(ids) - errors and time.monotonic() < deadline:
            await asyncio.sleep(0.1)
        converted = dict(await leads.fetch("SELECT id, converted_at FROM leads WHERE id = ANY($1) "
                                           "AND converted_at IS NOT NULL", ids))
        created = dict(await opportunities.fetch("SELECT lead_id, created_at FROM opportunities "
                                                 "WHERE lead_id = ANY($1)", ids))
        # Where a hop's time goes: stamped when the broker acknowledged the relay's send, and when
        # the consumer's transaction began (the inbox row is its first statement).
        rows = await leads.fetch("SELECT key, id, sent_at FROM outbox WHERE type = 'ltc.lead.converted.v1' "
                                 "AND key = ANY($1)", [str(i) for i in ids])
        acked = {uuid.UUID(r["key"]): r["sent_at"] for r in rows}
        lead_of_message = {str(r["id"]): uuid.UUID(r["key"]) for r in rows}
        began = {lead_of_message[m]: at for m, at in await opportunities.fetch(
            "SELECT message_id, processed_at FROM inbox WHERE message_id = ANY($1)", list(lead_of_message))}
        measured_by = "handler clocks"
        if await leads.fetchval("SHOW track_commit_timestamp") == "on":
            # From commit to commit as the database recorded them: the conversion's audit row and
            # the consumer's inbox row are written once, in those transactions, and never updated.
            converted = dict(await leads.fetch(
                "SELECT object_id, pg_xact_commit_timestamp(xmin) FROM audit_trail WHERE action = 'converted' "
                "AND object_type = 'lead' AND object_id = ANY($1)", ids))
            created = {lead_of_message[m]: at for m, at in await opportunities.fetch(
                "SELECT message_id, pg_xact_commit_timestamp(xmin) FROM inbox WHERE message_id = ANY($1)",
                list(lead_of_message))}
            measured_by = "commit timestamps"
    finally:
        await leads.close()
        await opportunities.close()
    hops = [(created[i] - converted[i]).total_seconds() * 1000 for i in created if i in converted]

    def segment(ends: dict, starts: dict) -> float:
        values = [(ends[i] - starts[i]).total_seconds() * 1000 for i in ends if i in starts and ends[i] and starts[i]]
        return round(pct(values, 50), 2) if values else float("nan")

    segments = {"commit_to_acked_p50": segment(acked, converted), "commit_to_consumer_p50": segment(began, converted),
                "consumer_p50": segment(created, began)}
    async with httpx.AsyncClient(timeout=10) as scraper:
        for name, url in lag_urls.items():
            segments[f"{name}_loop_lag_p99_le"] = lag_p99(lag_before[name], await loop_lag_buckets(scraper, url))
    stamps = sorted(converted.values())
    achieved = (len(stamps) - 1) / max((stamps[-1] - stamps[0]).total_seconds(), 1e-3) if len(stamps) > 1 else 0.0
    return {"offered": rate, "achieved": round(achieved, 1), "errors": errors, "measured_by": measured_by,
            "lost": len(converted) - len(created), **latency_summary(hops), **segments}


async def bench_hop(args: argparse.Namespace, stack: Stack, urls: dict[str, str], rates: list[float],
                    with_raw: bool) -> dict:
    # At least --hop-min-count conversions per repetition: a p99 of 50 samples is just their maximum.
    counts = {rate: max(args.hop_min_count, round(rate * args.hop_seconds)) for rate in rates}
    warmup = max(5, round(min(rates) * args.warmup_seconds))
    total = warmup + args.reps * sum(counts.values())
    log(f"hop: preparing {total} opportunity-grade leads")
    leads_url = urls["leads"]
    lag_urls = {name: urls[name] for name in ("leads", "opportunities")}
    pool = await prepare_leads(leads_url, total)
    await hop_run(stack, leads_url, [pool.pop() for _ in range(warmup)], min(rates))
    result: dict[str, Any] = {}
    for rate in rates:
        entry: dict[str, Any] = {"count": counts[rate]}
        if with_raw:
            await raw_round_trip(stack.bootstrap, rate, warmup, "bench.raw")
            raw = [await raw_round_trip(stack.bootstrap, rate, counts[rate], "bench.raw") for _ in range(args.reps)]
            entry["raw"] = {"reps": raw, **{k: spread(raw, k) for k in ("p50", "p99", "max")}}
            log(f"raw kafka @{rate:g}/s: p99 {entry['raw']['p99']}")
        hops = [await hop_run(stack, leads_url, [pool.pop() for _ in range(counts[rate])], rate, lag_urls)
                for _ in range(args.reps)]
        entry["hop"] = {"reps": hops, **{k: spread(hops, k) for k in ("p50", "p99", "max", "achieved", *SEGMENTS)}}
        log(f"hop @{rate:g}/s: p99 {entry['hop']['p99']} achieved {entry['hop']['achieved']}; p50 segments "
            + ", ".join(f"{k} {entry['hop'][k]['median']}" for k in SEGMENTS))
        result[str(rate)] = entry
    return result


# --------------------------------------------------------------------------------------------- 3. flows

class FlowDriver:
    """One lead carried to cash, as tests/e2e/test_thin_flow.py does it (REST calls and events only)."""

    def __init__(self, urls: dict[str, str], poll: float, timeout: float) -> None:
        self.api = {name: f"{url}/api/v1" for name, url in urls.items()}
        self.poll = poll
        self.timeout = timeout
        self.calls = 0
        self.lead_ids: list[str] = []

    async def run(self, index: int) -> tuple[str, float]:
        """Returns the lead id and the flow's latency in ms (first call to cash collected seen)."""
        async with httpx.AsyncClient(timeout=30) as client:
            return await _Flow(self, client).run(index)


class _Flow:
    def __init__(self, driver: FlowDriver, client: httpx.AsyncClient) -> None:
        self.driver = driver
        self.api = driver.api
        self.http = client
        self.poll = driver.poll
        self.timeout = driver.timeout
        self.lead_ids = driver.lead_ids

    @property
    def calls(self) -> int:
        return self.driver.calls

    @calls.setter
    def calls(self, value: int) -> None:
        self.driver.calls = value

    async def call(self, method: str, url: str, headers: dict, status: int = 200, **kwargs: Any) -> dict:
        self.calls += 1
        return ok(await self.http.request(method, url, headers=headers, **kwargs), status)

    async def on_contract(self, contract_url: str, etag: str, path: str, headers: dict, **kwargs: Any) -> str:
        """A change of the contract on the version last seen; the ETag it leaves (a GET only when the
        answer was about something else and carried none)."""
        self.calls += 1
        response = await self.http.post(contract_url + path, headers={**headers, "If-Match": etag}, **kwargs)
        ok(response)
        if "ETag" in response.headers:
            return response.headers["ETag"]
        return (await self.call("GET", contract_url, AR))["etag"]

    async def eventually(self, url: str, headers: dict, check: Callable[[dict], bool]) -> dict:
        deadline = time.monotonic() + self.timeout
        while True:
            self.calls += 1
            response = await self.http.get(url, headers=headers)
            if response.status_code == 200 and check(response.json()):
                return response.json()
            if time.monotonic() > deadline:
                raise TimeoutError(f"not reached within {self.timeout} s: GET {url}")
            await asyncio.sleep(self.poll)

    async def run(self, index: int) -> tuple[str, float]:
        leads, opps, contracts, finance = (self.api[s] for s in SERVICES)
        started = time.perf_counter()
        account = await self.call("POST", f"{leads}/accounts", AR, 201, json=deal.account(f"Flow Co {index}"))
        lead = await self.call("POST", f"{leads}/leads", AR, 201, json={
            "account_id": account["id"], "title": "5G core", "need": "capacity for 5G", "channel": "executive_visit",
            "tier": "strategic"})
        lead_id = lead["id"]
        self.lead_ids.append(lead_id)
        lead = await self.call("POST", f"{leads}/leads/{lead_id}/grade", {**AR, "If-Match": lead["etag"]},
                               json={"to": "credible", "evidence": EVIDENCE})
        lead = await self.call("POST", f"{leads}/leads/{lead_id}/grade", {**AR, "If-Match": lead["etag"]}, json={
            "to": "opportunity", "budget": {"amount": "1200000.00", "currency": "EUR"}, "start_date": "2027-01-15"})
        await self.call("POST", f"{leads}/leads/{lead_id}/convert", {**AR, "If-Match": lead["etag"]})

        page = await self.eventually(f"{opps}/opportunities?lead_id={lead_id}", AR, lambda b: len(b["items"]) == 1)
        opportunity_url = f"{opps}/opportunities/{page['items'][0]['id']}"

        opportunity_id = opportunity_url.rsplit("/", 1)[1]
        version: list[str] = []  # the opportunity's ETag as last seen, if the last answer showed it

        async def on_opp(method: str, path: str, body: dict, headers: dict = AR, status: int = 200) -> dict:
            # As a careful client does: If-Match from the last answer that carried the opportunity,
            # a GET only after an answer about something else (a gate, a decision, a stakeholder).
            if not version:
                version.append((await self.call("GET", opportunity_url, AR))["etag"])
            answer = await self.call(method, opportunity_url + path, {**headers, "If-Match": version.pop()},
                                     status, json=body)
            if answer.get("id") == opportunity_id and "etag" in answer:
                version.append(answer["etag"])
            return answer

        await on_opp("PUT", "/team", {"sr": "bench-sr", "fr": "bench-fr"})
        await on_opp("PUT", "/insight", deal.INSIGHT)
        await on_opp("PUT", "/value-proposition", deal.VALUE_PROPOSITION, headers=SR)
        for stakeholder in deal.STAKEHOLDERS:
            await on_opp("POST", "/stakeholders", stakeholder, status=201)
        atb = await on_opp("POST", "/gates", {"gate": "ATB"}, status=201)
        await on_opp("POST", "/decisions", {"gate": "ATB", "outcome": "approved"}, headers=APPROVER[atb["tier"]],
                     status=201)
        for stage in ("strategizing", "bidding"):
            await on_opp("POST", "/stage", {"to": stage})
        await on_opp("PATCH", "/terms", deal.TERMS, headers=SR)
        await on_opp("PATCH", "/terms", deal.milestones(datetime.now(UTC).date()), headers=FR)
        await on_opp("POST", "/stage", {"to": "negotiating"})
        atc = await on_opp("POST", "/gates", {"gate": "ATC"}, status=201)
        await on_opp("POST", "/decisions", {"gate": "ATC", "outcome": "approved"}, headers=APPROVER[atc["tier"]],
                     status=201)
        await on_opp("POST", "/win", {})

        page = await self.eventually(f"{contracts}/contracts?opportunity_id={opportunity_id}", AR,
                                     lambda b: len(b["items"]) == 1)
        contract = page["items"][0]
        contract_url = f"{contracts}/contracts/{contract['id']}"
        today = datetime.now(UTC).date().isoformat()  # dates of record may not lie in the future
        checklist = (await self.call("GET", f"{contract_url}/reviews", AR))["checklist"]
        etag = contract["etag"]
        for function in contract["review"]["required"]:
            etag = await self.on_contract(contract_url, etag, "/reviews",
                                          auth(f"bench-{function}", f"reviewer_{function}"), json={
                "function": function, "items": [{"item": item, "verdict": "pass"} for item in checklist[function]]})
        etag = await self.on_contract(contract_url, etag, "/sign", AR,
                                      json={"signatories": ["Li Wei (ACME)", "Zhang San (us)"], "signed_on": today})
        contract = await self.call("GET", contract_url, AR)
        etag = contract["etag"]
        for milestone, certificate in zip(contract["milestones"], ("PAC-1", "FAC-1"), strict=False):
            etag = await self.on_contract(contract_url, etag, f"/milestones/{milestone['milestone_id']}/accept", FR,
                                          json={"accepted_on": today, "certificate_ref": certificate})
        invoices = (await self.eventually(f"{finance}/invoices?contract_id={contract['id']}", FIN,
                                          lambda b: len(b["items"]) == 3))["items"]
        # Paid as customers pay: quoting each invoice's creditor reference, shown by the bank's statement.
        statement = camt053(f"STMT-{lead_id[:12]}", *(
            camt_entry(f"BNK-{lead_id[:8]}-{number}", invoice["amount"]["amount"],
                       currency=invoice["amount"]["currency"], structured=invoice["payment_reference"],
                       name="Flow Co", on=today) for number, invoice in enumerate(invoices)))
        await self.call("POST", f"{finance}/bank-statements", {**FIN, "Content-Type": "application/xml"}, 201,
                        content=statement)
        await self.eventually(f"{leads}/leads/{lead_id}", AR, lambda b: b["outcome"] == "cash_collected")
        return lead_id, (time.perf_counter() - started) * 1000


async def count_stages(stack: Stack, lead_ids: list[str]) -> dict[str, int]:
    """Every stage of the flows, counted in the databases (expected: 1 per flow, 3 for invoices/payments)."""
    ids = [uuid.UUID(i) for i in lead_ids]
    queries = {
        "leads": [("converted", "SELECT count(*) FROM leads WHERE id = ANY($1) AND converted_at IS NOT NULL"),
                  ("cash_collected", "SELECT count(*) FROM leads WHERE id = ANY($1) AND cash_collected_on IS NOT NULL")],
        "opportunities": [("opportunities", "SELECT count(*) FROM opportunities WHERE lead_id = ANY($1)"),
                          ("won", "SELECT count(*) FROM opportunities WHERE lead_id = ANY($1) AND stage = 'won'")],
        "contracts": [("contracts", "SELECT count(*) FROM contracts WHERE lead_id = ANY($1)"),
                      ("closed", "SELECT count(*) FROM contracts WHERE lead_id = ANY($1) AND status = 'closed'")],
        "finance": [("invoices", "SELECT count(*) FROM invoices WHERE lead_id = ANY($1)"),
                    ("invoices_paid", "SELECT count(*) FROM invoices WHERE lead_id = ANY($1) AND status = 'paid'"),
                    ("payments", "SELECT count(*) FROM payments WHERE lead_id = ANY($1)")],
    }
    counts: dict[str, int] = {}
    for service, service_queries in queries.items():
        conn = await asyncpg.connect(stack.dsn(service))
        try:
            for name, sql in service_queries:
                counts[name] = await conn.fetchval(sql, ids)
        finally:
            await conn.close()
    return counts


STAGE_MULTIPLIER = {"invoices": 3, "invoices_paid": 3, "payments": 3}


def cpu_used(before: dict[tuple[str, int], float], after: dict[tuple[str, int], float]) -> dict[str, float]:
    """CPU seconds each part used between two `cpu_by_process()` snapshots (a process that exited
    in between is not counted, one that started is counted whole)."""
    used: dict[str, float] = {}
    for key, seconds in after.items():
        used[key[0]] = used.get(key[0], 0.0) + seconds - before.get(key, 0.0)
    return used


def cpu_by_process() -> dict[tuple[str, int], float]:
    """CPU seconds so far of each process of a part: services by their command line (API and
    worker processes together), every PostgreSQL process, the Kafka broker's JVM, the baseline
    server and this load generator itself."""
    ticks = os.sysconf("SC_CLK_TCK")
    parts: dict[tuple[str, int], float] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            cmdline = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        part = next((name for name in SERVICES if f"ltc.{name} " in cmdline + " "), None)
        if part is None:
            if int(entry.name) == os.getpid():
                part = "load generator"
            elif "baseline_app.py" in cmdline:
                part = "baseline"
            elif cmdline.startswith("postgres") or "/bin/postgres" in cmdline:
                part = "postgresql"
            elif "kafka.Kafka" in cmdline:
                part = "kafka"
            else:
                continue
        parts[(part, int(entry.name))] = (int(fields[11]) + int(fields[12])) / ticks
    return parts


async def flow_step(stack: Stack, urls: dict[str, str], rate: float, count: int, args: argparse.Namespace) -> dict:
    driver = FlowDriver(urls, args.poll_seconds, args.flow_timeout)
    began = time.monotonic()
    cpu_before = cpu_by_process()
    outcomes = await run_at_rate(rate, count, driver.run)
    elapsed = time.monotonic() - began
    cpu_ms_per_flow = {part: round(seconds * 1000 / max(1, count), 1)
                       for part, seconds in cpu_used(cpu_before, cpu_by_process()).items()}
    errors = [o for o in outcomes if isinstance(o, BaseException)]
    latencies = [o[1] for o in outcomes if not isinstance(o, BaseException)]
    # The flows that failed may leave events in flight: give them a moment before counting.
    await asyncio.sleep(1.0 if errors else 0.2)
    stages = await count_stages(stack, driver.lead_ids)
    expected = {name: len(driver.lead_ids) * STAGE_MULTIPLIER.get(name, 1) for name in stages}
    lost = sum(expected[n] - stages[n] for n in stages)
    summary = latency_summary(latencies)
    return {"offered": rate, "flows": count, "completed": len(latencies), "errors": len(errors),
            "error_sample": str(errors[0])[:300] if errors else None, "lost": lost, "stages": stages,
            "calls_per_flow": round(driver.calls / max(1, count), 1), "elapsed_s": round(elapsed, 1),
            "throughput": round(len(latencies) / elapsed, 2), "cpu_ms_per_flow": cpu_ms_per_flow,
            **{k: summary[k] for k in ("p50", "p99", "max")}}


async def bench_flows(args: argparse.Namespace, stack: Stack, urls: dict[str, str]) -> dict:
    await flow_step(stack, urls, args.flow_rates[0], max(2, round(args.flow_rates[0] * args.warmup_seconds)), args)
    steps = []
    sustained = 0.0
    for rate in args.flow_rates:
        count = max(2, round(rate * args.flow_seconds))
        reps = [await flow_step(stack, urls, rate, count, args) for _ in range(args.flow_reps)]
        entry = {"offered": rate, "reps": reps, **{k: spread(reps, k) for k in ("p50", "p99", "max", "throughput")},
                 "errors": sum(r["errors"] for r in reps), "lost": sum(r["lost"] for r in reps)}
        entry["ok"] = (entry["errors"] == 0 and entry["lost"] == 0 and entry["p99"]["median"] <= args.flow_p99_limit_ms)
        steps.append(entry)
        log(f"flows @{rate:g}/s: p50 {entry['p50']} p99 {entry['p99']} errors {entry['errors']} "
            f"lost {entry['lost']} ok={entry['ok']}" + (f" ({reps[0]['error_sample']})" if entry["errors"] else "")
            + f"; CPU ms per flow {reps[0]['cpu_ms_per_flow']}")
        if not entry["ok"]:
            break
        sustained = rate
    return {"steps": steps, "sustained": sustained,
            "calls_per_flow": steps[0]["reps"][0]["calls_per_flow"] if steps else None}


# --------------------------------------------------------------------------------------------- scaling

async def add_instances(stack: Stack, work: Path) -> list[ServiceProcess]:
    """A second `ltc-<service> worker` per service: relay (standby on the advisory lock) and consumer."""
    extra = []
    for name in SERVICES:
        port = free_port()
        extra.append(spawn(f"{name}-worker", [sys.executable, "-m", f"ltc.{name}", "worker"], {
            "KAFKA_BOOTSTRAP_SERVERS": stack.bootstrap, f"LTC_{name.upper()}_DATABASE_URL": stack.urls[name],
            f"LTC_{name.upper()}_PORT": str(port)}, port, work / "logs"))
    await asyncio.gather(*(wait_ready(p) for p in extra))
    return extra


# --------------------------------------------------------------------------------------------- report

def table(result: dict) -> str:
    m = result["machine"]
    v = result["versions"]
    lines = [
        f"**{m['cores']} cores**, {m['platform']}; Python {v['python']}, PostgreSQL {result['postgres']}, "
        f"Kafka {v['kafka']}, aiokafka {v.get('aiokafka')}, FastAPI {v.get('fastapi')}, uvicorn {v.get('uvicorn')}, "
        f"SQLAlchemy {v.get('sqlalchemy')}, asyncpg {v.get('asyncpg')}. Median of {result['params']['reps']} "
        f"repetitions (min–max), warm-up not counted; load generator on the same machine.",
        "",
        "| Part | Load | Figure | System | Raw limit underneath | Ratio | Target |",
        "|---|---|---|---|---|---|---|",
    ]
    rest = result["rest"]
    service, baseline = rest["service"], rest["baseline"]
    ratio = service["rps"]["median"] / baseline["rps"]["median"] if baseline["rps"]["median"] else float("nan")
    load = f"{rest['clients']} clients, closed loop"
    lines.append(f"| REST write POST /leads | {load} | req/s | {fmt(service['rps'])} | {fmt(baseline['rps'])} "
                 f"(bare FastAPI+asyncpg INSERT) | {ratio:.2f} | ≥ 0.7 {'✓' if ratio >= 0.7 else '✗'} |")
    for key in ("p50", "p99"):
        lines.append(f"| REST write POST /leads | {load} | {key} ms | {fmt(service[key])} | {fmt(baseline[key])} | "
                     f"{service[key]['median'] / baseline[key]['median']:.2f} | |")
    if "cpu_ms" in service and baseline["cpu_ms"]["median"]:
        lines.append(f"| REST write POST /leads | {load} | server CPU ms per request | {fmt(service['cpu_ms'])} | "
                     f"{fmt(baseline['cpu_ms'])} | {service['cpu_ms']['median'] / baseline['cpu_ms']['median']:.1f} "
                     "| |")
    # CPU per flow at the highest rate sustained: idle costs (the broker's above all) are spread
    # over the most flows there.
    one = result["flows"].get("1")
    cpu_step = (next((st for st in one["steps"] if st["offered"] == one["sustained"]), one["steps"][0])
                if one and one["steps"] else None)
    flows_cpu = cpu_step["reps"][0].get("cpu_ms_per_flow") if cpu_step else None
    for instances, hop in result["hop"].items():
        for rate, entry in hop.items():
            raw = result["hop"]["1"][rate].get("raw") if rate in result["hop"]["1"] else None
            h = entry["hop"]
            label = f"{float(rate):g}/s offered ({fmt(h['achieved'], 0)} achieved), {instances} consumer(s)"
            if raw:
                r99 = raw["p99"]["median"]
                hop_ratio = h["p99"]["median"] / r99 if r99 else float("nan")
                lines.append(f"| Event hop lead.converted → opportunity | {label} | p50 / p99 / max ms | "
                             f"{fmt(h['p50'])} / {fmt(h['p99'])} / {fmt(h['max'])} | {fmt(raw['p50'])} / "
                             f"{fmt(raw['p99'])} / {fmt(raw['max'])} (raw aiokafka produce→consume) | "
                             f"{hop_ratio:.1f}× p99 | ≤ 3× {'✓' if hop_ratio <= 3 else '✗'} |")
    bare_rps = baseline["rps"]["median"]
    for instances, flows in result["flows"].items():
        best = next((s for s in flows["steps"] if s["offered"] == flows["sustained"]), None)
        calls = flows["calls_per_flow"] or 1
        bound = bare_rps / calls
        first_bad = next((s for s in flows["steps"] if not s["ok"]), None)
        broke = (f"; broke at {first_bad['offered']:g}/s (p99 {fmt(first_bad['p99'], 0)} ms, "
                 f"{first_bad['errors']} errors, {first_bad['lost']} lost)") if first_bad else "; did not break"
        latency = f"p50 {fmt(best['p50'], 0)} / p99 {fmt(best['p99'], 0)} ms" if best else "—"
        lines.append(f"| Full flows lead → cash, 0 errors, 0 lost | {instances} consumer(s){broke} | sustained flows/s "
                     f"| {flows['sustained']:g} ({latency}) | ≈ {bound:.1f} (bare baseline req/s ÷ {calls:g} REST calls "
                     f"per flow, one process) | {flows['sustained'] / bound:.2f} | 100/s |")
    if flows_cpu:
        total = sum(flows_cpu.values())
        services = sum(v for k, v in flows_cpu.items() if k in SERVICES)
        parts = ", ".join(f"{k} {v:g}" for k, v in sorted(flows_cpu.items(), key=lambda kv: -kv[1]))
        ceiling = (m["cores"] or 1) * 1000 / total if total else float("nan")
        lines.append(f"| Full flows lead → cash | {cpu_step['offered']:g}/s, 1 consumer | "
                     f"CPU ms per flow | {total:.0f} (services {services:.0f}; {parts}) | {m['cores']} cores = "
                     f"{(m['cores'] or 1) * 1000} CPU ms/s | ≈ {ceiling:.1f} flows/s ceiling | |")
    return "\n".join(lines)


def chart(result: dict, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (hop_ax, flow_ax) = plt.subplots(1, 2, figsize=(12, 4.5))
    for instances, hop in result["hop"].items():
        rates = [float(r) for r in hop]
        for key, style in (("p50", "o-"), ("p99", "s--")):
            hop_ax.plot(rates, [hop[r]["hop"][key]["median"] for r in hop], style,
                        label=f"hop {key}, {instances} consumer(s)")
    raw = result["hop"]["1"]
    for key, style in (("p50", "o:"), ("p99", "s:")):
        hop_ax.plot([float(r) for r in raw], [raw[r]["raw"][key]["median"] for r in raw], style, color="grey",
                    label=f"raw Kafka {key}")
    hop_ax.set(xlabel="offered conversions / s", ylabel="latency ms", title="Event hop vs raw Kafka round trip",
               yscale="log")
    hop_ax.legend(fontsize=8)
    for instances, flows in result["flows"].items():
        rates = [s["offered"] for s in flows["steps"]]
        for key, style in (("p50", "o-"), ("p99", "s--")):
            flow_ax.plot(rates, [s[key]["median"] / 1000 for s in flows["steps"]], style,
                         label=f"flow {key}, {instances} consumer(s)")
    flow_ax.set(xlabel="offered flows / s", ylabel="flow latency s", title="Full lead-to-cash flows")
    flow_ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


# --------------------------------------------------------------------------------------------- main

def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    def rates(text: str) -> list[float]:
        return [float(x) for x in text.split(",") if x]

    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--reps", type=int, default=3, help="repetitions per figure (median and min-max)")
    parser.add_argument("--warmup-seconds", type=float, default=1.5)
    parser.add_argument("--clients", type=int, default=32, help="concurrent clients of the REST closed loop")
    parser.add_argument("--rest-seconds", type=float, default=4.0)
    parser.add_argument("--hop-rates", type=rates, default=[50.0, 200.0, 500.0])
    parser.add_argument("--hop-seconds", type=float, default=1.0, help="conversions per rep = rate x this")
    parser.add_argument("--hop-min-count", type=int, default=200, help="but at least this many")
    parser.add_argument("--flow-rates", type=rates, default=[1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 8.0, 12.0])
    parser.add_argument("--flow-seconds", type=float, default=5.0, help="flows per step = rate x this")
    parser.add_argument("--flow-reps", type=int, default=1)
    parser.add_argument("--flow-p99-limit-ms", type=float, default=3000.0,
                        help="a step breaks above this flow p99 (about 4x the unloaded flow latency)")
    parser.add_argument("--flow-timeout", type=float, default=30.0, help="per awaited hand-over in a flow")
    parser.add_argument("--poll-seconds", type=float, default=0.1, help="flows poll hand-overs this often")
    parser.add_argument("--partitions", type=int, default=4)
    parser.add_argument("--no-scaling", action="store_true", help="skip the second-instance runs")
    parser.add_argument("--no-flows", action="store_true", help="skip the full flows")
    parser.add_argument("--separate-workers", action="store_true",
                        help="LTC_RUN_WORKERS=false: relay and consumer in `ltc-<service> worker` processes")
    parser.add_argument("--kafka-bootstrap", help="use this broker instead of starting one")
    parser.add_argument("--pg-admin-dsn", help="use this PostgreSQL (superuser DSN) instead of starting one")
    parser.add_argument("--out", type=Path, default=ROOT / "bench/out")
    return parser.parse_args(argv)


async def run(args: argparse.Namespace) -> dict:
    began = time.monotonic()
    result: dict[str, Any] = {
        "machine": {"cores": os.cpu_count(), "platform": platform.platform()}, "versions": versions(),
        "params": {k: (str(v) if isinstance(v, Path) else v) for k, v in vars(args).items()
                   if k not in ("kafka_bootstrap", "pg_admin_dsn")},
        "hop": {}, "flows": {},
    }
    with tempfile.TemporaryDirectory(prefix="ltc-bench-") as tmp:
        work = Path(tmp)
        (work / "logs").mkdir()
        async with infrastructure(args, work) as stack:
            conn = await asyncpg.connect(stack.dsn("leads"))
            result["postgres"] = (await conn.fetchval("SHOW server_version")).split()[0]
            await conn.close()
            ports = {name: free_port() for name in SERVICES}
            baseline_port = free_port()
            baseline = spawn("baseline", [sys.executable, str(ROOT / "bench/baseline_app.py")],
                             {"BENCH_BASELINE_DSN": stack.baseline_dsn, "BENCH_BASELINE_PORT": str(baseline_port)},
                             baseline_port, work / "logs")
            extra: list[ServiceProcess] = []
            try:
                log("starting the four services and the baseline")
                env = {"LTC_RUN_WORKERS": "false"} if args.separate_workers else None
                async with running_services(bootstrap_servers=stack.bootstrap, database_urls=stack.urls, ports=ports,
                                            log_dir=work / "logs", env=env) as services:
                    if args.separate_workers:  # as in Kubernetes: the relay and consumer in their own process
                        extra += await add_instances(stack, work)
                    await wait_ready(baseline)
                    urls = {name: s.url for name, s in services.items()}
                    result["rest"] = await bench_rest(args, services, baseline.url)
                    baseline.stop()
                    result["hop"]["1"] = await bench_hop(args, stack, urls, args.hop_rates, with_raw=True)
                    if not args.no_flows:
                        result["flows"]["1"] = await bench_flows(args, stack, urls)
                    if not args.no_scaling:
                        log("scaling: a second worker per service (same consumer group)")
                        extra += await add_instances(stack, work)
                        await asyncio.sleep(3)  # let the groups rebalance; the warm-up absorbs the rest
                        result["hop"]["2"] = await bench_hop(args, stack, urls, args.hop_rates,
                                                             with_raw=False)
                        if not args.no_flows:
                            result["flows"]["2"] = await bench_flows(args, stack, urls)
            finally:
                baseline.stop()
                for process in extra:
                    process.stop()
    result["elapsed_s"] = round(time.monotonic() - began, 1)
    return result


def report(result: dict, out: Path) -> str:
    out.mkdir(parents=True, exist_ok=True)
    (out / "bench.json").write_text(json.dumps(result, indent=2, default=str) + "\n")
    chart(result, out / "bench.png")
    text = table(result)
    result_note = (f"\n\nWritten to {out / 'bench.json'} and {out / 'bench.png'} ({result['elapsed_s']} s). "
                   "Two cores hold the load generator, PostgreSQL, Kafka and every service process at once: a "
                   "second consumer instance can show the partitions being shared, not more CPU.")
    return text + result_note


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    result = asyncio.run(run(args))
    print(report(result, args.out))


if __name__ == "__main__":
    main()
