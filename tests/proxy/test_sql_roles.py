"""Roles made with CREATE ROLE … LOGIN PASSWORD log in through the proxy (proxy/roles.py): the
proxy reads the role's verifier from the compute, with the compute's own rules (LOGIN, VALID
UNTIL, the users file winning on a name, roles per database), fresh for every login. Real
proxy and compute processes, real psql / psycopg / asyncpg clients."""

from __future__ import annotations

import asyncio
import os
import subprocess
from pathlib import Path

import asyncpg
import psycopg
import pytest

from tests.proxy.conftest import StartProxy
from tests.proxy.support import ProxyProc, write_users
from tests.support import free_port


def login(proxy: ProxyProc, user: str, password: str, database: str = "postgres") -> str:
    """``current_user`` of a new session, or the SQLSTATE the login failed with."""
    dsn = proxy.dsn(user, password).replace("/postgres", f"/{database}")
    try:
        with psycopg.connect(dsn, autocommit=True, connect_timeout=10) as conn:
            row = conn.execute("SELECT current_user, session_user").fetchone()
            assert row is not None and row[0] == row[1]
            return str(row[0])
    except psycopg.OperationalError as exc:
        state = getattr(exc, "sqlstate", None)
        if state:
            return str(state)
        text = str(exc)  # older libpq: the state is only in the message
        if "password authentication failed" in text:
            return "28P01"
        if "does not exist" in text:
            return "3D000"
        if "cannot check the password" in text:
            return "57P03"
        raise


@pytest.fixture
def proxy(tmp_path: Path, start_proxy: StartProxy) -> ProxyProc:
    users = write_users(tmp_path, {"admin": "adminpw", "bob": "filepw"})
    return start_proxy("--users-file", str(users), auth="scram")


def admin(proxy: ProxyProc, *statements: str) -> None:
    with psycopg.connect(proxy.dsn("admin", "adminpw"), autocommit=True) as conn:
        for sql in statements:
            conn.execute(sql)


def test_a_sql_role_logs_in_with_its_own_password(proxy: ProxyProc) -> None:
    admin(proxy, "CREATE ROLE app1 LOGIN PASSWORD 'pw1'", "CREATE ROLE \"it's\" LOGIN PASSWORD 'q'")
    assert login(proxy, "app1", "pw1") == "app1"
    assert login(proxy, "app1", "wrong") == "28P01"
    assert login(proxy, "it's", "q") == "it's"
    assert login(proxy, "nobody1", "pw1") == "28P01"
    env = dict(os.environ, PGPASSWORD="pw1")
    out = subprocess.run(["psql", "-X", "-At", proxy.dsn("app1"), "-c", "SELECT current_user"],
                         capture_output=True, text=True, env=env, timeout=30)
    assert out.returncode == 0 and out.stdout.strip() == "app1", out.stderr

    async def with_asyncpg() -> None:
        conn = await asyncpg.connect(proxy.dsn("app1", "pw1"))
        assert await conn.fetchval("SELECT $1::int + 1", 41) == 42
        await conn.close()
        with pytest.raises(asyncpg.InvalidPasswordError):
            await asyncpg.connect(proxy.dsn("app1", "nope"))

    asyncio.run(with_asyncpg())


def test_the_compute_rules_hold_at_every_login(proxy: ProxyProc) -> None:
    admin(proxy,
          "CREATE ROLE nolog2 PASSWORD 'pw'",
          "CREATE ROLE past2 LOGIN PASSWORD 'pw' VALID UNTIL '2001-01-01'",
          "CREATE ROLE future2 LOGIN PASSWORD 'pw' VALID UNTIL '2099-01-01 00:00:00+02'",
          "CREATE ROLE forever2 LOGIN PASSWORD 'pw' VALID UNTIL 'infinity'",
          "CREATE ROLE nopw2 LOGIN")
    assert login(proxy, "nolog2", "pw") == "28P01"
    assert login(proxy, "past2", "pw") == "28P01"
    assert login(proxy, "future2", "pw") == "future2"
    assert login(proxy, "forever2", "pw") == "forever2"
    assert login(proxy, "nopw2", "x") == "28P01"
    # changes hold for the next login: nothing is cached
    admin(proxy, "ALTER ROLE future2 PASSWORD 'new'", "ALTER ROLE nolog2 LOGIN",
          "ALTER ROLE past2 VALID UNTIL 'infinity'", "DROP ROLE forever2")
    assert login(proxy, "future2", "pw") == "28P01"
    assert login(proxy, "future2", "new") == "future2"
    assert login(proxy, "nolog2", "pw") == "nolog2"
    assert login(proxy, "past2", "pw") == "past2"
    assert login(proxy, "forever2", "pw") == "28P01"


def test_the_users_file_wins_and_roles_are_per_database(proxy: ProxyProc) -> None:
    admin(proxy, "CREATE ROLE bob LOGIN PASSWORD 'sqlpw'", "CREATE ROLE app3 LOGIN PASSWORD 'pw3'",
          "CREATE DATABASE other3")
    assert login(proxy, "bob", "sqlpw") == "28P01"
    assert login(proxy, "bob", "filepw") == "bob"
    assert login(proxy, "app3", "pw3") == "app3"
    assert login(proxy, "app3", "pw3", "other3") == "28P01"  # made in postgres only
    assert login(proxy, "app3", "pw3", "no_such_db3") == "28P01"  # authentication comes first
    assert login(proxy, "admin", "adminpw", "no_such_db3") == "3D000"


def test_without_a_compute_the_login_is_refused_as_unavailable(tmp_path: Path,
                                                                start_proxy: StartProxy) -> None:
    users = write_users(tmp_path, {"admin": "adminpw"})
    dead = f"127.0.0.1:{free_port()}"
    proxy = start_proxy("--users-file", str(users), "--primary", dead, "--failover-wait-s", "0.5",
                        auth="scram")
    assert login(proxy, "app4", "pw") == "57P03"
