"""Test helpers: free ports, a real `strata compute --standalone` process, a real PostgreSQL 15."""

from __future__ import annotations

import contextlib
import os
import random
import shutil
import signal
import socket
import struct
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
PG_BIN = Path("/usr/lib/postgresql/15/bin")


PORT_FLOOR = 20000
"""Test servers listen on ports from here up to Linux's ephemeral range (``ephemeral_low``)."""
_handed_out: set[int] = set()
"""Ports ``free_port``/``port_block`` gave in this process: never given twice, so two servers
picked before either binds cannot get the same port."""


def outcome(fn: object, arg: object) -> tuple[object, ...]:
    """``fn(arg)``'s result or the exception it raised (type and text), for comparing a fast
    path with the general code it stands in for."""
    try:
        return ("ok", fn(arg))  # type: ignore[operator]
    except Exception as exc:  # noqa: BLE001 - the outcome compared is the exception itself
        return ("error", type(exc), str(exc))


def ephemeral_low() -> int:
    """The first port of Linux's ephemeral range. Outgoing connections take ports from there at
    any moment, so a test server's port (bound again after each restart of a crash test, or
    by a cluster's process a while after it was picked) is chosen below it: a CI run lost a
    replica's port, picked in that range, to an outgoing connection before it bound it."""
    try:
        return int(Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return 32768


def _bindable(port: int) -> bool:
    with socket.socket() as s:
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def port_block(n: int) -> int:
    """The first of ``n`` consecutive free ports on 127.0.0.1, below the ephemeral range."""
    top = max(ephemeral_low(), PORT_FLOOR + 1000)
    for _ in range(1000):
        base = random.randrange(PORT_FLOOR, top - n)
        ports = range(base, base + n)
        if not _handed_out.intersection(ports) and all(_bindable(p) for p in ports):
            _handed_out.update(ports)
            return base
    raise RuntimeError(f"no {n} consecutive free ports below {top}")


def free_port() -> int:
    """A free port on 127.0.0.1 for a test server (``port_block``)."""
    return port_block(1)


def wait_for_port(port: int, proc: subprocess.Popen[bytes] | None = None,
                  timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            raise RuntimeError(f"process exited with {proc.returncode} before listening")
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), 0.2):
            return
        time.sleep(0.05)
    raise TimeoutError(f"nothing listening on 127.0.0.1:{port} after {timeout}s")


def answers_postgres(port: int, proc: subprocess.Popen[bytes], timeout: float = 10.0) -> bool:
    """Whether ``proc`` is what listens on ``port``: it is alive and the port answers an
    SSLRequest as a PostgreSQL server does ('S' or 'N'), not as some other server."""
    with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), timeout) as sock:
        sock.settimeout(timeout)
        sock.sendall(struct.pack("!ii", 8, 80877103))
        answer = sock.recv(1)
        return answer in (b"S", b"N") and proc.poll() is None
    return False


def stop_process(proc: subprocess.Popen[bytes] | None, grace_s: float = 10.0) -> None:
    """SIGTERM a child, then SIGKILL it if it has not exited within ``grace_s``; reap it."""
    if proc is None or proc.poll() is not None:
        return
    proc.terminate()
    try:
        proc.wait(grace_s)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(grace_s)


@dataclass
class StrataProcess:
    """A `strata compute --standalone` process that tests can kill -9 and restart."""

    data_dir: Path
    port: int = field(default_factory=free_port)
    extra_args: list[str] = field(default_factory=list)
    proc: subprocess.Popen[bytes] | None = None
    log_path: Path | None = None

    def start(self) -> StrataProcess:
        """Start the compute; on its first start, a port another process took between
        ``free_port()`` and our bind is replaced by a new one (a restart keeps its port)."""
        first_start = self.proc is None
        for _ in range(3):
            self.log_path = self.data_dir.parent / f"strata-{self.port}.log"
            log = open(self.log_path, "ab")  # noqa: SIM115 - handed to the child
            env = dict(os.environ, PYTHONUNBUFFERED="1")
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "strata", "compute", "--standalone",
                 "--listen", f"127.0.0.1:{self.port}", "--data-dir", str(self.data_dir),
                 *self.extra_args],
                stdout=log, stderr=subprocess.STDOUT, cwd=REPO, env=env)
            log.close()
            wait_for_port(self.port, self.proc)
            if answers_postgres(self.port, self.proc):
                return self
            stop_process(self.proc)
            if not first_start:
                break
            self.port = free_port()
        raise RuntimeError(f"127.0.0.1:{self.port} is served by another process, not this compute "
                           f"(see {self.log_path})")

    @property
    def dsn(self) -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/postgres"

    def kill9(self) -> None:
        assert self.proc is not None
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(10)

    def stop(self) -> None:
        stop_process(self.proc)

    def log_text(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path else ""


TEST_RUN_ENV = "STRATA_TEST_RUN"
"""Set to the test process's PID in its environment, so every process a test starts (and
theirs: a `strata up` cluster's daemon and services, a PostgreSQL oracle) carries it."""

_AFTER_DEATH = """
import os, shutil, signal, subprocess, sys, time
parent, what = int(sys.argv[1]), sys.argv[2]
while True:
    try:
        os.kill(parent, 0)
    except ProcessLookupError:
        break
    time.sleep(1)
if what == "oracle":
    pg_ctl, data, root = sys.argv[3:6]
    cmd = [pg_ctl, "-D", data, "-m", "immediate", "stop"]
    if os.geteuid() == 0:
        cmd = ["runuser", "-u", "postgres", "--", *cmd]
    subprocess.run(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    shutil.rmtree(root, ignore_errors=True)
else:
    mark = ("%s=%d" % (what, parent)).encode()
    for pid in os.listdir("/proc"):
        if not pid.isdigit() or int(pid) == os.getpid():
            continue
        try:
            with open("/proc/%s/environ" % pid, "rb") as f:
                env = f.read().split(b"\\0")
        except OSError:
            continue
        if mark in env:
            try:
                os.kill(int(pid), signal.SIGKILL)
            except OSError:
                pass
"""
"""Run by ``after_death``: waits for the test process to end (polled every second), then
either stops one PostgreSQL oracle and removes its folder (``oracle``), or SIGKILLs every
process whose environment has ``<what>=<test pid>``. A killed pytest run used to leave its
computes, clusters and oracles running until someone found them by hand."""


def after_death(*args: str) -> subprocess.Popen[bytes]:
    """Start ``_AFTER_DEATH`` for this process with ``args``; the caller kills it once it has
    cleaned up itself (the normal case)."""
    return subprocess.Popen([sys.executable, "-c", _AFTER_DEATH, str(os.getpid()), *args],
                            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL, start_new_session=True,
                            env={k: v for k, v in os.environ.items() if k != TEST_RUN_ENV})


def start_reaper() -> subprocess.Popen[bytes]:
    """Mark this process's environment (``TEST_RUN_ENV``) and start the process that, once
    this one is gone without stopping it, SIGKILLs every process still carrying the mark."""
    os.environ[TEST_RUN_ENV] = str(os.getpid())
    return after_death(TEST_RUN_ENV)


def stop_reaper(reaper: subprocess.Popen[bytes]) -> None:
    reaper.kill()
    reaper.wait()


@dataclass
class PostgresOracle:
    """A real PostgreSQL 15 server run as the `postgres` user with the C.UTF-8 locale."""

    root: Path
    port: int = field(default_factory=free_port)
    _watcher: subprocess.Popen[bytes] | None = field(default=None, repr=False)

    @property
    def data(self) -> Path:
        return self.root / "data"

    @property
    def dsn(self) -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/postgres"

    def _as_postgres(self, *args: str) -> None:
        cmd = list(args)
        if os.geteuid() == 0:
            cmd = ["runuser", "-u", "postgres", "--", *cmd]
        subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)

    def start(self) -> PostgresOracle:
        self.root.mkdir(parents=True, exist_ok=True)
        if os.geteuid() == 0:
            shutil.chown(self.root, "postgres", "postgres")
        self._as_postgres(str(PG_BIN / "initdb"), "-D", str(self.data), "-U", "postgres",
                          "--auth=trust", "--locale=C.UTF-8", "--encoding=UTF8")
        self._as_postgres(str(PG_BIN / "pg_ctl"), "-D", str(self.data), "-w", "-l",
                          str(self.root / "pg.log"), "-o",
                          f"-p {self.port} -k {self.root} -c listen_addresses=127.0.0.1",
                          "start")
        self._watcher = after_death("oracle", str(PG_BIN / "pg_ctl"), str(self.data), str(self.root))
        return self

    def stop(self) -> None:
        with contextlib.suppress(subprocess.CalledProcessError):
            self._as_postgres(str(PG_BIN / "pg_ctl"), "-D", str(self.data), "-m", "immediate",
                              "stop")
        if self._watcher is not None:
            self._watcher.kill()
            self._watcher.wait()
            self._watcher = None


def tmp_root(prefix: str) -> Path:
    """A temporary folder the `postgres` user can enter (for oracles)."""
    path = Path(tempfile.mkdtemp(prefix=prefix))
    path.chmod(0o755)
    return path


def dirtied_by_this_thread() -> int:
    """Bytes this thread has dirtied in the page cache (the kernel's ``write_bytes``)."""
    for line in Path("/proc/thread-self/io").read_text().splitlines():
        if line.startswith("write_bytes:"):
            return int(line.split()[1])
    raise AssertionError("no write_bytes in /proc/thread-self/io")
