"""A throwaway PostgreSQL server for tests: Debian's ``initdb``/``pg_ctl``, loopback only.

The server lives in a temporary folder (data directory, socket, log), listens on
``127.0.0.1`` on a free port with ``trust`` authentication for loopback, and is removed by
:meth:`PgServer.stop`. As root, PostgreSQL refuses to run, so every server command runs as the
unprivileged ``postgres`` user (``runuser -u postgres --``) and the folder is handed to it.

Anything that keeps the server from starting raises :class:`PgServerError` with one line that
says why (binaries missing, initdb/pg_ctl output, port taken), so a test can fail with it.

Example:
    >>> server = PgServer.start()  # doctest: +SKIP
    >>> url = server.new_database("study_a")  # doctest: +SKIP
    >>> server.pause(); server.resume()  # a restart: connections cut, data kept  # doctest: +SKIP
    >>> server.stop()  # doctest: +SKIP
"""

from __future__ import annotations

import glob
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

__all__ = ["PgServer", "PgServerError", "find_bindir"]

_USER = "postgres"  # the database superuser created by initdb (-U)


class PgServerError(RuntimeError):
    """The test PostgreSQL server could not be started or used (one line)."""


def find_bindir() -> Path:
    """The newest ``/usr/lib/postgresql/<version>/bin`` holding ``initdb`` and ``pg_ctl``."""
    found = []
    for initdb in glob.glob("/usr/lib/postgresql/*/bin/initdb"):
        bindir = Path(initdb).parent
        version = bindir.parent.name
        if (bindir / "pg_ctl").is_file():
            key = int(version) if version.isdigit() else 0
            found.append((key, bindir))
    if not found:
        on_path = shutil.which("initdb")
        if on_path and shutil.which("pg_ctl"):
            return Path(on_path).parent
        raise PgServerError(
            "PostgreSQL server binaries not found (no /usr/lib/postgresql/*/bin/initdb): "
            "install Debian's postgresql package (make system-deps)"
        )
    return max(found)[1]


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _one_line(text: str, limit: int = 400) -> str:
    lines = [ln.strip() for ln in text.strip().splitlines() if ln.strip()]
    # The last lines of initdb/pg_ctl output say what went wrong.
    return " | ".join(lines[-3:])[:limit] if lines else "(no output)"


@dataclass
class PgServer:
    """A running server: its folder, port, and how to run commands as its owner."""

    root: Path
    port: int
    bindir: Path
    run_as: list[str] = field(default_factory=list)
    _databases: int = 0

    @property
    def datadir(self) -> Path:
        return self.root / "data"

    @property
    def logfile(self) -> Path:
        return self.root / "server.log"

    def url(self, database: str = "postgres") -> str:
        """SQLAlchemy URL of ``database`` (bare ``postgresql://``, as users write it)."""
        return f"postgresql://{_USER}@127.0.0.1:{self.port}/{database}"

    # -- lifecycle -------------------------------------------------------------------------

    @classmethod
    def start(cls, timeout: float = 60.0) -> PgServer:
        """initdb a fresh cluster in a temporary folder and start it; raise PgServerError."""
        bindir = find_bindir()
        run_as: list[str] = []
        owner: pwd.struct_passwd | None = None
        if os.geteuid() == 0:
            try:
                owner = pwd.getpwnam("postgres")
            except KeyError:
                raise PgServerError(
                    "running as root but there is no 'postgres' system user to run the "
                    "server as (PostgreSQL refuses to run as root)"
                ) from None
            runuser = shutil.which("runuser")
            if runuser is None:
                raise PgServerError("running as root but 'runuser' is not installed")
            run_as = [runuser, "-u", owner.pw_name, "--"]
        root = Path(tempfile.mkdtemp(prefix="reglab-pg-"))
        if owner is not None:
            os.chown(root, owner.pw_uid, owner.pw_gid)
        os.chmod(root, 0o700)
        server = cls(root=root, port=0, bindir=bindir, run_as=run_as)
        try:
            server._initdb()
            last = ""
            for _ in range(3):  # a free port can be taken between probing and binding
                server.port = _free_port()
                try:
                    server._pg_ctl_start(timeout)
                    break
                except PgServerError as exc:
                    last = str(exc)
                    if "address already in use" not in last.lower():
                        raise
            else:
                raise PgServerError(last)
            server._wait_ready(timeout)
        except BaseException:
            server._cleanup()
            raise
        return server

    def stop(self) -> None:
        """Stop the server (fast shutdown) and delete its folder."""
        try:
            if (self.datadir / "postmaster.pid").exists():
                pg_ctl = str(self.bindir / "pg_ctl")
                self._run(
                    [pg_ctl, "-D", str(self.datadir), "-m", "immediate", "-w", "stop"],
                    timeout=60,
                    check=False,
                )
        finally:
            self._cleanup()

    def pause(self) -> None:
        """Stop the server as an administrator restarting it would (``pg_ctl stop -m fast``:
        open connections are cut), keeping its data, port and folder for :meth:`resume`."""
        self._run(
            [str(self.bindir / "pg_ctl"), "-D", str(self.datadir), "-m", "fast", "-w", "stop"],
            timeout=60,
        )

    def resume(self, timeout: float = 60.0) -> None:
        """Start a paused server again on the same port and wait until it accepts connections."""
        self._pg_ctl_start(timeout)
        self._wait_ready(timeout)

    # -- databases -------------------------------------------------------------------------

    def new_database(self, prefix: str = "t") -> str:
        """Create an empty database with a fresh name and return its URL."""
        import psycopg2

        self._databases += 1
        name = f"{prefix}_{os.getpid()}_{self._databases}".lower()
        conn = psycopg2.connect(host="127.0.0.1", port=self.port, user=_USER, dbname="postgres")
        try:
            conn.autocommit = True
            with conn.cursor() as cur:
                cur.execute(f'CREATE DATABASE "{name}"')
        finally:
            conn.close()
        return self.url(name)

    def sql(self, database: str, query: str, params: tuple[object, ...] = ()) -> list[tuple]:
        """Run one query on ``database`` and return its rows (for assertions)."""
        import psycopg2

        conn = psycopg2.connect(host="127.0.0.1", port=self.port, user=_USER, dbname=database)
        try:
            with conn.cursor() as cur:
                cur.execute(query, params)
                return list(cur.fetchall()) if cur.description else []
        finally:
            conn.close()

    # -- internals -------------------------------------------------------------------------

    def _run(
        self, args: list[str], *, timeout: float, check: bool = True
    ) -> subprocess.CompletedProcess[str]:
        # cwd inside our folder: runuser keeps the cwd, which the postgres user may not read.
        proc = subprocess.run(
            [*self.run_as, *args],
            cwd=self.root,
            capture_output=True,
            text=True,
            timeout=timeout,
            env={**os.environ, "LC_ALL": "C.UTF-8", "LANG": "C.UTF-8"},
        )
        if check and proc.returncode != 0:
            raise PgServerError(
                f"{Path(args[0]).name} failed (exit {proc.returncode}): "
                f"{_one_line(proc.stderr + proc.stdout)}"
            )
        return proc

    def _initdb(self) -> None:
        self._run(
            [
                str(self.bindir / "initdb"),
                "-D",
                str(self.datadir),
                "-U",
                _USER,
                "--auth=trust",
                "--encoding=UTF8",
                "--no-sync",
            ],
            timeout=120,
        )

    def _pg_ctl_start(self, timeout: float) -> None:
        # Loopback TCP only; the Unix socket goes in our folder (not /var/run/postgresql);
        # fsync off: a throwaway test cluster never needs crash safety.
        options = (
            f"-h 127.0.0.1 -p {self.port} -k {self.root} -c fsync=off "
            "-c synchronous_commit=off -c full_page_writes=off -c max_connections=100"
        )
        proc = self._run(
            [
                str(self.bindir / "pg_ctl"),
                "-D",
                str(self.datadir),
                "-l",
                str(self.logfile),
                "-o",
                options,
                "-w",
                "-t",
                str(int(timeout)),
                "start",
            ],
            timeout=timeout + 10,
            check=False,
        )
        if proc.returncode != 0:
            log = self.logfile.read_text(errors="replace") if self.logfile.exists() else ""
            raise PgServerError(
                f"pg_ctl start failed (exit {proc.returncode}): {_one_line(log or proc.stderr)}"
            )

    def _wait_ready(self, timeout: float) -> None:
        import psycopg2

        deadline = time.monotonic() + timeout
        last: Exception | None = None
        while time.monotonic() < deadline:
            try:
                psycopg2.connect(
                    host="127.0.0.1", port=self.port, user=_USER, dbname="postgres"
                ).close()
                return
            except psycopg2.OperationalError as exc:
                last = exc
                time.sleep(0.2)
        raise PgServerError(f"server on port {self.port} never accepted connections: {last}")

    def _cleanup(self) -> None:
        shutil.rmtree(self.root, ignore_errors=True)
