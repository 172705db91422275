"""Start the four services as processes (`ltc-<service> serve`) and wait until each is ready.

Used by `make run` and by the end-to-end tests, so both run the system the same way.
"""

from __future__ import annotations

import asyncio
import os
import signal
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


def configured_ports() -> dict[str, int]:
    return {name: int(os.environ.get(f"LTC_{name.upper()}_PORT", port)) for name, port in DEFAULT_PORTS.items()}


async def _wait_ready(service: ServiceProcess, timeout: float) -> None:
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
            process_env = {
                **os.environ, **(env or {}),
                "KAFKA_BOOTSTRAP_SERVERS": bootstrap_servers,
                f"LTC_{name.upper()}_DATABASE_URL": database_urls[name],
                f"LTC_{name.upper()}_PORT": str(port),
            }
            log_path = log_dir / f"{name}.log"
            with log_path.open("ab") as log:
                # Own process group: Ctrl-C in the terminal reaches the supervisor, which then
                # stops each service in order instead of all dying mid-request.
                process = subprocess.Popen([sys.executable, "-m", f"ltc.{name}", "serve"], env=process_env,
                                           stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
            services[name] = ServiceProcess(name, port, process, log_path)
        await asyncio.gather(*(_wait_ready(s, ready_timeout) for s in services.values()))
        yield services
    finally:
        for service in services.values():
            service.stop()
