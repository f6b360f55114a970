"""Authentication (SCRAM-SHA-256, md5, trust) and TLS with real clients."""

from __future__ import annotations

import asyncio
import subprocess
from collections.abc import Iterator
from pathlib import Path

import asyncpg
import psycopg
import pytest

from strata.pgwire.auth import ScramVerifier
from tests.support import StrataProcess


def _server(tmp_path: Path, *args: str) -> StrataProcess:
    return StrataProcess(tmp_path / "data", extra_args=list(args)).start()


@pytest.fixture
def passwords(tmp_path: Path) -> Path:
    path = tmp_path / "passwords"
    verifier = ScramVerifier.from_password("v3rifier-pass").text()
    path.write_text(f"alice:wonderland\n# comment\nbob:{verifier}\n")
    return path


@pytest.fixture
def scram_server(tmp_path: Path, passwords: Path) -> Iterator[StrataProcess]:
    proc = _server(tmp_path, "--auth", "scram", "--password-file", str(passwords))
    yield proc
    proc.stop()


def test_scram_accepts_right_password(scram_server: StrataProcess) -> None:
    dsn = f"postgresql://alice:wonderland@127.0.0.1:{scram_server.port}/postgres"
    with psycopg.connect(dsn) as conn:
        assert conn.execute("SELECT 1").fetchone() == (1,)
    dsn = f"postgresql://bob:v3rifier-pass@127.0.0.1:{scram_server.port}/postgres"
    with psycopg.connect(dsn) as conn:
        assert conn.execute("SELECT 2").fetchone() == (2,)

    async def via_asyncpg() -> int:
        conn = await asyncpg.connect(host="127.0.0.1", port=scram_server.port, user="alice",
                                     password="wonderland", database="postgres")
        try:
            return int(await conn.fetchval("SELECT 3"))
        finally:
            await conn.close()

    assert asyncio.run(via_asyncpg()) == 3


@pytest.mark.parametrize("user,password", [("alice", "wrong"), ("nobody", "wonderland")])
def test_scram_refuses_wrong_password(scram_server: StrataProcess, user: str,
                                      password: str) -> None:
    dsn = f"postgresql://{user}:{password}@127.0.0.1:{scram_server.port}/postgres"
    with pytest.raises(psycopg.OperationalError) as info:
        psycopg.connect(dsn)
    assert "password authentication failed" in str(info.value)
    # and the server still serves the right user
    with psycopg.connect(f"postgresql://alice:wonderland@127.0.0.1:{scram_server.port}/postgres"):
        pass


def test_md5(tmp_path: Path, passwords: Path) -> None:
    proc = _server(tmp_path, "--auth", "md5", "--password-file", str(passwords))
    try:
        with psycopg.connect(f"postgresql://alice:wonderland@127.0.0.1:{proc.port}/postgres") as c:
            assert c.execute("SELECT 1").fetchone() == (1,)
        with pytest.raises(psycopg.OperationalError):
            psycopg.connect(f"postgresql://alice:nope@127.0.0.1:{proc.port}/postgres")
    finally:
        proc.stop()


def test_unknown_database_is_3d000(strata_shared: StrataProcess) -> None:
    with pytest.raises(psycopg.OperationalError) as info:
        psycopg.connect(f"postgresql://postgres@127.0.0.1:{strata_shared.port}/nosuchdb")
    assert 'database "nosuchdb" does not exist' in str(info.value)


def test_tls(tmp_path: Path) -> None:
    cert, key = tmp_path / "server.crt", tmp_path / "server.key"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
                    "-subj", "/CN=127.0.0.1", "-keyout", str(key), "-out", str(cert)],
                   check=True, capture_output=True)
    proc = _server(tmp_path, "--tls-cert", str(cert), "--tls-key", str(key))
    try:
        dsn = f"postgresql://postgres@127.0.0.1:{proc.port}/postgres?sslmode=require"
        with psycopg.connect(dsn) as conn:
            assert conn.info.pgconn.ssl_in_use
            assert conn.execute("SELECT 1").fetchone() == (1,)
    finally:
        proc.stop()


def test_no_tls_answers_n(strata_shared: StrataProcess) -> None:
    with pytest.raises(psycopg.OperationalError):
        psycopg.connect(f"postgresql://postgres@127.0.0.1:{strata_shared.port}/postgres"
                        "?sslmode=require")
    dsn = f"postgresql://postgres@127.0.0.1:{strata_shared.port}/postgres?sslmode=prefer"
    with psycopg.connect(dsn) as conn:
        assert not conn.info.pgconn.ssl_in_use
