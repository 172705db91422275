"""A single-node Apache Kafka broker (KRaft, combined broker and controller) run from Maven jars."""

from __future__ import annotations

import asyncio
import base64
import fcntl
import hashlib
import os
import shutil
import signal
import subprocess
import uuid
from pathlib import Path

import psutil
from aiokafka.admin import AIOKafkaAdminClient
from aiokafka.errors import KafkaError


class LocalKafka:
    """One broker listening on 127.0.0.1:`port` (clients) and 127.0.0.1:`controller_port` (KRaft).

    `home` is `deploy/local/kafka` (pom.xml, log4j2.yaml, libs/); everything the broker writes
    goes under `data_dir`, which keeps its topics across restarts.
    """

    def __init__(self, home: Path, data_dir: Path, port: int, controller_port: int, heap: str = "512m",
                 *, partitions: int = 3) -> None:
        self.home = home.resolve()
        self.data_dir = data_dir.resolve()
        self.port = port
        self.controller_port = controller_port
        self.heap = heap
        self.partitions = partitions
        self.config_file = self.data_dir / "server.properties"
        self.log_file = self.data_dir / "broker.log"
        self._pid_file = self.data_dir / "broker.pid"
        self._proc: subprocess.Popen[bytes] | None = None

    @property
    def bootstrap_servers(self) -> str:
        return f"127.0.0.1:{self.port}"

    def ensure_jars(self) -> None:
        """Fetch the broker jars into `home/libs` with Maven, unless a complete set for this pom.xml is there."""
        libs = self.home / "libs"
        marker = libs / ".complete"
        with (self.home / "pom.xml").open("rb") as pom:
            # Serialises concurrent test sessions; the pom is the one file they all share.
            fcntl.flock(pom, fcntl.LOCK_EX)
            stamp = hashlib.sha256(pom.read()).hexdigest()
            if marker.is_file() and marker.read_text() == stamp:
                return
            missing = [tool for tool in ("java", "mvn") if shutil.which(tool) is None]
            if missing:
                raise RuntimeError(f"the local Kafka broker needs a JDK (17+) and Maven; not on PATH: {missing}")
            # Start clean so jars of a previous Kafka version cannot end up on the classpath.
            shutil.rmtree(libs, ignore_errors=True)
            result = subprocess.run(
                ["mvn", "-q", "-B", "dependency:copy-dependencies", "-DincludeScope=runtime", "-DoutputDirectory=libs"],
                cwd=self.home, stdin=subprocess.DEVNULL, capture_output=True, text=True,
            )
            if result.returncode:
                raise RuntimeError(f"mvn could not fetch the Kafka jars:\n{result.stdout}{result.stderr}")
            marker.write_text(stamp)

    def start(self) -> None:
        """Launch the broker in the background (formatting its storage on first use); see `wait_ready`."""
        self.ensure_jars()
        self.data_dir.mkdir(parents=True, exist_ok=True)
        self._kill_leftover()
        self.config_file.write_text(self._server_properties())
        if not (self.data_dir / "kraft" / "meta.properties").exists():
            result = subprocess.run(
                [*self._java(), "kafka.tools.StorageTool", "format", "-t", _cluster_id(), "-c", str(self.config_file)],
                stdin=subprocess.DEVNULL, capture_output=True, text=True,
            )
            if result.returncode:
                raise RuntimeError(f"formatting Kafka storage failed:\n{result.stdout}{result.stderr}")
        with self.log_file.open("ab") as log:
            # Own process group: a terminal Ctrl-C must not kill the broker behind stop()'s back.
            self._proc = subprocess.Popen(
                [*self._java(), f"-Xms{self.heap}", f"-Xmx{self.heap}", "-XX:+UseG1GC", "kafka.Kafka",
                 str(self.config_file)],
                cwd=self.data_dir, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        self._pid_file.write_text(str(self._proc.pid))

    async def wait_ready(self, timeout: float = 60) -> None:
        """Return once a client sees this broker in the cluster metadata."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while True:
            if self._proc is None:
                raise RuntimeError("LocalKafka.wait_ready() called before start()")
            if (code := self._proc.poll()) is not None:
                raise RuntimeError(f"Kafka broker exited with code {code}\n{_tail(self.log_file)}")
            if await self._answers():
                return
            if loop.time() > deadline:
                raise TimeoutError(f"Kafka broker not ready after {timeout:g}s\n{_tail(self.log_file)}")
            await asyncio.sleep(0.2)

    def stop(self) -> None:
        """SIGTERM the broker's process group; SIGKILL it if it has not exited after 15 s."""
        if self._proc is not None:
            _signal_group(self._proc.pid, signal.SIGTERM)
            try:
                self._proc.wait(15)
            except subprocess.TimeoutExpired:
                _signal_group(self._proc.pid, signal.SIGKILL)
                self._proc.wait()
            self._proc = None
        self._pid_file.unlink(missing_ok=True)

    async def _answers(self) -> bool:
        # Probe the port first: aiokafka logs an error for every refused bootstrap attempt.
        try:
            _, writer = await asyncio.open_connection("127.0.0.1", self.port)
        except OSError:
            return False
        writer.close()
        await writer.wait_closed()
        admin = AIOKafkaAdminClient(bootstrap_servers=self.bootstrap_servers, request_timeout_ms=5000)
        try:
            await admin.start()
            return bool((await admin.describe_cluster())["brokers"])
        except KafkaError:
            return False
        finally:
            await admin.close()

    def _kill_leftover(self) -> None:
        # A broker of an earlier run that died uncleanly would still hold the ports and the log dir lock.
        try:
            proc = psutil.Process(int(self._pid_file.read_text()))
            if str(self.config_file) not in proc.cmdline():
                return
        except (OSError, ValueError, psutil.Error):
            return
        _signal_group(proc.pid, signal.SIGKILL)
        psutil.wait_procs([proc], timeout=10)

    def _java(self) -> list[str]:
        return [
            "java", "-Djava.awt.headless=true",
            f"-Dlog4j2.configurationFile={self.home / 'log4j2.yaml'}",
            # Without this, log4j stops logging as soon as the JVM begins to shut down.
            "-Dlog4j2.shutdownHookEnabled=false",
            "-cp", f"{self.home / 'libs'}/*",
        ]

    def _server_properties(self) -> str:
        # Static voters rather than a dynamic (--standalone) quorum: nothing about the controller
        # endpoint is persisted, so the ports may change between runs on the same storage.
        props = {
            "process.roles": "broker,controller",
            "node.id": 1,
            "controller.quorum.voters": f"1@127.0.0.1:{self.controller_port}",
            "listeners": f"PLAINTEXT://127.0.0.1:{self.port},CONTROLLER://127.0.0.1:{self.controller_port}",
            "advertised.listeners": f"PLAINTEXT://127.0.0.1:{self.port}",
            "controller.listener.names": "CONTROLLER",
            "inter.broker.listener.name": "PLAINTEXT",
            "listener.security.protocol.map": "PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT",
            "log.dirs": self.data_dir / "kraft",
            "num.partitions": self.partitions,
            "auto.create.topics.enable": "false",
            "min.insync.replicas": 1,
            "offsets.topic.replication.factor": 1,
            "transaction.state.log.replication.factor": 1,
            "transaction.state.log.min.isr": 1,
            "share.coordinator.state.topic.replication.factor": 1,
            "share.coordinator.state.topic.min.isr": 1,
            "group.initial.rebalance.delay.ms": 0,
        }
        return "".join(f"{key}={value}\n" for key, value in props.items())


def _cluster_id() -> str:
    # Kafka's Uuid text form is unpadded URL-safe base64. Clearing the top bit keeps the first
    # character out of '-'/'_', since the storage tool would read a leading '-' as an option.
    raw = bytearray(uuid.uuid4().bytes)
    raw[0] &= 0x7F
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def _signal_group(pgid: int, sig: signal.Signals) -> None:
    try:
        os.killpg(pgid, sig)
    except ProcessLookupError:
        pass


def _tail(path: Path, lines: int = 40) -> str:
    try:
        return f"--- last lines of {path} ---\n" + "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except FileNotFoundError:
        return ""
