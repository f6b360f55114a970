"""Unix-domain sockets: a compute's ``--unix-socket-dir`` listener and the proxy reaching
computes on its machine through them (``--compute-socket-dir``)."""

from __future__ import annotations

import os
import socket
import stat
import struct
import subprocess
import sys
from pathlib import Path

import psycopg
import pytest

from strata.pgwire.unixsock import (
    MAX_SOCKET_PATH_BYTES,
    SocketPathError,
    claim_socket_path,
    socket_path,
)
from tests.proxy.support import ProxyProc, self_signed_cert
from tests.support import REPO, StrataProcess

BACKEND_PORT = "select client_port from pg_stat_activity where pid = pg_backend_pid()"
SSL_REQUEST = struct.pack("!ii", 8, 80877103)


def _socket_dir(tmp_path: Path) -> Path:
    return tmp_path / "run"


def test_compute_serves_its_unix_socket_as_a_local_connection(tmp_path: Path) -> None:
    """psql -h DIR reaches the compute; no TLS is offered there and --require-tls, which
    refuses plaintext TCP, does not refuse it (pg_hba ``local``); the file is owner-only,
    removed at a clean stop and replaced after a SIGKILL."""
    cert, key = self_signed_cert(tmp_path)
    run = _socket_dir(tmp_path)
    compute = StrataProcess(tmp_path / "data", extra_args=[
        "--unix-socket-dir", str(run), "--tls-cert", str(cert), "--tls-key", str(key),
        "--require-tls"]).start()
    try:
        path = run / f".s.PGSQL.{compute.port}"
        assert stat.S_ISSOCK(os.stat(path).st_mode)
        assert stat.S_IMODE(os.stat(path).st_mode) == 0o700
        with psycopg.connect(host=str(run), port=compute.port, user="postgres", dbname="postgres",
                             autocommit=True) as conn:
            assert conn.execute(BACKEND_PORT).fetchone() == (-1,)
            assert conn.execute("select client_addr from pg_stat_activity "
                                "where pid = pg_backend_pid()").fetchone() == (None,)
        with pytest.raises(psycopg.OperationalError, match="no encryption"):
            psycopg.connect(f"host=127.0.0.1 port={compute.port} user=postgres sslmode=disable")
        with psycopg.connect(f"host=127.0.0.1 port={compute.port} user=postgres sslmode=require",
                             autocommit=True) as conn:
            assert conn.execute(BACKEND_PORT).fetchone()[0] > 0  # type: ignore[index]
        with socket.socket(socket.AF_UNIX) as raw:  # TLS is not offered on the Unix socket
            raw.settimeout(10)
            raw.connect(str(path))
            raw.sendall(SSL_REQUEST)
            assert raw.recv(1) == b"N"
        compute.kill9()
        assert path.exists()  # a crashed compute leaves its socket file behind
        compute.start()
        with psycopg.connect(host=str(run), port=compute.port, user="postgres",
                             dbname="postgres") as conn:
            assert conn.execute("select 1").fetchone() == (1,)
    finally:
        compute.stop()
    assert not path.exists()


def test_socket_paths_are_checked(tmp_path: Path) -> None:
    run = tmp_path / "run"
    path = socket_path(str(run), 5432)
    assert path == f"{run}/.s.PGSQL.5432"
    with pytest.raises(SocketPathError, match=f"longer than {MAX_SOCKET_PATH_BYTES} bytes"):
        socket_path(str(tmp_path / ("d" * 120)), 5432)
    claim_socket_path(path)  # nothing there: the directory is made
    assert stat.S_IMODE(os.stat(run).st_mode) == 0o700
    Path(path).write_text("not a socket")
    with pytest.raises(SocketPathError, match="not a socket"):
        claim_socket_path(path)
    os.unlink(path)
    live = socket.socket(socket.AF_UNIX)
    live.bind(path)
    live.listen(1)
    with pytest.raises(SocketPathError, match="another server is listening"):
        claim_socket_path(path)
    live.close()  # the file stays behind, nobody answers: stale
    assert os.path.exists(path)
    claim_socket_path(path)
    assert not os.path.exists(path)


def test_compute_refuses_a_socket_path_too_long(tmp_path: Path) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "strata", "compute", "--standalone", "--listen", "127.0.0.1:0",
         "--data-dir", str(tmp_path / "data"), "--unix-socket-dir", str(tmp_path / ("d" * 120))],
        capture_output=True, text=True, cwd=REPO, timeout=60)
    assert done.returncode == 1
    assert f"longer than {MAX_SOCKET_PATH_BYTES} bytes" in done.stderr


def test_proxy_reaches_a_local_compute_through_its_socket(tmp_path: Path, secret: Path) -> None:
    """With --compute-socket-dir the proxy's server connections are Unix-socket ones (the
    compute shows them with client_port -1); without it, or when the compute has no socket
    there, TCP as before."""
    run = _socket_dir(tmp_path)
    compute = StrataProcess(tmp_path / "data", extra_args=[
        "--unix-socket-dir", str(run), "--proxy-secret-file", str(secret)]).start()
    proxies = [
        ProxyProc(tmp_path, secret, "--primary", f"127.0.0.1:{compute.port}", "--auth", "trust",
                  "--compute-socket-dir", str(run), name="proxy-unix"),
        ProxyProc(tmp_path, secret, "--primary", f"127.0.0.1:{compute.port}", "--auth", "trust",
                  name="proxy-tcp"),
        ProxyProc(tmp_path, secret, "--primary", f"127.0.0.1:{compute.port}", "--auth", "trust",
                  "--compute-socket-dir", str(tmp_path / "elsewhere"), name="proxy-fallback"),
    ]
    try:
        ports = []
        for proxy in proxies:
            proxy.start()
            with psycopg.connect(proxy.dsn(sslmode="disable"), autocommit=True) as conn:
                ports.append(conn.execute(BACKEND_PORT).fetchone()[0])  # type: ignore[index]
                conn.execute("create table if not exists t (a int)")
                conn.execute("insert into t values (1)")
                with conn.transaction():
                    conn.execute("insert into t values (2)")
                assert conn.execute("select count(*) from t").fetchone()[0] >= 2  # type: ignore[index]
        assert ports[0] == -1
        assert ports[1] > 0 and ports[2] > 0
    finally:
        for proxy in proxies:
            proxy.stop()
        compute.stop()
