"""A real cluster for end-to-end tests: `strata up --detach` on free ports, status, queries.

Shared by tests/control/test_cluster.py and tests/cluster/.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import psycopg

from strata.tls import TlsFiles
from tests.support import REPO, port_block

UP_TIMEOUT_S = 150
WAIT_S = 60.0
POLL_S = 0.2


def distinct_ports() -> tuple[int, int, int, int, int, int]:
    """Log store block (3), fast append block (3), compute block (8), page server, REST and
    proxy ports, no two overlapping, all below the ephemeral range (tests/support.py
    ``port_block``: a port is never handed out twice)."""
    for _ in range(50):
        logstore, fast, compute = port_block(3), port_block(3), port_block(8)
        singles = [port_block(1), port_block(1), port_block(1)]
        used = [*range(logstore, logstore + 3), *range(fast, fast + 3),
                *range(compute, compute + 8), *singles]
        if len(set(used)) == len(used):
            return logstore, fast, compute, singles[0], singles[1], singles[2]
    raise RuntimeError("no distinct free ports for a cluster")


def strata(*args: str, check: bool = True, timeout: float = UP_TIMEOUT_S) -> subprocess.CompletedProcess[str]:
    """Run the `strata` CLI (no admin token from the environment)."""
    env = dict(os.environ, COLUMNS="200")
    env.pop("STRATA_ADMIN_TOKEN", None)
    proc = subprocess.run([sys.executable, "-m", "strata", *args], capture_output=True,
                          text=True, timeout=timeout, cwd=REPO, env=env)
    if check and proc.returncode != 0:
        raise AssertionError(f"strata {' '.join(args)} exited {proc.returncode}:\n"
                             f"{proc.stdout}\n{proc.stderr}")
    return proc


class Cluster:
    """One cluster directory under ``root`` with its own free ports."""

    def __init__(self, root: Path, replicas: int = 1) -> None:
        self.dir = root / "cluster"
        self.replicas = replicas
        self.up_output = ""
        logstore, fast, compute, pageserver, rest, proxy = distinct_ports()
        self.flags = ["--logstore-port", str(logstore), "--logstore-fast-port", str(fast),
                      "--pageserver-port", str(pageserver),
                      "--compute-port", str(compute), "--rest-port", str(rest),
                      "--proxy-port", str(proxy)]

    def up(self) -> str:
        self.up_output = strata("up", "--detach", "--dir", str(self.dir), "--replicas", str(self.replicas),
                                *self.flags, "--timeout", str(UP_TIMEOUT_S - 10)).stdout
        return self.up_output

    def down(self) -> None:
        if (self.dir / "cluster.json").exists():
            strata("down", "--dir", str(self.dir), check=False)

    def status(self) -> dict[str, Any]:
        """`strata status --json` (a CLI process: about a second or more)."""
        data: dict[str, Any] = json.loads(strata("status", "--json", "--dir", str(self.dir)).stdout)
        return data

    def fast_status(self) -> dict[str, Any]:
        """GET /v1/status: the same document as `status --json`, without starting a process."""
        with self.rest() as api:
            resp = api.get("/v1/status")
            resp.raise_for_status()
            data: dict[str, Any] = resp.json()
            return data

    def computes(self, role: str | None = None) -> list[dict[str, Any]]:
        return [c for c in self.status()["components"] if c["kind"] == "compute"
                and c["timeline"] == "main" and (role is None or c["role"] == role)]

    def rest(self, timeout_s: float = 60) -> httpx.Client:
        state = json.loads((self.dir / "cluster.json").read_text())
        token = (self.dir / "token").read_text().strip()
        return httpx.Client(base_url=f"http://{state['rest_address']}", timeout=timeout_s,
                            headers={"Authorization": f"Bearer {token}"})

    def tls(self, component: str) -> TlsFiles:
        """The internal mTLS files `strata up` issued to ``component`` ("control" too)."""
        return TlsFiles.from_dir(self.dir / "tls" / component)

    def logs(self) -> str:
        out = []
        for p in sorted((self.dir / "logs").glob("*.log")):
            out.append(f"== {p.name}\n" + p.read_text(errors="replace")[-3000:])
        return "\n".join(out)


@contextlib.contextmanager
def running_cluster(root: Path, replicas: int = 1) -> Iterator[Cluster]:
    """A cluster up for the block (its components' logs printed if starting or the block
    fails), stopped after."""
    c = Cluster(root, replicas=replicas)
    try:
        c.up()
        yield c
    except BaseException:
        if c.dir.exists():
            print(c.logs())
        raise
    finally:
        c.down()


def first_write_after_killing_the_primary(
        cluster: Cluster, caught_up: str, rows: list[tuple[Any, ...]], write: str,
) -> tuple[float, dict[str, Any], dict[str, Any]]:
    """Wait until a replica answers ``caught_up`` with ``rows``, SIGKILL the primary, and wait
    until ``write`` succeeds through that replica's address (promoted): (the seconds from the
    kill to that write, the killed primary's and the replica's status entries)."""
    primary = next(c for c in cluster.status()["components"] if c["role"] == "primary")
    replica = cluster.computes("replica")[0]
    wait_for(lambda: query(replica["dsn"], caught_up) == rows, "replica caught up")
    os.kill(primary["pid"], signal.SIGKILL)
    t0 = time.monotonic()

    def write_on_new_primary() -> bool:
        query(replica["dsn"], write)
        return True

    wait_for(write_on_new_primary, "a write on the promoted replica", timeout=30)
    return time.monotonic() - t0, primary, replica


def wait_for(cond: Any, what: str, timeout: float = WAIT_S) -> Any:
    """Poll ``cond`` until it returns something truthy; DB/OS/HTTP errors count as not yet."""
    deadline = time.monotonic() + timeout
    last: Any = None
    while time.monotonic() < deadline:
        try:
            last = cond()
            if last:
                return last
        except (psycopg.Error, OSError, httpx.HTTPError) as exc:
            last = exc
        time.sleep(POLL_S)
    raise AssertionError(f"timed out waiting for {what} (last: {last!r})")


def query(dsn: str, sql: str, params: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    with psycopg.connect(dsn, autocommit=True, connect_timeout=3) as conn:
        cur = conn.execute(sql, params)
        return cur.fetchall() if cur.description else []


def node_status(dsn: str) -> dict[str, Any]:
    """A compute's ``strata_node_status()`` as a dict."""
    value = query(dsn, "SELECT strata_node_status()")[0][0]
    data: dict[str, Any] = json.loads(value) if isinstance(value, str) else value
    return data
