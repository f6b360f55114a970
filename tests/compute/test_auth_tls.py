"""Authentication (SCRAM-SHA-256, md5, trust) and TLS with real clients."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
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
    cert, key = _self_signed(tmp_path)
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


def _self_signed(tmp_path: Path) -> tuple[Path, Path]:
    cert, key = tmp_path / "server.crt", tmp_path / "server.key"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
                    "-subj", "/CN=127.0.0.1", "-keyout", str(key), "-out", str(cert)],
                   check=True, capture_output=True)
    return cert, key


def test_require_tls_refuses_plaintext(tmp_path: Path) -> None:
    """--require-tls is a hostssl-only pg_hba: plaintext gets PostgreSQL's 28000 refusal."""
    cert, key = _self_signed(tmp_path)
    proc = _server(tmp_path, "--tls-cert", str(cert), "--tls-key", str(key), "--require-tls")
    try:
        with pytest.raises(psycopg.OperationalError) as info:
            psycopg.connect(f"postgresql://postgres@127.0.0.1:{proc.port}/postgres?sslmode=disable")
        assert 'no pg_hba.conf entry for host "127.0.0.1", user "postgres", database "postgres", ' \
               "no encryption" in str(info.value)
        dsn = f"postgresql://postgres@127.0.0.1:{proc.port}/postgres?sslmode=require"
        with psycopg.connect(dsn) as conn:
            assert conn.info.pgconn.ssl_in_use
            assert conn.execute("SELECT 1").fetchone() == (1,)
    finally:
        proc.stop()


def test_require_tls_without_certificate_is_a_usage_error(tmp_path: Path) -> None:
    result = subprocess.run([sys.executable, "-m", "strata", "compute", "--standalone", "--data-dir",
                             str(tmp_path / "d"), "--require-tls"], capture_output=True, text=True,
                            timeout=60, env={**os.environ, "COLUMNS": "300"})
    assert result.returncode != 0
    assert "--require-tls needs --tls-cert and --tls-key" in result.stderr


SECRET = "s3cret-of-the-proxy-0123456789"


@pytest.fixture
def proxied_server(tmp_path: Path, passwords: Path) -> Iterator[StrataProcess]:
    secret = tmp_path / "proxy-secret"
    secret.write_text(SECRET + "\n")
    proc = _server(tmp_path, "--auth", "scram", "--password-file", str(passwords),
                   "--proxy-secret-file", str(secret))
    yield proc
    proc.stop()


async def _proxy_connect(port: int, secret: str, user: str = "alice") -> asyncpg.Connection:
    return await asyncpg.connect(host="127.0.0.1", port=port, user=user, database="postgres",
                                 server_settings={"strata.proxy_secret": secret})


def test_proxy_secret_logs_in_without_password_and_reports_lsns(proxied_server: StrataProcess) -> None:
    """The proxy's connections: trusted by secret for the stated user, told each commit's LSN."""

    async def scenario() -> None:
        conn = await _proxy_connect(proxied_server.port, SECRET)
        try:
            assert await conn.fetchval("SELECT current_user") == "alice"
            settings = conn.get_settings()
            readable0 = int(getattr(settings, "strata.replay_lsn"))
            await conn.execute("CREATE TABLE lsn_report (x int)")
            first = int(getattr(conn.get_settings(), "strata.commit_lsn"))
            assert first > readable0
            await conn.execute("INSERT INTO lsn_report VALUES (1)")
            second = int(getattr(conn.get_settings(), "strata.commit_lsn"))
            assert second > first
            assert int(getattr(conn.get_settings(), "strata.replay_lsn")) >= second
            async with conn.transaction():
                await conn.execute("INSERT INTO lsn_report VALUES (2)")
                # not committed yet: no new commit LSN
                assert int(getattr(conn.get_settings(), "strata.commit_lsn")) == second
            third = int(getattr(conn.get_settings(), "strata.commit_lsn"))
            assert third > second
            await conn.fetchval("SELECT count(*) FROM lsn_report")  # a read reports no commit
            assert int(getattr(conn.get_settings(), "strata.commit_lsn")) == third
        finally:
            await conn.close()
        # a wrong secret is a failed authentication; a client's own login reports nothing
        with pytest.raises(asyncpg.InvalidPasswordError):
            await _proxy_connect(proxied_server.port, "not-the-secret-at-all")
        plain = await asyncpg.connect(host="127.0.0.1", port=proxied_server.port, user="alice",
                                      password="wonderland", database="postgres")
        try:
            await plain.execute("INSERT INTO lsn_report VALUES (3)")
            assert not hasattr(plain.get_settings(), "strata.commit_lsn")
        finally:
            await plain.close()

    asyncio.run(scenario())


def test_proxy_secret_refused_without_proxy_secret_file(scram_server: StrataProcess) -> None:
    async def scenario() -> None:
        with pytest.raises(asyncpg.InvalidAuthorizationSpecificationError) as info:
            await _proxy_connect(scram_server.port, SECRET)
        assert "without --proxy-secret-file" in str(info.value)

    asyncio.run(scenario())
