"""Session fixtures with a real Kafka broker and a real PostgreSQL server.

Each comes from the first source available: an environment variable naming an existing server,
a Testcontainers container when a Docker engine answers, or a local server from
`ltc.shared.devstack` in the session's temporary directory. Nothing is skipped: if no source
works, the fixture errors with the reason.
"""

from __future__ import annotations

import gc
import os
import uuid
import warnings
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from contextlib import ExitStack, closing
from functools import cache

import pytest

from ltc.shared.devstack.cli import repo_root
from ltc.shared.devstack.kafka import LocalKafka
from ltc.shared.devstack.postgres import LocalPostgres, drop_database, ensure_database
from ltc.shared.devstack.services import free_ports
from ltc.shared.kafka import ensure_topics
from ltc.shared.messages import ALL_TOPICS

MakeDatabase = Callable[[str], Awaitable[str]]


@cache
def _docker_available() -> bool:
    # docker-py leaks its socket when the engine refuses the connection; collect it here, quietly,
    # rather than have pytest report it against whichever test runs next.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ResourceWarning)
        try:
            import docker

            with closing(docker.from_env(timeout=3)) as client:
                return client.ping()
        except Exception:
            return False
        finally:
            gc.collect()


@pytest.fixture(scope="session")
async def kafka_bootstrap(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[str]:
    """Bootstrap servers of a Kafka cluster holding the LTC topics and their dead-letter topics."""
    partitions = int(os.environ.get("LTC_KAFKA_PARTITIONS", 3))
    with ExitStack() as stack:
        bootstrap = os.environ.get("KAFKA_BOOTSTRAP_SERVERS")
        if not bootstrap and _docker_available():
            from testcontainers.community.kafka import KafkaContainer

            bootstrap = stack.enter_context(KafkaContainer().with_kraft()).get_bootstrap_server()
        elif not bootstrap:
            kafka = LocalKafka(repo_root() / "deploy/local/kafka", tmp_path_factory.mktemp("kafka"), *free_ports(2),
                               partitions=partitions)
            stack.callback(kafka.stop)
            kafka.start()
            await kafka.wait_ready()
            bootstrap = kafka.bootstrap_servers
        await ensure_topics(bootstrap, ALL_TOPICS, partitions=partitions)
        yield bootstrap


@pytest.fixture(scope="session")
def postgres_admin_dsn(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A superuser `postgresql://` DSN of a PostgreSQL server."""
    with ExitStack() as stack:
        dsn = os.environ.get("LTC_TEST_DATABASE_ADMIN_URL")
        if not dsn and _docker_available():
            from testcontainers.community.postgres import PostgresContainer

            dsn = stack.enter_context(PostgresContainer("postgres:18")).get_connection_url(driver=None)
        elif not dsn:
            server = LocalPostgres(tmp_path_factory.mktemp("postgres"), *free_ports(1), fast=True)
            stack.callback(server.stop)
            server.start()
            dsn = server.admin_dsn
        yield dsn


@pytest.fixture(scope="session")
async def make_database(postgres_admin_dsn: str) -> AsyncIterator[MakeDatabase]:
    """`await make_database(prefix)` creates a fresh database and its owning role; returns the asyncpg URL.

    Names are `<prefix>_<random>`, isolated like the services' databases; all are dropped at session end.
    """
    created: list[str] = []

    async def make(prefix: str) -> str:
        name = f"{prefix}_{uuid.uuid4().hex[:12]}"
        url = await ensure_database(postgres_admin_dsn, name, f"{name}-pw")
        created.append(name)
        return url

    yield make
    for name in created:
        await drop_database(postgres_admin_dsn, name)


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    """The documents list every problem the suite saw an operation answer: else the run fails.

    (The rule catalog reads the rules from the code; this is the check that it missed none the
    tests meet, and that the plumbing's answers are documented where they occur.)"""
    from ltc.shared.testing.apps import ANSWERED_PROBLEMS, undocumented_problems

    if not ANSWERED_PROBLEMS:
        return
    missing = undocumented_problems()
    if missing:
        reporter = session.config.pluginmanager.get_plugin("terminalreporter")
        lines = ["problems answered but not documented in the operation's OpenAPI responses:", *missing]
        if reporter is not None:
            reporter.write_sep("=", "undocumented problems", red=True)
            for line in lines:
                reporter.write_line(line)
        else:
            print("\n".join(lines))
        session.exitstatus = pytest.ExitCode.TESTS_FAILED
