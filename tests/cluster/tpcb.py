"""pgbench TPC-B helpers: initialize, run with a per-transaction log, count acknowledged
transactions and check the TPC-B invariant."""

from __future__ import annotations

import subprocess
from dataclasses import dataclass
from pathlib import Path

from tests.cluster_support import query

INIT_TIMEOUT_S = 240
RUN_GRACE_S = 60
CLIENTS = 8
THREADS = 2

INVARIANT_SQL = ("SELECT (SELECT sum(abalance) FROM pgbench_accounts),"
                 " (SELECT sum(bbalance) FROM pgbench_branches),"
                 " (SELECT sum(tbalance) FROM pgbench_tellers),"
                 " (SELECT coalesce(sum(delta), 0) FROM pgbench_history),"
                 " (SELECT count(*) FROM pgbench_history)")


def init(dsn: str, scale: int) -> None:
    """`pgbench -i` generating the rows on the server (INSERT ... SELECT generate_series, step
    G) instead of COPYing them from pgbench (step g): the same tables and rows, about three
    times faster on a cluster; COPY is what tests/compute/test_pgbench.py initializes with."""
    proc = subprocess.run(["pgbench", "-i", "-I", "dtGvp", "-q", "-s", str(scale), dsn],
                          capture_output=True, text=True, timeout=INIT_TIMEOUT_S)
    assert proc.returncode == 0, proc.stderr


@dataclass
class Run:
    """A running `pgbench -n -c 8 -j 2 -T seconds -l` whose logs go to ``logdir``."""

    proc: subprocess.Popen[str]
    logdir: Path
    seconds: int

    def wait(self) -> tuple[int, str, str]:
        out, err = self.proc.communicate(timeout=self.seconds + RUN_GRACE_S)
        return self.proc.returncode, out, err

    def acknowledged(self) -> int:
        """Transactions whose COMMIT pgbench saw succeed (a numeric latency in the -l log)."""
        n = 0
        for path in self.logdir.glob("pgbench_log.*"):
            for line in path.read_text().splitlines():
                fields = line.split()
                if len(fields) >= 3 and fields[2].isdigit():
                    n += 1
        return n


def start(dsn: str, seconds: int, logdir: Path) -> Run:
    logdir.mkdir(parents=True, exist_ok=True)
    proc = subprocess.Popen(["pgbench", "-n", "-c", str(CLIENTS), "-j", str(THREADS),
                             "-T", str(seconds), "-l", dsn], cwd=logdir, text=True,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    return Run(proc, logdir, seconds)


def sums(dsn: str) -> tuple[int, int, int, int, int]:
    """(sum abalance, sum bbalance, sum tbalance, sum delta, history rows) in one statement."""
    row = query(dsn, INVARIANT_SQL)[0]
    return (int(row[0]), int(row[1]), int(row[2]), int(row[3]), int(row[4]))


def assert_invariant(dsn: str) -> int:
    """The TPC-B invariant holds; returns the number of history rows."""
    a, b, t, d, rows = sums(dsn)
    assert a == b == t == d, f"TPC-B invariant broken: accounts {a}, branches {b}, tellers {t}, history {d}"
    return rows
