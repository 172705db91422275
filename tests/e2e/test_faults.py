"""Full lead-to-cash flows while service processes, PostgreSQL and the broker are SIGKILLed and restarted.

In the suite: 6 flows, the contracts service and the PostgreSQL server killed mid-flow.
`make faults` runs the same test at full size through the environment:

    LTC_FAULT_FLOWS     flows, started LTC_FAULT_STAGGER seconds apart (default 6, 0.5)
    LTC_FAULT_TARGETS   what is killed, in this order (default contracts,postgres; any of
                        leads, opportunities, contracts, finance, postgres, kafka)
    LTC_FAULT_TIMEOUT   the test's time limit in seconds (default 300, the suite's)

The test runs its own stack, not the session's: its own PostgreSQL (the session's server is
shared by other tests and must not be killed; and its `fast` settings turn synchronous_commit
off, which makes a crash lose acknowledged commits, a fault of the setup rather than of the
system), and its own Kafka broker. The session broker would not do: topic names are fixed
(`ltc.leads`, ...) and every service consumes them, so these services would see the events of
the e2e fixture's flows (and of the integration tests that dead-letter on purpose), about
objects their databases do not hold, which finance for one dead-letters (`billing-plan-unknown`);
and the dead-letter topics could not be asserted empty. A broker of its own also makes the
broker itself a target. It costs ~15 s of start-up, overlapped with PostgreSQL's.

What it asserts: every flow reaches cash (lead `cash_collected`, contract closed, three
invoices paid that add up to the value), with exactly one opportunity per lead, one contract
per opportunity, three invoices and three payments per contract, and each once-only event
written exactly once per flow; no 500 on the way; every outbox row relayed, every consumer
caught up, and nothing on any dead-letter topic.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import sys
import time
import uuid
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

import asyncpg
import httpx
import psutil
import pytest
from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient

from ltc.shared.devstack.cli import repo_root
from ltc.shared.devstack.kafka import LocalKafka
from ltc.shared.devstack.postgres import LocalPostgres
from ltc.shared.devstack.services import DEFAULT_PORTS, ServiceProcess, free_ports, spawn, wait_ready
from ltc.shared.kafka import ensure_topics
from ltc.shared.messages import ALL_TOPICS, TOPICS, dlq_topic
from ltc.shared.testing.apps import auth
from tests.e2e.flow import INSTALMENTS, STEPS, VALUE, FlowResult, get_json, run_flow

FLOWS = int(os.environ.get("LTC_FAULT_FLOWS", "6"))
STAGGER = float(os.environ.get("LTC_FAULT_STAGGER", "0.5"))
TARGETS = tuple(t.strip() for t in os.environ.get("LTC_FAULT_TARGETS", "contracts,postgres").split(",") if t.strip())
TIMEOUT = float(os.environ.get("LTC_FAULT_TIMEOUT", "300"))
# A flow's own limit: what is left of the test's time after the stack's start (at most 120 s,
# ~25 s measured) and before the checks at the end (~3 s measured, waits bounded to 30 s each).
FLOW_TIMEOUT = TIMEOUT - 170
SERVICES = tuple(DEFAULT_PORTS)

# Each target is killed once this many flows have passed a step at which it is at work (or
# about to be), so that the kill lands mid-flow: requests in flight, events on their way to it.
TRIGGER_STEP = {"leads": "credible", "opportunities": "team", "kafka": "won", "contracts": "signed",
                "postgres": "pac", "finance": "paid"}
DOWN_SECONDS = {"postgres": 2.0, "kafka": 3.0}  # how long a target stays dead (services: 1 s)

# Event types written once per flow (or per invoice): a second one means an effect happened twice.
ONCE_PER_FLOW = {"ltc.lead.created.v1": 1, "ltc.lead.converted.v1": 1, "ltc.opportunity.created.v1": 1,
                 "ltc.opportunity.decision_made.v1": 2, "ltc.opportunity.won.v1": 1,
                 "ltc.contract.drafted.v1": 1, "ltc.contract.signed.v1": 1, "ltc.contract.milestone_accepted.v1": 2,
                 "ltc.invoice.issued.v1": 3, "ltc.payment.received.v1": 3, "ltc.invoice.paid.v1": 3,
                 "ltc.contract.fully_paid.v1": 1, "ltc.contract.closed.v1": 1}

pytestmark = pytest.mark.e2e


def _log(message: str) -> None:
    print(f"[faults {time.strftime('%H:%M:%S')}] {message}", flush=True)


@dataclass
class FaultStack:
    """PostgreSQL, a Kafka broker and the four services, each of which can be SIGKILLed and restarted."""

    work: Path
    postgres: LocalPostgres = field(init=False)
    kafka: LocalKafka = field(init=False)
    database_urls: dict[str, str] = field(default_factory=dict)
    ports: dict[str, int] = field(default_factory=dict)
    services: dict[str, ServiceProcess] = field(default_factory=dict)

    def __post_init__(self) -> None:
        pg_port, kafka_port, controller_port, *service_ports = free_ports(3 + len(SERVICES))
        # Durable commits (synchronous_commit on, the default); fsync off is safe here because a
        # process crash leaves the OS page cache, and with it every write, intact.
        self.postgres = LocalPostgres(self.work / "postgres", pg_port, settings={"fsync": "off"})
        self.kafka = LocalKafka(repo_root() / "deploy/local/kafka", self.work / "kafka", kafka_port, controller_port)
        self.ports = dict(zip(SERVICES, service_ports, strict=True))

    @property
    def urls(self) -> dict[str, str]:
        return {name: f"http://127.0.0.1:{port}" for name, port in self.ports.items()}

    def dsn(self, service: str) -> str:
        return self.database_urls[service].replace("postgresql+asyncpg://", "postgresql://", 1)

    async def start(self) -> None:
        began = time.monotonic()
        await asyncio.gather(asyncio.to_thread(self.kafka.start), asyncio.to_thread(self.postgres.start))
        await self.kafka.wait_ready(90)
        await ensure_topics(self.kafka.bootstrap_servers, ALL_TOPICS, partitions=self.kafka.partitions)
        for name in SERVICES:
            self.database_urls[name] = await self.postgres.ensure_service_database(f"faults_{name}", f"faults-{name}")
        (self.work / "logs").mkdir(exist_ok=True)
        for name in SERVICES:
            self._spawn(name)
        await asyncio.gather(*(wait_ready(s, 120) for s in self.services.values()))
        _log(f"stack up in {time.monotonic() - began:.1f} s: PostgreSQL :{self.postgres.port}, "
             f"Kafka {self.kafka.bootstrap_servers}, services {self.ports}")

    def _spawn(self, name: str) -> None:
        # The services' own command, as running_services starts it; the log is appended to across restarts.
        self.services[name] = spawn(name, [sys.executable, "-m", f"ltc.{name}", "serve"], {
            "KAFKA_BOOTSTRAP_SERVERS": self.kafka.bootstrap_servers,
            f"LTC_{name.upper()}_DATABASE_URL": self.database_urls[name],
            f"LTC_{name.upper()}_PORT": str(self.ports[name]),
            "LTC_RELAY_POLL_SECONDS": "0.5",
            "LTC_ENV": "development",
        }, self.ports[name], self.work / "logs")

    def stop(self) -> None:
        for service in self.services.values():
            with contextlib.suppress(Exception):
                service.stop()
        with contextlib.suppress(Exception):
            self.kafka.stop()
        with contextlib.suppress(Exception):
            self.postgres.stop()

    # -- faults: SIGKILL, as the OOM killer or a lost node would, then a restart on the same data and ports

    def kill(self, target: str) -> None:
        if target in self.services:
            process = self.services[target].process
            os.killpg(process.pid, signal.SIGKILL)
            process.wait(10)
        elif target == "postgres":
            # The postmaster and every backend at once, like a crashed database host: an orphaned
            # backend still writing to the data dir must not meet the restarted server.
            master = psutil.Process(int((self.postgres.pgdata / "postmaster.pid").read_text().split()[0]))
            victims = [master, *master.children(recursive=True)]
            for victim in victims:
                with contextlib.suppress(psutil.NoSuchProcess):
                    victim.kill()
            psutil.wait_procs(victims, timeout=10)
        elif target == "kafka":
            pid = int((self.kafka.data_dir / "broker.pid").read_text())
            with contextlib.suppress(ProcessLookupError):
                os.killpg(pid, signal.SIGKILL)
            with contextlib.suppress(psutil.NoSuchProcess):
                psutil.Process(pid).wait(10)
        else:
            raise ValueError(f"unknown fault target {target!r}")

    async def restart(self, target: str) -> None:
        if target in self.services:
            self._spawn(target)
            await wait_ready(self.services[target], 120)
        elif target == "postgres":
            await asyncio.to_thread(self.postgres.start)  # crash recovery, then accepting connections
        elif target == "kafka":
            await asyncio.to_thread(self.kafka.start)
            await self.kafka.wait_ready(120)

    def alive(self) -> dict[str, int | None]:
        return {name: s.process.poll() for name, s in self.services.items()}


@pytest.fixture
async def stack(tmp_path: Path):
    fault_stack = FaultStack(tmp_path)
    try:
        await asyncio.wait_for(fault_stack.start(), 120)
        yield fault_stack
    finally:
        fault_stack.stop()


@dataclass
class Progress:
    steps: Counter = field(default_factory=Counter)  # step -> flows past it
    started: int = 0
    finished: int = 0

    def passed(self, _n: int, step: str) -> None:
        self.steps[step] += 1

    @property
    def in_flight(self) -> int:
        return self.started - self.finished


async def _chaos(stack: FaultStack, progress: Progress, flows_done: asyncio.Event) -> list[dict]:
    """Each target in turn: wait until enough flows are at the step where it is at work, SIGKILL it, restart it."""
    faults = []
    needed = max(1, FLOWS // 3)
    for target in TARGETS:
        step = TRIGGER_STEP[target]
        while progress.steps[step] < needed and not flows_done.is_set():
            await asyncio.sleep(0.05)
        if flows_done.is_set():
            faults.append({"target": target, "skipped": "every flow had ended before its trigger"})
            continue
        in_flight = progress.in_flight
        killed = time.monotonic()
        stack.kill(target)
        await asyncio.sleep(DOWN_SECONDS.get(target, 1.0))
        await stack.restart(target)
        faults.append({"target": target, "after": f"{progress.steps[step]} flows past {step!r}",
                       "flows_in_flight": in_flight, "down_s": round(time.monotonic() - killed, 1)})
        _log(f"fault: {faults[-1]}")
    return faults


async def _partitions(bootstrap: str, topics: set[str]) -> list[TopicPartition]:
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        described = await admin.describe_topics(sorted(topics))
    finally:
        await admin.close()
    partitions = [TopicPartition(t["topic"], p["partition"]) for t in described for p in t["partitions"]]
    assert {tp.topic for tp in partitions} == topics, f"partitions of {topics}: {described}"
    return partitions


async def _read_all(bootstrap: str, topics: set[str], timeout: float = 30) -> list:
    """Every record on `topics` now, from the beginning, without a consumer group."""
    partitions = await _partitions(bootstrap, topics)
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, group_id=None, enable_auto_commit=False)
    await consumer.start()
    try:
        async with asyncio.timeout(timeout):
            consumer.assign(partitions)
            await consumer.seek_to_beginning(*partitions)
            ends = await consumer.end_offsets(partitions)
            records = []
            while [tp for tp in partitions if await consumer.position(tp) < ends[tp]]:
                batch = await consumer.getmany(timeout_ms=500)
                records.extend(r for rs in batch.values() for r in rs)
            return records
    finally:
        await consumer.stop()


async def _consumer_lag(bootstrap: str) -> dict[str, int]:
    """Per consumer group (`ltc-<service>`, the default): records on its topics not yet committed."""
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        committed = {s: await admin.list_consumer_group_offsets(f"ltc-{s}") for s in SERVICES}
    finally:
        await admin.close()
    # Every partition of each topic a group consumes, also those it has never committed.
    partitions = {s: await _partitions(bootstrap, {tp.topic for tp in offsets}) if offsets else []
                  for s, offsets in committed.items()}
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, group_id=None)
    await consumer.start()
    try:
        ends = await consumer.end_offsets([tp for tps in partitions.values() for tp in tps])
    finally:
        await consumer.stop()
    return {s: sum(ends[tp] - max(0, committed[s][tp].offset if tp in committed[s] else 0) for tp in partitions[s])
            if committed[s] else -1 for s in SERVICES}


async def _until(what: str, probe, done, timeout: float):
    deadline = time.monotonic() + timeout
    while True:
        value = await probe()
        if done(value):
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"{what} not reached within {timeout:g} s; last: {value}")
        await asyncio.sleep(0.5)


async def _fetch(conn_dsn: str, sql: str, *args) -> list[asyncpg.Record]:
    conn = await asyncpg.connect(conn_dsn)
    try:
        return await conn.fetch(sql, *args)
    finally:
        await conn.close()


@pytest.mark.timeout(TIMEOUT)
async def test_flows_reach_cash_while_processes_are_killed(stack: FaultStack):
    began = time.monotonic()
    unknown = set(TARGETS) - set(TRIGGER_STEP)
    assert not unknown, f"LTC_FAULT_TARGETS: unknown {unknown}; known: {sorted(TRIGGER_STEP)}"
    assert set(TRIGGER_STEP.values()) <= set(STEPS), "a trigger names a step the flow does not report"
    today = datetime.now(UTC).date()
    run = uuid.uuid4().hex[:6]
    progress = Progress()
    flows_done = asyncio.Event()

    async def one(n: int, http: httpx.AsyncClient) -> FlowResult:
        await asyncio.sleep(n * STAGGER)
        progress.started += 1
        try:
            return await run_flow(http, stack.urls, n=n, today=today, tag=f"{run}-{n}", on_step=progress.passed,
                                  timeout=FLOW_TIMEOUT)
        finally:
            progress.finished += 1

    async with httpx.AsyncClient(timeout=15, limits=httpx.Limits(max_connections=4 * FLOWS)) as http:
        chaos = asyncio.create_task(_chaos(stack, progress, flows_done))
        try:
            flows = asyncio.gather(*(one(n, http) for n in range(FLOWS)), return_exceptions=True)
            outcomes = await asyncio.wait_for(flows, FLOW_TIMEOUT + FLOWS * STAGGER + 10)
        finally:
            flows_done.set()
        faults = await asyncio.wait_for(chaos, 150)  # at most one restart to finish
        flows_s = time.monotonic() - began

        failed = [f"flow {n}: {o!r}" for n, o in enumerate(outcomes) if isinstance(o, BaseException)]
        results: list[FlowResult] = [o for o in outcomes if isinstance(o, FlowResult)]
        retries = sum(r.retries for r in results)
        _log(f"{len(results)}/{FLOWS} flows reached cash in {flows_s:.1f} s (flow p50 "
             f"{sorted(r.elapsed_s for r in results)[len(results) // 2] if results else float('nan'):.1f} s, "
             f"max {max((r.elapsed_s for r in results), default=float('nan')):.1f} s), {retries} retried requests")
        if failed:
            raise AssertionError("flows that did not reach cash:\n" + "\n".join(failed) + _logs_tail(stack)
                                 + "\ndead letters:\n" + "\n".join(await _dead_letters(stack)))
        for fault in faults:
            assert "skipped" not in fault, f"fault not injected: {fault}"
            assert fault["flows_in_flight"] > 0, f"fault hit no flow in flight: {fault}"
        anomalies = [f"flow {r.n}: {a}" for r in results for a in r.anomalies]
        assert not anomalies, "answers a healthy server never gives:\n" + "\n".join(anomalies)
        assert all(code is None for code in stack.alive().values()), f"a service exited: {stack.alive()}"

        # Every flow as the public APIs show it after the faults.
        api = {name: url + "/api/v1" for name, url in stack.urls.items()}

        async def items(url: str, headers: dict[str, str]) -> list[dict]:
            return (await get_json(http, url, headers))["items"]

        for r in results:
            assert r.lead["outcome"] == "cash_collected" and r.lead["cash_collected_on"] == today.isoformat(), r.lead
            assert r.lead["opportunity_id"] == r.opportunity_id and r.lead["contract_id"] == r.contract_id, r.lead
            assert r.contract["status"] == "closed", r.contract
            ar, clerk = auth(f"ar-{r.tag}", "ar"), auth(f"finance-{r.tag}", "finance")
            opportunities = await items(f"{api['opportunities']}/opportunities?lead_id={r.lead_id}", ar)
            assert [o["id"] for o in opportunities] == [r.opportunity_id], f"flow {r.n}: {opportunities}"
            contracts = await items(f"{api['contracts']}/contracts?opportunity_id={r.opportunity_id}", ar)
            assert [c["id"] for c in contracts] == [r.contract_id], f"flow {r.n}: {contracts}"
            invoices = await items(f"{api['finance']}/invoices?contract_id={r.contract_id}", clerk)
            assert {i["instalment"]: Decimal(i["amount"]["amount"]) for i in invoices} == INSTALMENTS, invoices
            assert len(invoices) == 3 and {i["status"] for i in invoices} == {"paid"}, f"flow {r.n}: {invoices}"
            assert len({p["id"] for p in r.payments}) == 3, f"flow {r.n}: {r.payments}"

    # The same in the databases, over everything they hold: nothing lost, nothing twice.
    counts = {
        "leads": (await _fetch(stack.dsn("leads"), "SELECT count(*) FROM leads"))[0][0],
        "leads with cash": (await _fetch(stack.dsn("leads"), "SELECT count(*) FROM leads WHERE converted_at IS NOT NULL"
                                         " AND cash_collected_on IS NOT NULL"))[0][0],
        "opportunities": (await _fetch(stack.dsn("opportunities"), "SELECT count(*) FROM opportunities"))[0][0],
        "distinct leads of opportunities": (await _fetch(stack.dsn("opportunities"),
                                                         "SELECT count(DISTINCT lead_id) FROM opportunities"))[0][0],
        "contracts closed": (await _fetch(stack.dsn("contracts"),
                                          "SELECT count(*) FROM contracts WHERE status = 'closed'"))[0][0],
        "contracts": (await _fetch(stack.dsn("contracts"), "SELECT count(*) FROM contracts"))[0][0],
        "distinct opportunities of contracts": (await _fetch(
            stack.dsn("contracts"), "SELECT count(DISTINCT opportunity_id) FROM contracts"))[0][0],
        "invoices paid": (await _fetch(stack.dsn("finance"), "SELECT count(*) FROM invoices WHERE status = 'paid' "
                                       "AND paid_amount = amount_due"))[0][0],
        "invoices": (await _fetch(stack.dsn("finance"), "SELECT count(*) FROM invoices"))[0][0],
        "payments": (await _fetch(stack.dsn("finance"), "SELECT count(*) FROM payments"))[0][0],
    }
    expected = {name: FLOWS * (3 if name.startswith(("invoices", "payments")) else 1) for name in counts}
    assert counts == expected, f"rows in the databases: {counts}, expected {expected}"
    received, collected = (await _fetch(stack.dsn("finance"), "SELECT (SELECT sum(received_amount) FROM payments), "
                                        "(SELECT sum(collected_amount) FROM billing_plans)"))[0]
    assert received == collected == FLOWS * Decimal(VALUE), (received, collected)

    # Every event relayed, consumed, never dead-lettered; each once-only event written once.
    async def unsent() -> dict[str, int]:
        return {s: (await _fetch(stack.dsn(s), "SELECT count(*) FROM outbox WHERE sent_at IS NULL"))[0][0]
                for s in SERVICES}

    await _until("every outbox row relayed", unsent, lambda v: not any(v.values()), 30)
    events: Counter = Counter()
    for service in SERVICES:
        events.update(dict(await _fetch(stack.dsn(service), "SELECT type, count(*) FROM outbox GROUP BY type")))
    twice = {t: events[t] for t, k in ONCE_PER_FLOW.items() if events[t] != k * FLOWS}
    assert not twice, f"events written other than once per flow (expected {FLOWS} x per-flow count): {twice}"
    lag = await _until("every consumer caught up", lambda: _consumer_lag(stack.kafka.bootstrap_servers),
                       lambda v: all(n == 0 for n in v.values()), 30)
    dead = await _dead_letters(stack)
    assert not dead, "dead letters:\n" + "\n".join(dead)
    _log(f"checked in {time.monotonic() - began - flows_s:.1f} s: {counts}; events {dict(events)}; consumer lag "
         f"{lag}; faults {faults}; total {time.monotonic() - began:.1f} s")


async def _dead_letters(stack: FaultStack) -> list[str]:
    """What is on the dead-letter topics, one line per record with its type and reason."""
    try:
        records = await _read_all(stack.kafka.bootstrap_servers, {dlq_topic(t) for t in TOPICS})
    except Exception as exc:  # only ever called to explain or to assert: say why it could not be read
        return [f"(could not read the dead-letter topics: {exc!r})"]
    return [f"{r.topic}@{r.offset}: " + str({k: v.decode(errors="replace") for k, v in r.headers
                                             if k.startswith(("dlq_", "ce_type"))}) for r in records]


def _logs_tail(stack: FaultStack) -> str:
    return "".join(f"\n--- {name} ---\n{service.log_tail(15)}" for name, service in stack.services.items())
