"""The proxy's own Unix socket (``--unix-socket-dir``): PostgreSQL's local socket for clients on
the proxy's machine. Owner-only, no TLS offered (``--require-tls`` covers TCP only), the same
password authentication, and write transactions lent to a local primary as for a plaintext
TCP client — which libpq's default ``sslmode=prefer`` never is against a TLS proxy."""

from __future__ import annotations

import os
import socket
import stat
import struct
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest

from strata.pgwire import handoff
from tests.cluster.tpcb import INVARIANT_SQL
from tests.proxy.support import ProxyProc, self_signed_cert, write_users
from tests.support import StrataProcess

PASSWORD = "unix-pass-1"
LENT_TXNS = "proxy_lent_transactions_total"
IDLE_S = 10 * handoff.LEND_LINGER_MS / 1000
"""A pause after which a lending that outlived its transaction is back with the proxy."""
SSL_REQUEST = struct.pack("!ii", 8, 80877103)


class Setup:
    def __init__(self, root: Path, run: Path, compute: StrataProcess, proxy: ProxyProc) -> None:
        self.root = root
        self.run = run
        self.compute = compute
        self.proxy = proxy

    @property
    def path(self) -> Path:
        return self.run / f".s.PGSQL.{self.proxy.port}"

    def local_dsn(self, password: str = PASSWORD) -> str:
        return f"host={self.run} port={self.proxy.port} user=postgres password={password} dbname=postgres"


def _proxy(root: Path, secret: Path, run: Path, compute: StrataProcess) -> ProxyProc:
    cert, key = self_signed_cert(root)
    return ProxyProc(root, secret, "--primary", f"127.0.0.1:{compute.port}",
                      "--users-file", str(root / "users"), "--auth", "scram",
                      "--tls-cert", str(cert), "--tls-key", str(key), "--require-tls",
                      "--compute-socket-dir", str(run), "--unix-socket-dir", str(run), name="proxy-unix")


@pytest.fixture(scope="module")
def setup(tmp_path_factory: pytest.TempPathFactory, secret: Path) -> Iterator[Setup]:
    root = tmp_path_factory.mktemp("unix-listener")
    run = root / "run"
    write_users(root, {"postgres": PASSWORD})
    compute = StrataProcess(root / "data", extra_args=[
        "--unix-socket-dir", str(run), "--proxy-secret-file", str(secret)]).start()
    proxy = _proxy(root, secret, run, compute).start()
    s = Setup(root, run, compute, proxy)
    try:
        yield s
    finally:
        s.proxy.stop()
        compute.stop()


def test_local_socket_is_owner_only_and_offers_no_tls(setup: Setup) -> None:
    mode = stat.S_IMODE(os.stat(setup.path).st_mode)
    assert stat.S_ISSOCK(os.stat(setup.path).st_mode) and mode == 0o700, oct(mode)
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as raw:
        raw.settimeout(5)
        raw.connect(str(setup.path))
        raw.sendall(SSL_REQUEST)
        assert raw.recv(1) == b"N"  # as PostgreSQL on its local socket
    # over TCP the same proxy answers S, and refuses a plaintext login (--require-tls)
    with socket.create_connection(("127.0.0.1", setup.proxy.port), timeout=5) as tcp:
        tcp.sendall(SSL_REQUEST)
        assert tcp.recv(1) == b"S"
    with pytest.raises(psycopg.OperationalError, match="requires SSL/TLS"):
        psycopg.connect(setup.proxy.dsn(password=PASSWORD, sslmode="disable"), connect_timeout=5)


def test_local_login_needs_the_password(setup: Setup) -> None:
    with psycopg.connect(setup.local_dsn(), autocommit=True) as conn:
        assert not conn.info.pgconn.ssl_in_use
        assert conn.info.host == str(setup.run)
        assert conn.execute("select current_user, 1 + 1").fetchone() == ("postgres", 2)
    with pytest.raises(psycopg.OperationalError, match="password authentication failed"):
        psycopg.connect(setup.local_dsn("wrong"), connect_timeout=5)


def test_psql_over_the_socket(setup: Setup) -> None:
    env = {"PGPASSWORD": PASSWORD, "PATH": "/usr/bin:/bin"}
    done = subprocess.run(["psql", "-h", str(setup.run), "-p", str(setup.proxy.port), "-U", "postgres",
                           "-d", "postgres", "-Atc", "select 40 + 2"],
                          capture_output=True, text=True, env=env, timeout=60)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "42"


def test_write_transactions_are_lent_over_the_local_socket(setup: Setup) -> None:
    """pgbench TPC-B through the local socket: every transaction commits once, and the
    socket went to the primary and back (a TLS client over TCP is never lent)."""
    env = {"PGPASSWORD": PASSWORD, "PATH": "/usr/bin:/bin"}
    base = ["pgbench", "-h", str(setup.run), "-p", str(setup.proxy.port), "-U", "postgres"]
    subprocess.run([*base, "-i", "-s", "1", "-q", "postgres"], check=True, capture_output=True,
                   env=env, timeout=300)
    time.sleep(IDLE_S)  # a lending still lingering after pgbench -i is back
    before = setup.proxy.metric(LENT_TXNS)
    done = subprocess.run([*base, "-n", "-M", "prepared", "-c", "4", "-j", "2", "-t", "100", "postgres"],
                          capture_output=True, text=True, env=env, timeout=300)
    assert done.returncode == 0, done.stderr
    assert "number of transactions actually processed: 400/400" in done.stdout
    time.sleep(IDLE_S)
    assert setup.proxy.metric(LENT_TXNS) - before == 400  # every one on a lent socket
    with psycopg.connect(setup.local_dsn()) as conn:
        sums = conn.execute(INVARIANT_SQL).fetchone()
    assert sums is not None and sums[0] == sums[1] == sums[2] == sums[3]
    assert sums[4] == 400
    # a TLS client over TCP: relayed, never lent
    before = setup.proxy.metric(LENT_TXNS)
    with psycopg.connect(setup.proxy.dsn(password=PASSWORD, sslmode="require")) as conn:
        assert conn.info.pgconn.ssl_in_use
        for _ in range(3):
            conn.execute("update pgbench_branches set bbalance = bbalance where bid = 1")
            conn.commit()
    time.sleep(IDLE_S)
    assert setup.proxy.metric(LENT_TXNS) == before


def test_restart_after_sigkill_claims_the_stale_socket_and_stop_removes_it(setup: Setup) -> None:
    setup.proxy.kill()
    assert setup.path.exists()  # a crashed proxy leaves its socket file behind
    setup.proxy.start()  # the same port and directory: the stale file is claimed
    with psycopg.connect(setup.local_dsn(), autocommit=True) as conn:
        assert conn.execute("select 7").fetchone() == (7,)
    # a second proxy on the same port while the first lives: one line, non-zero exit, and the
    # living proxy's socket is left alone
    clash = subprocess.run(
        [sys.executable, "-m", "strata", "proxy", "--listen", f"127.0.0.1:{setup.proxy.port}",
         "--primary", f"127.0.0.1:{setup.compute.port}", "--auth", "trust",
         "--unix-socket-dir", str(setup.run)],
        capture_output=True, text=True, timeout=60, cwd=Path(__file__).resolve().parents[2])
    assert clash.returncode == 2, clash.stderr
    assert "address already in use" in clash.stderr.lower(), clash.stderr
    assert "Traceback" not in clash.stderr
    with psycopg.connect(setup.local_dsn(), autocommit=True) as conn:
        assert conn.execute("select 8").fetchone() == (8,)
    setup.proxy.stop()
    assert not setup.path.exists()  # SIGTERM: the socket file goes with the proxy
    setup.proxy.start()
