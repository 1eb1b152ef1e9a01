"""A throw-away PostgreSQL server for tests (Debian's ``postgresql`` package).

``postgres_url`` (session fixture) runs ``initdb`` into a fresh temporary folder, starts
``postgres`` on 127.0.0.1 with a free port (trust authentication, fsync off: it is thrown away),
creates a database and yields its SQLAlchemy URL; afterwards it stops the server and deletes the
folder. PostgreSQL refuses to run as root, so as root the server runs as the ``postgres`` system
user (created by the Debian package) through ``runuser``. Without the binaries, or without the
Python driver, the tests that use the fixture are skipped with the reason.

Use it from a test module in ``tests/`` with ``from pg import postgres_url  # noqa: F401``
(pytest puts ``tests/`` on ``sys.path``).
"""

from __future__ import annotations

import contextlib
import glob
import os
import pwd
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

__all__ = ["find_pg_bin", "postgres_server", "postgres_url"]


def find_pg_bin() -> Path | None:
    """The folder holding ``initdb`` and ``postgres`` (newest installed version), or None."""
    initdb = shutil.which("initdb")
    if initdb and shutil.which("postgres"):
        return Path(initdb).parent
    found = sorted(
        glob.glob("/usr/lib/postgresql/*/bin/initdb"),
        key=lambda p: (
            int(Path(p).parent.parent.name) if Path(p).parent.parent.name.isdigit() else 0
        ),
    )
    return Path(found[-1]).parent if found else None


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _as_user_prefix() -> tuple[list[str], str | None]:
    """Command prefix that drops root to the ``postgres`` user (and that user's name)."""
    if os.geteuid() != 0:
        return [], None
    try:
        pwd.getpwnam("postgres")
    except KeyError:
        pytest.skip("running as root and there is no 'postgres' user to run PostgreSQL as")
    runuser = shutil.which("runuser")
    if runuser is None:
        pytest.skip("running as root and `runuser` is missing; cannot start PostgreSQL")
    return [runuser, "-u", "postgres", "--"], "postgres"


@contextlib.contextmanager
def postgres_server(dbname: str = "hwprune") -> Iterator[str]:
    """Start a throw-away PostgreSQL server; yield ``postgresql://postgres@127.0.0.1:PORT/db``."""
    bindir = find_pg_bin()
    if bindir is None:
        pytest.skip("PostgreSQL is not installed (apt-get install postgresql)")
    try:
        import psycopg2  # noqa: F401
    except ImportError:
        pytest.skip("psycopg2 is not installed (pip install 'hwprune[postgres]')")
    prefix, user = _as_user_prefix()
    root = Path(tempfile.mkdtemp(prefix="hwprune-pg-"))
    os.chmod(root, 0o755)
    data = root / "data"
    if user is not None:
        entry = pwd.getpwnam(user)
        os.chown(root, entry.pw_uid, entry.pw_gid)
    proc: subprocess.Popen[bytes] | None = None
    log = root / "server.log"
    try:
        subprocess.run(
            [
                *prefix,
                str(bindir / "initdb"),
                "-D",
                str(data),
                "-A",
                "trust",
                "-U",
                "postgres",
                "-E",
                "UTF8",
                "--no-instructions",
            ],
            check=True,
            capture_output=True,
            timeout=120,
        )
        port = _free_port()
        with open(log, "wb") as out:
            proc = subprocess.Popen(
                [
                    *prefix,
                    str(bindir / "postgres"),
                    "-D",
                    str(data),
                    "-h",
                    "127.0.0.1",
                    "-p",
                    str(port),
                    "-k",
                    str(root),
                    "-c",
                    "fsync=off",
                    "-c",
                    "synchronous_commit=off",
                    "-c",
                    "full_page_writes=off",
                    "-c",
                    "max_connections=100",
                ],
                stdout=out,
                stderr=subprocess.STDOUT,
            )
        deadline = time.monotonic() + 60
        import psycopg2

        while True:
            try:
                conn = psycopg2.connect(
                    host="127.0.0.1",
                    port=port,
                    user="postgres",
                    dbname="postgres",
                    connect_timeout=2,
                )
                break
            except psycopg2.OperationalError:
                if proc.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(
                        "PostgreSQL did not start:\n" + log.read_text(errors="replace")[-2000:]
                    ) from None
                time.sleep(0.2)
        conn.autocommit = True
        with conn.cursor() as cur:
            cur.execute(f'CREATE DATABASE "{dbname}"')
        conn.close()
        yield f"postgresql://postgres@127.0.0.1:{port}/{dbname}"
    finally:
        if proc is not None and proc.poll() is None:
            # "fast" shutdown: disconnects clients (the test process may still pool some)
            subprocess.run(
                [*prefix, str(bindir / "pg_ctl"), "stop", "-D", str(data), "-m", "fast", "-w"],
                capture_output=True,
                timeout=60,
                check=False,
            )
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                proc.send_signal(signal.SIGKILL)
                proc.wait()
        shutil.rmtree(root, ignore_errors=True)


@pytest.fixture(scope="session")
def postgres_url() -> Iterator[str]:
    """Session-wide throw-away PostgreSQL database URL (see module docstring)."""
    with postgres_server() as url:
        yield url
