"""Start the four services as processes (`ltc-<service> serve`) and wait until each is ready.

Used by `make run` and by the end-to-end tests, so both run the system the same way.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import socket
import subprocess
import sys
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx

DEFAULT_PORTS = {"leads": 8001, "opportunities": 8002, "contracts": 8003, "finance": 8004}


@dataclass
class ServiceProcess:
    name: str
    port: int
    process: subprocess.Popen
    log_path: Path

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def log_tail(self, lines: int = 30) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return ""

    def stop(self, timeout: float = 10.0) -> None:
        if self.process.poll() is not None:
            return
        os.killpg(self.process.pid, signal.SIGTERM)
        try:
            self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait()


def free_ports(count: int) -> list[int]:
    """`count` distinct free loopback ports."""
    # Held open together so that the kernel cannot hand out the same port twice.
    with contextlib.ExitStack() as stack:
        sockets = [stack.enter_context(socket.socket()) for _ in range(count)]
        for sock in sockets:
            sock.bind(("127.0.0.1", 0))
        return [sock.getsockname()[1] for sock in sockets]


def free_port() -> int:
    return free_ports(1)[0]


def spawn(name: str, argv: list[str], env: Mapping[str, str], port: int, log_dir: Path) -> ServiceProcess:
    """Start a process in its own process group, output to `<log_dir>/<name>.log`."""
    log_path = log_dir / f"{name}.log"
    with log_path.open("ab") as log:
        # Own process group: Ctrl-C in the terminal reaches the supervisor, which then
        # stops each service in order instead of all dying mid-request.
        process = subprocess.Popen(argv, env={**os.environ, **env}, stdout=log, stderr=subprocess.STDOUT,
                                   start_new_session=True)
    return ServiceProcess(name, port, process, log_path)


def configured_ports() -> dict[str, int]:
    return {name: int(os.environ.get(f"LTC_{name.upper()}_PORT", port)) for name, port in DEFAULT_PORTS.items()}


async def wait_ready(service: ServiceProcess, timeout: float = 90.0) -> None:
    """Until `/readyz` answers 200; fails early, with the log's tail, if the process exits."""
    deadline = asyncio.get_running_loop().time() + timeout
    async with httpx.AsyncClient(timeout=5) as client:
        while True:
            if service.process.poll() is not None:
                raise RuntimeError(f"{service.name} exited with {service.process.returncode}:\n{service.log_tail()}")
            try:
                if (await client.get(f"{service.url}/readyz")).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            if asyncio.get_running_loop().time() > deadline:
                raise TimeoutError(f"{service.name} not ready after {timeout:.0f} s:\n{service.log_tail()}")
            await asyncio.sleep(0.2)


@asynccontextmanager
async def running_services(*, bootstrap_servers: str, database_urls: Mapping[str, str], ports: Mapping[str, int],
                           log_dir: Path, env: Mapping[str, str] | None = None,
                           ready_timeout: float = 90.0) -> AsyncIterator[dict[str, ServiceProcess]]:
    """Each service migrates its database, then serves its API with its relay and consumer."""
    log_dir.mkdir(parents=True, exist_ok=True)
    services: dict[str, ServiceProcess] = {}
    try:
        for name, port in ports.items():
            services[name] = spawn(name, [sys.executable, "-m", f"ltc.{name}", "serve"], {
                **(env or {}),
                "KAFKA_BOOTSTRAP_SERVERS": bootstrap_servers,
                f"LTC_{name.upper()}_DATABASE_URL": database_urls[name],
                f"LTC_{name.upper()}_PORT": str(port),
            }, port, log_dir)
        await asyncio.gather(*(wait_ready(s, ready_timeout) for s in services.values()))
        yield services
    finally:
        for service in services.values():
            service.stop()
