"""The systems `bench/pgbench_compare` runs and the cluster measurements it takes.

Systems: PostgreSQL 15 (default config, fsync on), the standalone compute and a
`strata up` cluster (3 log store nodes, page server, primary; fsync on everywhere), each
loaded the same way. Cluster measurements: commit latency at one client, replica lag
under TPC-B, SIGKILL of the primary to the first write, a fresh compute's first query
and its cold full scan.
"""

from __future__ import annotations

import json
import os
import re
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import psycopg

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from tests.support import (  # noqa: E402
    PostgresOracle,
    free_port,
    stop_process,
    tmp_root,
    wait_for_port,
)

# The PostgreSQL these scripts start has no TLS (ssl = off), while the proxy of a `strata up`
# cluster offers it and libpq's default sslmode (prefer) takes it: pgbench through the proxy
# paid for TLS that PostgreSQL's side of the comparison did not (17-31% of the cluster's tps
# in session 8). No TLS anywhere unless the caller asks (bench/read_scaling and
# bench/proxy_compare already said so).
os.environ.setdefault("PGSSLMODE", "disable")

LOAD_CHUNK_ROWS = 100_000
"""Accounts per load transaction: a whole scale-10 table in one commit (~100 MB of pages)
outlasts the cluster's 5 s commit deadline."""
PORT_WAIT_S = 120.0
"""Bound on a process starting to listen."""
CONNECT_TIMEOUT_S = 2
"""psycopg connect timeout (whole seconds) while probing a failover."""
FAILOVER_WAIT_S = 30.0
"""Bound on waiting for the first write after the primary's SIGKILL."""
LAG_POLL_S = 0.005
"""How often the replica is asked whether it sees the marker row."""
LAG_MARKER_EVERY_S = 0.1
"""One marker row per this many seconds during the replica-lag run."""
LAG_WAIT_S = 10.0
"""Bound on waiting for one marker row on the replica."""
INGEST_WAIT_S = 60.0
"""Bound on waiting for the page server to ingest the primary's commits."""


def free_port_run(n: int) -> int:
    """The first of ``n`` consecutive free ports (the cluster numbers its nodes from it)."""
    for _ in range(200):
        base = free_port()
        if base + n >= 65535:
            continue
        try:
            socks = []
            for i in range(n):
                s = socket.socket()
                socks.append(s)
                s.bind(("127.0.0.1", base + i))
            return base
        except OSError:
            continue
        finally:
            for s in socks:
                s.close()
    raise RuntimeError(f"no run of {n} free ports")


def dsn(port: int) -> str:
    return f"postgresql://postgres@127.0.0.1:{port}/postgres"


def percentile(values: list[float], q: float) -> float:
    """Nearest-rank percentile (q in 0..100)."""
    if not values:
        return float("nan")
    ordered = sorted(values)
    k = max(0, min(len(ordered) - 1, round(q / 100 * len(ordered) + 0.5) - 1))
    return ordered[k]


def strata_env(tree: Path) -> dict[str, str]:
    return dict(os.environ, PYTHONUNBUFFERED="1", PYTHONPATH=str(tree))


# ---- pgbench ---------------------------------------------------------------------------


def pgbench(port: int, args: list[str], cwd: Path | None = None) -> str:
    cmd = ["pgbench", "-h", "127.0.0.1", "-p", str(port), "-U", "postgres", *args, "postgres"]
    done = subprocess.run(cmd, capture_output=True, text=True, cwd=cwd)
    if done.returncode != 0:
        raise RuntimeError(f"pgbench {' '.join(args)} on port {port} failed:\n{done.stdout}{done.stderr}")
    return done.stdout


def tps(output: str) -> float:
    m = re.search(r"tps = ([\d.]+) \(without initial connection time\)", output)
    if not m:
        raise RuntimeError(f"could not read tps from pgbench output:\n{output}")
    failed = re.search(r"number of failed transactions: (\d+)", output)
    if failed and int(failed.group(1)):
        raise RuntimeError(f"pgbench reported failed transactions:\n{output}")
    return float(m.group(1))


def load(port: int, scale: int, progress: Callable[[str], None]) -> None:
    """pgbench's tables and rows at ``scale``, accounts in chunks of LOAD_CHUNK_ROWS (the
    same rows as `pgbench -i`), then vacuum and primary keys."""
    pgbench(port, ["-i", "-I", "dt", "-s", str(scale)])
    with psycopg.connect(dsn(port), autocommit=True) as conn:
        conn.execute("INSERT INTO pgbench_branches (bid, bbalance) "
                     "SELECT bid, 0 FROM generate_series(1, %s) AS bid", (scale,))
        conn.execute("INSERT INTO pgbench_tellers (tid, bid, tbalance) "
                     "SELECT tid, (tid - 1) / 10 + 1, 0 FROM generate_series(1, %s) AS tid",
                     (scale * 10,))
        total = scale * 100_000
        for lo in range(1, total + 1, LOAD_CHUNK_ROWS):
            hi = min(total, lo + LOAD_CHUNK_ROWS - 1)
            progress(f"accounts {lo - 1:,}/{total:,}")
            conn.execute("INSERT INTO pgbench_accounts (aid, bid, abalance, filler) "
                         "SELECT aid, (aid - 1) / 100000 + 1, 0, '' "
                         "FROM generate_series(%s, %s) AS aid", (lo, hi))
    pgbench(port, ["-i", "-I", "vp", "-s", str(scale)])


# ---- systems ---------------------------------------------------------------------------


class System:
    name = ""
    port = 0

    def start(self) -> None: ...

    def stop(self) -> None: ...


class Postgres(System):
    name = "postgres"

    def __init__(self) -> None:
        self.root = tmp_root("bench-pg-")
        self.pg = PostgresOracle(self.root)

    def start(self) -> None:
        self.pg.start()
        self.port = self.pg.port

    def stop(self) -> None:
        self.pg.stop()
        subprocess.run(["rm", "-rf", str(self.root)], check=False)


class Standalone(System):
    name = "standalone"

    def __init__(self, tree: Path) -> None:
        self.tree = tree
        self.root = Path(tempfile.mkdtemp(prefix="bench-standalone-"))
        self.port = free_port()
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        with open(self.root / "compute.log", "ab") as log:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "strata", "compute", "--standalone",
                 "--listen", f"127.0.0.1:{self.port}", "--data-dir", str(self.root / "data")],
                stdout=log, stderr=subprocess.STDOUT, cwd=self.tree, env=strata_env(self.tree))
        wait_for_port(self.port, self.proc, PORT_WAIT_S)

    def stop(self) -> None:
        stop_process(self.proc)
        subprocess.run(["rm", "-rf", str(self.root)], check=False)


class Cluster(System):
    """`strata up --detach` in a temporary directory on free ports."""

    name = "cluster"

    def __init__(self, tree: Path) -> None:
        self.tree = tree
        self.dir = Path(tempfile.mkdtemp(prefix="bench-cluster-"))
        for _ in range(50):  # free_port() may hand out a just-released port twice
            self.logstore_port = free_port_run(3)
            self.logstore_fast_port = free_port_run(3)  # by environment: older trees ignore it
            self.pageserver_port = free_port()
            self.compute_port = free_port_run(4)
            self.rest_port = free_port()
            self.proxy_port = free_port()
            used = [*range(self.logstore_port, self.logstore_port + 3),
                    *range(self.logstore_fast_port, self.logstore_fast_port + 3),
                    *range(self.compute_port, self.compute_port + 4),
                    self.pageserver_port, self.rest_port, self.proxy_port]
            if len(set(used)) == len(used):
                break
        self.port = self.proxy_port  # clients go through the proxy, as the targets say
        self.extra: list[subprocess.Popen[bytes]] = []

    def strata(self, *args: str, check: bool = True) -> str:
        done = subprocess.run([sys.executable, "-m", "strata", *args, "--dir", str(self.dir)],
                              capture_output=True, text=True, cwd=self.tree,
                              env=dict(strata_env(self.tree),
                                       STRATA_CLUSTER_LOGSTORE_FAST_PORT=str(self.logstore_fast_port)))
        if check and done.returncode != 0:
            raise RuntimeError(f"strata {' '.join(args)} failed:\n{done.stdout}{done.stderr}")
        return done.stdout

    def start(self) -> None:
        self.strata("up", "--detach", "--replicas", "0",
                    "--logstore-port", str(self.logstore_port),
                    "--pageserver-port", str(self.pageserver_port),
                    "--compute-port", str(self.compute_port),
                    "--rest-port", str(self.rest_port),
                    "--proxy-port", str(self.proxy_port), "--auth", "trust")

    def status(self) -> dict[str, Any]:
        out: dict[str, Any] = json.loads(self.strata("status", "--json"))
        return out

    def computes(self) -> list[dict[str, Any]]:
        return [c for c in self.status()["components"]
                if c["kind"] == "compute" and c["timeline"] == "main"]

    def primary(self) -> dict[str, Any]:
        for c in self.computes():
            if c["role"] == "primary":
                return c
        raise RuntimeError("the cluster has no primary")

    def primary_port(self) -> int:
        return int(str(self.primary()["address"]).rsplit(":", 1)[1])

    def addresses(self, kind: str) -> list[str]:
        return [str(c["address"]) for c in self.status()["components"] if c["kind"] == kind]

    def scale(self, replicas: int) -> None:
        self.strata("scale", "--replicas", str(replicas))

    def spawn_compute(self, name: str) -> tuple[subprocess.Popen[bytes], int]:
        """A replica compute outside the control plane (its own name, its own port)."""
        port = free_port()
        tls: list[str] = []
        if (self.dir / "tls" / "ca.pem").exists():  # a tree whose `strata up` made a cluster CA
            from strata.tls import ensure_component

            files = ensure_component(self.dir / "tls", name, "compute")
            tls = ["--internal-tls-dir", str(files.cert.parent)]
        with open(self.dir / f"{name}.log", "ab") as log:
            proc = subprocess.Popen(
                [sys.executable, "-m", "strata", "compute", "--role", "replica",
                 "--listen", f"127.0.0.1:{port}",
                 "--logstore", ",".join(self.addresses("logstore")),
                 "--pageserver", self.addresses("pageserver")[0],
                 "--tenant", "default", "--timeline", "main", "--node-name", name, *tls],
                stdout=log, stderr=subprocess.STDOUT, cwd=self.tree, env=strata_env(self.tree))
        self.extra.append(proc)
        return proc, port

    def stop(self) -> None:
        for proc in self.extra:
            stop_process(proc)
        self.strata("down", check=False)
        subprocess.run(["rm", "-rf", str(self.dir)], check=False)


# ---- cluster measurements -----------------------------------------------------------------

UPDATE_ONE_ROW = ("\\set aid random(1, 100000 * :scale)\n"
                  "UPDATE pgbench_accounts SET abalance = abalance + 1 WHERE aid = :aid;\n")


def commit_latency(port: int, duration_s: int) -> dict[str, float]:
    """pgbench -c 1 with a one-row UPDATE (autocommit); per-transaction latencies from
    pgbench's log (-l), in ms."""
    with tempfile.TemporaryDirectory(prefix="bench-commit-") as tmp:
        script = Path(tmp) / "update1.sql"
        script.write_text(UPDATE_ONE_ROW)
        out = pgbench(port, ["-n", "-c", "1", "-T", str(duration_s), "-f", str(script),
                             "-l", "--log-prefix", "lat"], cwd=Path(tmp))
        lat_ms: list[float] = []
        for logfile in Path(tmp).glob("lat*"):
            for line in logfile.read_text().splitlines():
                parts = line.split()
                if len(parts) >= 3:
                    lat_ms.append(int(parts[2]) / 1000.0)
    return {"tps": tps(out), "p50_ms": percentile(lat_ms, 50), "p99_ms": percentile(lat_ms, 99),
            "samples": float(len(lat_ms))}


def replica_lag(primary_port: int, replica_port: int, duration_s: int) -> dict[str, float]:
    """Under pgbench TPC-B -c 8 on the primary: a marker row every LAG_MARKER_EVERY_S; the
    time from its commit returning to a replica's query first seeing it (ms)."""
    with psycopg.connect(dsn(primary_port), autocommit=True) as conn:
        conn.execute("CREATE TABLE IF NOT EXISTS bench_marker (id integer PRIMARY KEY, at float8)")
        conn.execute("DELETE FROM bench_marker")
    wait_replica_sees_table(replica_port, "bench_marker")
    result: dict[str, str] = {}

    def load_run() -> None:
        try:
            result["out"] = pgbench(primary_port, ["-c", "8", "-j", "2", "-T", str(duration_s)])
        except RuntimeError as exc:
            result["error"] = str(exc)

    bg = threading.Thread(target=load_run, daemon=True)
    bg.start()
    lags: list[float] = []
    missed = 0
    with psycopg.connect(dsn(primary_port), autocommit=True) as prim, \
            psycopg.connect(dsn(replica_port), autocommit=True) as repl:
        i = 0
        time.sleep(1.0)  # let the load ramp up
        while bg.is_alive():
            i += 1
            prim.execute("INSERT INTO bench_marker VALUES (%s, 0)", (i,))
            t0 = time.perf_counter()
            deadline = t0 + LAG_WAIT_S
            while True:
                if repl.execute("SELECT 1 FROM bench_marker WHERE id = %s", (i,)).fetchone():
                    lags.append((time.perf_counter() - t0) * 1000)
                    break
                if time.perf_counter() > deadline:
                    missed += 1
                    break
                time.sleep(LAG_POLL_S)
            time.sleep(LAG_MARKER_EVERY_S)
    bg.join()
    tpcb = tps(result["out"]) if "out" in result else float("nan")
    return {"p50_ms": percentile(lags, 50), "p99_ms": percentile(lags, 99),
            "max_ms": max(lags) if lags else float("nan"), "samples": float(len(lags)),
            "missed": float(missed), "tpcb_tps": tpcb}


def wait_replica_sees_table(port: int, table: str, timeout_s: float = 30.0) -> None:
    deadline = time.monotonic() + timeout_s
    while True:
        try:
            with psycopg.connect(dsn(port), autocommit=True) as conn:
                conn.execute(f"SELECT 1 FROM {table} LIMIT 1")  # noqa: S608 - our own name
                return
        except psycopg.Error:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.05)


def wait_ingested(port: int, timeout_s: float = INGEST_WAIT_S) -> float:
    """Seconds until the page server has ingested everything the primary (on ``port``)
    committed (bounded): a fresh compute then starts at the log's end, not behind a backlog
    left by the previous measurement."""
    t0 = time.perf_counter()
    with psycopg.connect(dsn(port), autocommit=True) as conn:
        while time.perf_counter() - t0 < timeout_s:
            raw = conn.execute("SELECT strata_node_status()").fetchall()[0][0]
            status = json.loads(raw) if isinstance(raw, str) else raw
            if int(status["extra"]["pageserver_ingested_lsn"]) >= int(status["durable_lsn"]):
                break
            time.sleep(0.05)
    return time.perf_counter() - t0


def cold_compute(cluster: Cluster, name: str) -> dict[str, float]:
    """A fresh replica compute: seconds to listen, connect + first `SELECT count(*)` of
    pgbench_branches, then a cold full scan of pgbench_accounts (pages per second, from the
    compute's page server counters)."""
    settle = wait_ingested(cluster.primary_port())
    t0 = time.perf_counter()
    proc, port = cluster.spawn_compute(name)
    try:
        wait_for_port(port, proc, PORT_WAIT_S)
        listening = time.perf_counter() - t0
        t1 = time.perf_counter()
        with psycopg.connect(dsn(port), autocommit=True) as conn:
            conn.execute("SELECT count(*) FROM pgbench_branches").fetchall()
            first = time.perf_counter() - t1
            before = node_extra(conn)
            t2 = time.perf_counter()
            rows = conn.execute("SELECT count(*) FROM pgbench_accounts").fetchall()[0][0]
            scan = time.perf_counter() - t2
            after = node_extra(conn)
    finally:
        stop_process(proc)
    pages = float(after.get("pages_fetched", 0)) - float(before.get("pages_fetched", 0))
    calls = float(after.get("get_pages_calls", 0)) - float(before.get("get_pages_calls", 0))
    return {"ingest_settle_s": settle, "start_to_listen_s": listening, "first_query_s": first, "scan_s": scan,
            "scan_rows": float(rows), "scan_pages": pages, "scan_get_pages_calls": calls,
            "scan_pages_per_s": pages / scan if scan > 0 else 0.0,
            "scan_rows_per_s": rows / scan if scan > 0 else 0.0}


def node_extra(conn: psycopg.Connection[Any]) -> dict[str, Any]:
    raw = conn.execute("SELECT strata_node_status()").fetchall()[0][0]
    status = json.loads(raw) if isinstance(raw, str) else raw
    extra: dict[str, Any] = status.get("extra", {})
    return extra


def failover(cluster: Cluster) -> dict[str, float]:
    """SIGKILL the primary; seconds until a write succeeds on any of the main timeline's
    compute ports (the control plane promotes the replica)."""
    primary = cluster.primary()
    ports = sorted({int(str(c["address"]).rsplit(":", 1)[1]) for c in cluster.computes()})
    os.kill(int(str(primary["pid"])), signal.SIGKILL)
    t0 = time.perf_counter()
    attempts = 0
    while time.perf_counter() - t0 < FAILOVER_WAIT_S:
        for port in ports:
            attempts += 1
            try:
                with psycopg.connect(dsn(port), autocommit=True,
                                     connect_timeout=CONNECT_TIMEOUT_S) as conn:
                    conn.execute("INSERT INTO bench_marker VALUES (%s, 0)", (-attempts,))
                    return {"first_write_s": time.perf_counter() - t0, "port": float(port),
                            "attempts": float(attempts)}
            except psycopg.Error:
                continue
        time.sleep(0.01)
    return {"first_write_s": float("nan"), "attempts": float(attempts)}


@dataclass
class Runs:
    """TPS of each run of one workload, by system."""

    by_system: dict[str, list[float]] = field(default_factory=dict)

    def median(self, system: str) -> float:
        runs = self.by_system.get(system, [])
        return statistics.median(runs) if runs else float("nan")
