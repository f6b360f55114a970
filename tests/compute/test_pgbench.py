"""pgbench end to end: initialize with COPY, run TPC-B in every query mode and select-only."""

from __future__ import annotations

import re
import subprocess

import psycopg
import pytest

from tests.support import StrataProcess


def pgbench(strata: StrataProcess, *args: str, timeout: float = 600) -> str:
    cmd = ["pgbench", "-h", "127.0.0.1", "-p", str(strata.port), "-U", "postgres", *args,
           "postgres"]
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)
    output = done.stdout + done.stderr
    assert done.returncode == 0, f"pgbench {' '.join(args)} failed:\n{output}\n{strata.log_text()[-3000:]}"
    return output


def tpcb_invariant(strata: StrataProcess) -> tuple[int, int, int, int]:
    with psycopg.connect(strata.dsn) as conn:
        row = conn.execute(
            "SELECT (SELECT sum(abalance) FROM pgbench_accounts),"
            " (SELECT sum(bbalance) FROM pgbench_branches),"
            " (SELECT sum(tbalance) FROM pgbench_tellers),"
            " (SELECT coalesce(sum(delta), 0) FROM pgbench_history)").fetchone()
    assert row is not None
    return tuple(int(v or 0) for v in row)  # type: ignore[return-value]


def processed(output: str) -> int:
    m = re.search(r"number of transactions actually processed: (\d+)", output)
    assert m, output
    failed = re.search(r"number of failed transactions: (\d+)", output)
    assert failed is None or int(failed.group(1)) == 0, output
    return int(m.group(1))


@pytest.fixture(scope="module")
def loaded(strata_shared: StrataProcess) -> StrataProcess:
    out = pgbench(strata_shared, "-i", "-s", "10")
    assert "done in" in out
    with psycopg.connect(strata_shared.dsn) as conn:
        assert conn.execute("SELECT count(*) FROM pgbench_accounts").fetchone() == (1_000_000,)
        assert conn.execute("SELECT count(*) FROM pgbench_branches").fetchone() == (10,)
        assert conn.execute("SELECT count(*) FROM pgbench_tellers").fetchone() == (100,)
    return strata_shared


@pytest.mark.parametrize("mode", ["simple", "extended", "prepared"])
def test_tpcb(loaded: StrataProcess, mode: str) -> None:
    # -n: no vacuum, so pgbench does not truncate pgbench_history and the invariant
    # (sum of deltas = sum of balances) holds across runs
    out = pgbench(loaded, "-n", "-c", "8", "-j", "2", "-T", "2", "-M", mode)
    assert processed(out) > 0
    a, b, t, h = tpcb_invariant(loaded)
    assert a == b == t == h


@pytest.mark.parametrize("mode", ["simple", "prepared"])
def test_select_only(loaded: StrataProcess, mode: str) -> None:
    out = pgbench(loaded, "-n", "-S", "-c", "8", "-j", "2", "-T", "2", "-M", mode)
    assert processed(out) > 0
