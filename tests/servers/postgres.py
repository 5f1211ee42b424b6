"""A real throwaway PostgreSQL cluster for tests, on a free 127.0.0.1 port.

Fixtures:
    postgres_server: session-scoped :class:`PostgresServer` (initdb + postgres in the
        foreground, stopped and deleted at the end of the session).
    postgres_url: a fresh, empty database for one test (``postgresql+psycopg://``
        URL), dropped afterwards.
    postgres_module_db: a database shared by the tests of one module.
    postgres_schema_url: a fresh, empty schema for one test inside the module's
        database (the URL sets ``search_path``), dropped afterwards; much faster
        than a database per test (CREATE DATABASE costs about 0.3 s).

Recipe (shared/reference/SERVICES.md §5): ``initdb`` and ``postgres`` refuse to run
as root, so as root they run as the ``postgres`` user through ``runuser``; the data
lives in a temp dir owned by that user. Durability is off (``fsync``,
``synchronous_commit``, ``full_page_writes``): the cluster is thrown away.
Missing binaries skip the tests, or fail them under ``CI=true``.
"""

from __future__ import annotations

import contextlib
import glob
import os
import pwd
import shutil
import subprocess
import uuid
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from tests.servers._proc import (
    HOST,
    LocalServer,
    ManagedProcess,
    ServerStartError,
    free_port,
    make_base_dir,
    missing,
    require_module,
)

if TYPE_CHECKING:
    from collections.abc import Iterator

RUN_AS = "postgres"
SUPERUSER = "postgres"


def _bin_dir() -> Path | None:
    """Return the directory holding initdb/postgres/pg_ctl, newest version first."""
    candidates = sorted(glob.glob("/usr/lib/postgresql/*/bin"), reverse=True)
    for directory in candidates:
        if all(Path(directory, b).is_file() for b in ("initdb", "postgres", "pg_ctl")):
            return Path(directory)
    found = shutil.which("initdb")
    if found and shutil.which("postgres") and shutil.which("pg_ctl"):
        return Path(found).resolve().parent
    return None


class PostgresServer(LocalServer):
    """A running PostgreSQL cluster with a trusted superuser ``postgres``."""

    def __init__(self, base_dir: Path, port: int, bindir: Path) -> None:
        super().__init__(base_dir)
        self.port = port
        self.bindir = bindir
        self.data_dir = base_dir / "data"
        self.socket_dir = base_dir
        self.user = RUN_AS if os.geteuid() == 0 else None
        if self.user is not None:
            entry = pwd.getpwnam(self.user)
            os.chown(base_dir, entry.pw_uid, entry.pw_gid)
        self._run(
            [
                str(bindir / "initdb"),
                "-D",
                str(self.data_dir),
                "-U",
                SUPERUSER,
                "-A",
                "trust",
                "-E",
                "UTF8",
                "--locale=C.UTF-8",
                "--no-sync",
            ]
        )
        argv = self._as_user(
            [
                str(bindir / "postgres"),
                "-D",
                str(self.data_dir),
                "-p",
                str(port),
                "-k",
                str(self.socket_dir),
                "-c",
                f"listen_addresses={HOST}",
                "-c",
                "fsync=off",
                "-c",
                "synchronous_commit=off",
                "-c",
                "full_page_writes=off",
                "-c",
                "max_connections=50",
            ]
        )
        self.process = ManagedProcess(
            f"postgres on port {port}",
            argv,
            log_path=base_dir / "postgres.log",
            ready=self._accepts,
            cwd=base_dir,
        )

    def _as_user(self, argv: list[str]) -> list[str]:
        return ["runuser", "-u", self.user, "--", *argv] if self.user else argv

    def _run(self, argv: list[str]) -> None:
        proc = subprocess.run(
            self._as_user(argv), capture_output=True, text=True, cwd=self.base_dir, check=False
        )
        if proc.returncode != 0:
            raise ServerStartError(
                f"{' '.join(argv)} failed ({proc.returncode}):\n{proc.stdout}{proc.stderr}"
            )

    def _accepts(self) -> bool:
        import psycopg

        try:
            with psycopg.connect(self.dsn("postgres"), connect_timeout=1):
                return True
        except psycopg.OperationalError:
            return False

    def dsn(self, database: str) -> str:
        """A libpq connection string for ``database``."""
        return f"host={HOST} port={self.port} user={SUPERUSER} dbname={database}"

    def url(self, database: str, *, schema: str | None = None) -> str:
        """The SQLAlchemy URL of ``database`` (with ``search_path`` = ``schema``)."""
        url = f"postgresql+psycopg://{SUPERUSER}@{HOST}:{self.port}/{database}"
        return f"{url}?options=-csearch_path%3D{schema}" if schema else url

    def create_database(self) -> str:
        """Create a fresh empty database and return its name."""
        import psycopg

        name = f"t_{uuid.uuid4().hex[:12]}"
        with psycopg.connect(self.dsn("postgres"), autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
        return name

    def drop_database(self, name: str) -> None:
        """Drop ``name``, disconnecting whoever still uses it."""
        import psycopg

        with psycopg.connect(self.dsn("postgres"), autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')

    def stop(self, *, kill: bool = False) -> None:
        """Stop the cluster: a clean fast shutdown unless ``kill`` (a crash)."""
        if self.process.running and not kill:
            with contextlib.suppress(ServerStartError, OSError):
                pg_ctl = str(self.bindir / "pg_ctl")
                self._run(
                    [pg_ctl, "-D", str(self.data_dir), "-m", "fast", "-w", "-t", "20", "stop"]
                )
        self.process.stop(kill=kill)


def launch_postgres() -> PostgresServer:
    """Start a new cluster on a free port, or skip/fail if PostgreSQL is not installed.

    Raises:
        ServerStartError: initdb failed or the server did not come up.
    """
    require_module("psycopg", package="psycopg[binary]")
    bindir = _bin_dir()
    if bindir is None:
        missing("PostgreSQL server binaries (initdb, postgres) not found (apt postgresql-15)")
        raise AssertionError("unreachable")  # pragma: no cover
    if os.geteuid() == 0:
        try:
            pwd.getpwnam(RUN_AS)
        except KeyError:
            missing(f"user {RUN_AS!r} missing (Debian postgresql creates it)")
    base = make_base_dir("dfc-pg-")
    try:
        server = PostgresServer(base, free_port(), bindir)
        server.start()
    except BaseException:
        shutil.rmtree(base, ignore_errors=True)
        raise
    return server


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[PostgresServer]:
    """A session-wide PostgreSQL cluster; stopped and deleted at the end."""
    server = launch_postgres()
    try:
        yield server
    finally:
        server.close()


@pytest.fixture
def postgres_url(postgres_server: PostgresServer) -> Iterator[str]:
    """The URL of a fresh empty database, dropped after the test."""
    name = postgres_server.create_database()
    try:
        yield postgres_server.url(name)
    finally:
        postgres_server.drop_database(name)


@pytest.fixture(scope="module")
def postgres_module_db(postgres_server: PostgresServer) -> Iterator[str]:
    """The name of a database shared by one test module, dropped afterwards."""
    name = postgres_server.create_database()
    try:
        yield name
    finally:
        postgres_server.drop_database(name)


@pytest.fixture
def postgres_schema_url(postgres_server: PostgresServer, postgres_module_db: str) -> Iterator[str]:
    """The URL of a fresh empty schema in the module's database, dropped after the test."""
    import psycopg

    schema = f"s_{uuid.uuid4().hex[:12]}"
    dsn = postgres_server.dsn(postgres_module_db)
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute(f'CREATE SCHEMA "{schema}"')
    try:
        yield postgres_server.url(postgres_module_db, schema=schema)
    finally:
        with psycopg.connect(dsn, autocommit=True) as conn:
            conn.execute(f'DROP SCHEMA "{schema}" CASCADE')
