"""The systems and measurements of `bench/proxy_compare`.

PgBouncer (Debian package, transaction pooling, trust) in front of PostgreSQL 15; a
`strata up` cluster whose proxy port is chosen here too (bench_systems.Cluster leaves it at
the default 55432, which parallel runs would share); pgbench runs that report a failure
instead of raising (pgbench -M prepared through PgBouncer 1.18 in transaction mode is
expected to fail, and the table says so); and the failover measurement: a writer commits
one row every 10 ms through the proxy while the primary compute is SIGKILLed.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import subprocess
import threading
import time
from collections import deque
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit

import psycopg
from bench_systems import Cluster, Postgres, System, free_port_run

from tests.support import free_port, stop_process, tmp_root, wait_for_port

PGBOUNCER = "pgbouncer"
PGBOUNCER_POOL_SIZE = 10
"""Server connections per (database, user): the same as the proxy's default --pool-size."""
APT_TIMEOUT_S = 600
"""Bound on `apt-get install pgbouncer`."""
PORT_WAIT_S = 60.0
"""Bound on PgBouncer starting to listen."""
REPLICAS_WAIT_S = 180.0
"""Bound on replicas becoming healthy in the proxy (after `strata scale`) or coming back
after a failover."""
WRITE_EVERY_S = 0.010
"""The failover writer's pace: one commit per 10 ms."""
STALL_S = 0.100
"""A commit slower than this counts as the start of an unavailability window."""
WINDOW_WAIT_S = 60.0
"""Bound on waiting for commits to flow again after a kill."""
WRITER_CONNECT_TIMEOUT_S = 2
"""psycopg connect timeout (whole seconds) when the writer has to reconnect."""
KILL_SETTLE_S = 0.3
"""After a kill, commits must flow again past this before the window is read (a commit
that slipped in before the socket closed does not end it early)."""
MAX_ATTEMPTS = 500_000
"""Commit attempts the writer remembers (about 80 minutes at one per 10 ms)."""
RESTARTS_SAFE = 2
"""Before a kill, wait (bounded by STABLE_WAIT_S) until the primary slot has at most this
many consecutive restarts: the control plane marks a slot failed after 5 (its count resets
after 30 s running), and the benchmark must not be what breaks the cluster."""
STABLE_WAIT_S = 45.0


# ---- pgbench -------------------------------------------------------------------------------


@dataclass
class BenchRun:
    """One pgbench run: TPS, or why there is none."""

    tps: float | None
    error: str = ""
    failed_transactions: int = 0


def pgbench_run(port: int, args: list[str]) -> BenchRun:
    """pgbench against 127.0.0.1:port as postgres (password from PGPASSWORD); a failure is
    returned, not raised: its first error line says what happened."""
    cmd = ["pgbench", "-h", "127.0.0.1", "-p", str(port), "-U", "postgres", *args, "postgres"]
    done = subprocess.run(cmd, capture_output=True, text=True)
    out = done.stdout + done.stderr
    m = re.search(r"tps = ([\d.]+) \(without initial connection time\)", out)
    failed_m = re.search(r"number of failed transactions: (\d+)", out)
    failed = int(failed_m.group(1)) if failed_m else 0
    errors = [line.strip() for line in out.splitlines()
              if "ERROR" in line or "FATAL" in line or "aborted" in line or "error" in line]
    if done.returncode != 0 or m is None or failed:
        reason = errors[0] if errors else out.strip().splitlines()[-1] if out.strip() else "no output"
        return BenchRun(None, f"exit {done.returncode}: {reason[:300]}", failed)
    return BenchRun(float(m.group(1)))


# ---- PgBouncer -----------------------------------------------------------------------------


def ensure_pgbouncer(log: Any) -> str:
    """The pgbouncer binary; `apt-get install -y pgbouncer` first if it is missing."""
    found = shutil.which(PGBOUNCER) or ("/usr/sbin/pgbouncer" if Path("/usr/sbin/pgbouncer").exists() else None)
    if found:
        return found
    log("pgbouncer missing: apt-get install -y pgbouncer")
    env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
    cmd = ["apt-get", "install", "-y", "--no-install-recommends", PGBOUNCER]
    done = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=APT_TIMEOUT_S)
    if done.returncode != 0:  # a stale package list: update once, then retry
        subprocess.run(["apt-get", "update"], capture_output=True, env=env, timeout=APT_TIMEOUT_S)
        done = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=APT_TIMEOUT_S)
    if done.returncode != 0:
        raise RuntimeError(f"apt-get install pgbouncer failed:\n{done.stdout}{done.stderr}")
    # the package starts a system-wide pgbouncer on 6432 on some setups: not ours, leave it
    found = shutil.which(PGBOUNCER) or "/usr/sbin/pgbouncer"
    if not Path(found).exists():
        raise RuntimeError("pgbouncer installed but not found")
    return found


def pgbouncer_version(binary: str) -> str:
    done = subprocess.run([binary, "--version"], capture_output=True, text=True)
    return (done.stdout or done.stderr).strip().splitlines()[0] if (done.stdout or done.stderr) else "?"


class PgBouncer(System):
    """PgBouncer in transaction pooling mode (auth trust) in front of ``pg``, run as the
    `postgres` user (it refuses root) from a temporary directory."""

    name = "pgbouncer"

    def __init__(self, pg: Postgres, binary: str) -> None:
        self.pg = pg
        self.binary = binary
        self.root = tmp_root("bench-pgbouncer-")
        self.port = free_port()
        self.proc: subprocess.Popen[bytes] | None = None

    def config(self) -> str:
        return "\n".join([
            "[databases]",
            f"postgres = host=127.0.0.1 port={self.pg.port} dbname=postgres",
            "[pgbouncer]",
            "listen_addr = 127.0.0.1",
            f"listen_port = {self.port}",
            "unix_socket_dir =",
            "auth_type = trust",
            f"auth_file = {self.root}/userlist.txt",
            "pool_mode = transaction",
            f"default_pool_size = {PGBOUNCER_POOL_SIZE}",
            "max_client_conn = 1000",
            "ignore_startup_parameters = extra_float_digits",
            f"logfile = {self.root}/pgbouncer.log",
            f"pidfile = {self.root}/pgbouncer.pid",
            "",
        ])

    def start(self) -> None:
        (self.root / "userlist.txt").write_text('"postgres" ""\n')
        ini = self.root / "pgbouncer.ini"
        ini.write_text(self.config())
        cmd = [self.binary, str(ini)]
        if os.geteuid() == 0:
            for path in (self.root, ini, self.root / "userlist.txt"):
                shutil.chown(path, "postgres", "postgres")
            cmd = ["runuser", "-u", "postgres", "--", *cmd]
        with open(self.root / "stdout.log", "ab") as out:
            self.proc = subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT)
        wait_for_port(self.port, self.proc, PORT_WAIT_S)

    def stop(self) -> None:
        pidfile = self.root / "pgbouncer.pid"
        if pidfile.exists():  # runuser may not pass SIGTERM on: stop pgbouncer itself
            try:
                os.kill(int(pidfile.read_text().strip()), signal.SIGTERM)
            except (ValueError, ProcessLookupError):
                pass
        stop_process(self.proc)
        subprocess.run(["rm", "-rf", str(self.root)], check=False)


# ---- the Strata cluster with its proxy --------------------------------------------------------


class ProxyCluster(Cluster):
    """`strata up --detach` with ``replicas`` and the proxy on a free port."""

    name = "strata"

    def __init__(self, tree: Path, replicas: int) -> None:
        super().__init__(tree)
        self.replicas = replicas
        self.proxy_port = free_port()
        self.compute_port = free_port_run(6)
        self.port = self.compute_port

    def start(self) -> None:
        self.strata("up", "--detach", "--replicas", str(self.replicas),
                    "--logstore-port", str(self.logstore_port),
                    "--pageserver-port", str(self.pageserver_port),
                    "--compute-port", str(self.compute_port),
                    "--rest-port", str(self.rest_port),
                    "--proxy-port", str(self.proxy_port))
        self.port = self.primary_port()

    def dsn(self) -> str:
        """The proxy's DSN (with the password), as `strata status --json` gives it."""
        return str(self.status()["dsn"])

    def password(self) -> str:
        return unquote(urlsplit(self.dsn()).password or "")

    def proxy_rows(self, show: str) -> list[tuple[Any, ...]]:
        with psycopg.connect(self.dsn(), autocommit=True) as conn:
            return list(conn.execute(f"SHOW {show}").fetchall())

    def replica_ports(self) -> list[int]:
        return [int(str(c["address"]).rsplit(":", 1)[1]) for c in self.computes() if c["role"] == "replica"]

    def warm_replicas(self) -> dict[str, float]:
        """A full scan of pgbench_accounts on each replica, directly (seconds each): a fresh
        replica's page cache is empty, and the first seconds of reads would measure the page
        server, not the proxy."""
        took: dict[str, float] = {}
        for c in self.computes():
            if c["role"] != "replica":
                continue
            port = int(str(c["address"]).rsplit(":", 1)[1])
            t0 = time.monotonic()
            with psycopg.connect(f"postgresql://postgres@127.0.0.1:{port}/postgres",
                                 password=self.password(), autocommit=True) as conn:
                conn.execute("SELECT sum(abalance) FROM pgbench_accounts").fetchall()
                # the primary key index in order too: pgbench -S reads it at random
                conn.execute("SELECT count(*) FROM pgbench_accounts WHERE aid > 0").fetchall()
            took[str(c["name"])] = time.monotonic() - t0
        return took

    def wait_healthy_replicas(self, n: int, timeout_s: float = REPLICAS_WAIT_S) -> float:
        """Seconds until the proxy lists ``n`` healthy replicas and a healthy primary."""
        t0 = time.monotonic()
        while True:
            try:
                rows = self.proxy_rows("strata.servers")
                roles = [(str(r[1]), str(r[2])) for r in rows]
                if (roles.count(("replica", "yes")) >= n and ("primary", "yes") in roles):
                    return time.monotonic() - t0
            except psycopg.Error:
                pass
            if time.monotonic() - t0 > timeout_s:
                raise TimeoutError(f"no {n} healthy replicas in the proxy after {timeout_s}s")
            time.sleep(0.25)


# ---- failover ---------------------------------------------------------------------------------


@dataclass
class Attempt:
    start: float
    end: float
    ok: bool
    error: str = ""


@dataclass
class Writer:
    """One client committing one row every WRITE_EVERY_S through the proxy (autocommit
    INSERTs on one connection, reconnecting only if the proxy closes it)."""

    dsn: str
    attempts: deque[Attempt] = field(default_factory=lambda: deque(maxlen=MAX_ATTEMPTS))
    acked: set[int] = field(default_factory=set)
    reconnects: int = 0
    stop: threading.Event = field(default_factory=threading.Event)
    lock: threading.Lock = field(default_factory=threading.Lock)
    thread: threading.Thread | None = None

    def start(self) -> None:
        self.thread = threading.Thread(target=self._run, name="failover-writer", daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.stop.set()
        if self.thread is not None:
            self.thread.join(WINDOW_WAIT_S)

    def snapshot(self) -> list[Attempt]:
        with self.lock:
            return list(self.attempts)

    def _run(self) -> None:
        conn: psycopg.Connection[Any] | None = None
        i = 0
        next_at = time.monotonic()
        while not self.stop.is_set():
            i += 1
            t0 = time.monotonic()
            ok, error = False, ""
            try:
                if conn is None or conn.closed:
                    if conn is not None:
                        self.reconnects += 1
                    conn = psycopg.connect(self.dsn, autocommit=True,
                                           connect_timeout=WRITER_CONNECT_TIMEOUT_S)
                conn.execute("INSERT INTO bench_failover (id, at) VALUES (%s, %s)", (i, time.time()))
                ok = True
            except psycopg.Error as exc:
                error = f"{exc.sqlstate or type(exc).__name__}: {str(exc).splitlines()[0][:120] if str(exc) else ''}"
                if conn is not None and conn.broken:
                    conn.close()
            t1 = time.monotonic()
            with self.lock:
                self.attempts.append(Attempt(t0, t1, ok, error))
                if ok:
                    self.acked.add(i)
            next_at += WRITE_EVERY_S
            delay = next_at - time.monotonic()
            if delay > 0:
                time.sleep(delay)
            else:
                next_at = time.monotonic()
        if conn is not None:
            conn.close()


@dataclass
class KillResult:
    window_s: float
    """First failed (or > STALL_S) commit's start to the next successful commit's end; 0 if
    no commit failed or stalled."""
    kill_to_commit_s: float
    """SIGKILL to the end of the first commit that started after it and succeeded."""
    failed_commits: int
    errors: list[str]
    replica_back_s: float
    idle_session_ok: bool


def measure_window(attempts: list[Attempt], t_kill: float) -> tuple[float, float, int, list[str]]:
    after = [a for a in attempts if a.end > t_kill]
    bad = next((k for k, a in enumerate(after) if not a.ok or a.end - a.start > STALL_S), None)
    first_ok_after_kill = next((a for a in after if a.ok and a.start > t_kill), None)
    kill_to_commit = first_ok_after_kill.end - t_kill if first_ok_after_kill else float("nan")
    failed = [a for a in after if not a.ok]
    errors = sorted({a.error.split(":")[0] for a in failed})
    if bad is None:
        return 0.0, kill_to_commit, 0, errors
    recovered = next((a for a in after[bad:] if a.ok), None)
    window = recovered.end - after[bad].start if recovered else float("nan")
    return window, kill_to_commit, len(failed), errors


def commits_flowing(writer: Writer, since: float) -> bool:
    """A fast successful commit that started after ``since``."""
    return any(a.ok and a.start > since and a.end - a.start <= STALL_S for a in writer.snapshot())


def main_computes(cluster: Cluster) -> list[dict[str, Any]]:
    return cluster.computes()


def wait_primary_and_replica(cluster: ProxyCluster, timeout_s: float = REPLICAS_WAIT_S) -> float:
    """Seconds until the main timeline has a writable primary and a running replica."""
    t0 = time.monotonic()
    while True:
        try:
            computes = main_computes(cluster)
            primary_ok = any(c["role"] == "primary" and c["state"] == "running"
                             and c.get("node_state") == "writable" for c in computes)
            replica_ok = any(c["role"] == "replica" and c["state"] == "running"
                             and c.get("node_state") for c in computes)
            if primary_ok and replica_ok:
                return time.monotonic() - t0
        except (RuntimeError, json.JSONDecodeError, KeyError):
            pass
        if time.monotonic() - t0 > timeout_s:
            raise TimeoutError(f"no primary + replica after {timeout_s}s")
        time.sleep(0.2)


def wait_restarts_safe(cluster: ProxyCluster, log: Any) -> None:
    t0 = time.monotonic()
    while time.monotonic() - t0 < STABLE_WAIT_S:
        if int(cluster.primary().get("restarts") or 0) <= RESTARTS_SAFE:
            return
        time.sleep(0.5)
    log(f"primary slot still has {cluster.primary().get('restarts')} restarts; killing it anyway")


def failover_kills(cluster: ProxyCluster, kills: int, log: Any) -> dict[str, Any]:
    """``kills`` times: SIGKILL the primary compute while a writer commits through the
    proxy; the unavailability window of each, then wait for a replica again."""
    dsn = cluster.dsn()
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute("CREATE TABLE IF NOT EXISTS bench_failover (id integer PRIMARY KEY, at float8)")
    idle = psycopg.connect(dsn, autocommit=True)  # opened once, used only after each kill
    idle.execute("SELECT 1")
    writer = Writer(dsn)
    writer.start()
    results: list[KillResult] = []
    try:
        for k in range(kills):
            wait_primary_and_replica(cluster)
            wait_restarts_safe(cluster, log)
            t_ready = time.monotonic()
            while not commits_flowing(writer, t_ready):
                if time.monotonic() - t_ready > WINDOW_WAIT_S:
                    raise TimeoutError("commits do not flow through the proxy")
                time.sleep(0.05)
            time.sleep(1.0)  # a steady second before the kill
            primary = cluster.primary()
            pid = int(primary["pid"])
            t_kill = time.monotonic()
            os.kill(pid, signal.SIGKILL)
            time.sleep(KILL_SETTLE_S)
            while not commits_flowing(writer, t_kill + KILL_SETTLE_S) and time.monotonic() - t_kill < WINDOW_WAIT_S:
                time.sleep(0.02)
            window, kill_to_commit, failed, errors = measure_window(writer.snapshot(), t_kill)
            try:
                idle.execute("SELECT 1")
                idle_ok = True
            except psycopg.Error:
                idle_ok = False
                idle.close()
                idle = psycopg.connect(dsn, autocommit=True)
            back = wait_primary_and_replica(cluster)
            result = KillResult(window, kill_to_commit, failed, errors, back, idle_ok)
            results.append(result)
            log(f"kill {k + 1}/{kills} of {primary['name']} (pid {pid}): window {window:.3f}s, "
                f"kill->commit {kill_to_commit:.3f}s, {failed} failed commits {errors}, "
                f"idle session {'ok' if idle_ok else 'broken'}, replica back after {back:.1f}s")
    finally:
        writer.close()
        idle.close()
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute("SET strata.route = primary")
        present = {int(r[0]) for r in conn.execute("SELECT id FROM bench_failover").fetchall()}
    lost = sorted(writer.acked - present)
    return {"kills": [vars(r) for r in results], "acked_commits": len(writer.acked),
            "lost_acked_commits": len(lost), "lost_ids_sample": lost[:10],
            "writer_reconnects": writer.reconnects}
