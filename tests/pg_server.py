"""A real, throw-away PostgreSQL server on loopback for tests (initdb + pg_ctl in a temp dir).

The Debian server refuses to run as root, so as root it runs as the ``postgres`` user via ``runuser``.
"""

from __future__ import annotations

import contextlib
import glob
import os
import shutil
import socket
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path


def find_bin() -> Path | None:
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"))
    if found:
        return Path(found[-1]).parent
    initdb = shutil.which("initdb")
    return Path(initdb).parent if initdb else None


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextlib.contextmanager
def postgres_server() -> Iterator[str]:
    """Start a server in a fresh temp dir and yield its SQLAlchemy URL; stop and remove it afterwards.

    The dir is made directly under the system temp dir: pytest's tmp_path (mode 700, root's) is not
    reachable by the ``postgres`` user.
    """
    bindir = find_bin()
    if bindir is None:
        raise RuntimeError("PostgreSQL server binaries not found (Debian package 'postgresql'); .ci/run installs it")
    base = Path(tempfile.mkdtemp(prefix="nas-edge-pg-"))
    as_root = os.geteuid() == 0
    prefix = ["runuser", "-u", "postgres", "--"] if as_root else []
    if as_root:
        shutil.chown(base, "postgres", "postgres")
        os.chmod(base, 0o700)
    data, sock, log = base / "data", base, base / "server.log"
    port = _free_port()

    def run(*args: object) -> None:
        r = subprocess.run([*prefix, *map(str, args)], capture_output=True, text=True, check=False)
        if r.returncode:
            raise RuntimeError(f"{args[0]} failed ({r.returncode}): {r.stderr or r.stdout}")

    try:
        run(bindir / "initdb", "-A", "trust", "-U", "postgres", "-D", data)
        run(bindir / "pg_ctl", "-D", data, "-l", log, "-w", "-t", "30",
            "-o", f"-p {port} -k {sock} -c listen_addresses=127.0.0.1 -c max_connections=100 "
            "-c synchronous_commit=off", "start")
        yield f"postgresql://postgres@127.0.0.1:{port}/postgres"  # the default driver (psycopg 3)
    finally:
        subprocess.run([*prefix, str(bindir / "pg_ctl"), "-D", str(data), "-m", "immediate", "-w", "stop"],
                       check=False, capture_output=True)
        shutil.rmtree(base, ignore_errors=True)
