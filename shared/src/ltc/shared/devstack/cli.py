"""`ltc-dev`: run the local development stack.

`ltc-dev infra` starts PostgreSQL and Kafka under `<repo>/.local`, creates each service's
database and the topics, prints the URLs and runs until SIGINT/SIGTERM.
`ltc-dev run` does the same and also starts the four services (each migrates its database to
head before it serves), on ports 8001-8004 (`LTC_<SERVICE>_PORT` overrides).

Environment: `LTC_DATABASE_ADMIN_URL` / `KAFKA_BOOTSTRAP_SERVERS` use existing servers instead;
`LTC_PG_PORT` (55432), `LTC_KAFKA_PORT` (59092), `LTC_KAFKA_CONTROLLER_PORT` (59093) and
`LTC_KAFKA_PARTITIONS` (3) configure the local ones.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import signal
import sys
import time
import tomllib
from collections.abc import AsyncIterator
from contextlib import ExitStack, asynccontextmanager
from dataclasses import dataclass
from pathlib import Path

from ltc.shared.devstack.kafka import LocalKafka
from ltc.shared.devstack.postgres import LocalPostgres, ensure_database
from ltc.shared.devstack.services import configured_ports, running_services
from ltc.shared.kafka import ensure_topics
from ltc.shared.messages import ALL_TOPICS
from ltc.shared.settings import local_database

SERVICES = ("leads", "opportunities", "contracts", "finance")


@dataclass(frozen=True)
class Infra:
    bootstrap_servers: str
    admin_dsn: str
    database_urls: dict[str, str]  # service name -> SQLAlchemy asyncpg URL


def repo_root() -> Path:
    """The uv workspace root: the nearest ancestor of this file (else of the cwd) with [tool.uv.workspace]."""
    for start in (Path(__file__).resolve(), Path.cwd().resolve()):
        for directory in (start, *start.parents):
            pyproject = directory / "pyproject.toml"
            if pyproject.is_file():
                if "workspace" in tomllib.loads(pyproject.read_text()).get("tool", {}).get("uv", {}):
                    return directory
    raise RuntimeError("cannot find the repository root (a pyproject.toml with [tool.uv.workspace])")


@asynccontextmanager
async def local_infra(root: Path, *, fast: bool = False) -> AsyncIterator[Infra]:
    """Run PostgreSQL and Kafka under `root/.local` (unless the environment names existing servers),
    create the services' databases and the topics; stop the servers started here on exit."""
    env = os.environ
    partitions = int(env.get("LTC_KAFKA_PARTITIONS", 3))
    with ExitStack() as stack:
        kafka = None
        bootstrap = env.get("KAFKA_BOOTSTRAP_SERVERS")
        if not bootstrap:
            kafka = LocalKafka(root / "deploy/local/kafka", root / ".local/kafka",
                               int(env.get("LTC_KAFKA_PORT", 59092)), int(env.get("LTC_KAFKA_CONTROLLER_PORT", 59093)),
                               partitions=partitions)
            stack.callback(kafka.stop)
            kafka.start()
            bootstrap = kafka.bootstrap_servers
        admin_dsn = env.get("LTC_DATABASE_ADMIN_URL")
        if not admin_dsn:
            # Started while the broker's JVM boots: the two start-ups overlap.
            postgres = LocalPostgres(root / ".local/postgres", int(env.get("LTC_PG_PORT", 55432)), fast=fast)
            stack.callback(postgres.stop)
            postgres.start()
            admin_dsn = postgres.admin_dsn
        if kafka:
            await kafka.wait_ready()
        urls = {service: await ensure_database(admin_dsn, *local_database(service)) for service in SERVICES}
        await ensure_topics(bootstrap, ALL_TOPICS, partitions=partitions)
        yield Infra(bootstrap_servers=bootstrap, admin_dsn=admin_dsn, database_urls=urls)


def _stop_on_signals() -> None:
    # Cancelling the main task also interrupts a start-up in progress; the exit stacks stop what already runs.
    main_task = asyncio.current_task()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, main_task.cancel)


def _print_infra(infra: Infra) -> None:
    print(f"KAFKA_BOOTSTRAP_SERVERS={infra.bootstrap_servers}")
    print(f"LTC_DATABASE_ADMIN_URL={infra.admin_dsn}")
    for service, url in infra.database_urls.items():
        print(f"{service}: {url}")


async def _infra(root: Path) -> None:
    _stop_on_signals()
    async with local_infra(root) as infra:
        _print_infra(infra)
        print("infrastructure is up; Ctrl-C stops it", flush=True)
        await asyncio.Event().wait()


async def _run(root: Path) -> None:
    _stop_on_signals()
    started = time.monotonic()
    async with local_infra(root) as infra:
        _print_infra(infra)
        log_dir = root / ".local/logs"
        async with running_services(bootstrap_servers=infra.bootstrap_servers, database_urls=infra.database_urls,
                                    ports=configured_ports(), log_dir=log_dir) as services:
            print(f"\nLead to Cash is up in {time.monotonic() - started:.1f} s:")
            for name, service in services.items():
                print(f"  {name:<14} {service.url}/docs   (logs: {service.log_path})")
            print("\nA development token: make token SUB=alice ROLES=ar   (or: uv run ltc-token --sub alice --roles ar)")
            print("Ctrl-C stops everything.", flush=True)
            await asyncio.Event().wait()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="ltc-dev", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("infra", help="run PostgreSQL and Kafka until interrupted")
    commands.add_parser("run", help="run PostgreSQL, Kafka and the four services until interrupted")
    args = parser.parse_args(argv)
    try:
        asyncio.run({"infra": _infra, "run": _run}[args.command](repo_root()))
    except asyncio.CancelledError:
        print("stopped", flush=True)
    except (RuntimeError, TimeoutError) as exc:
        sys.exit(f"ltc-dev: {exc}")
