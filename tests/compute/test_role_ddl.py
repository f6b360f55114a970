"""CREATE/ALTER/DROP ROLE|USER against PostgreSQL 15 (answers, tags, SQLSTATEs, notices, pg_roles
rows), the role checks of GRANT/REVOKE/OWNER TO, and a SCRAM login as a role made by SQL."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest

from tests.support import PostgresOracle, StrataProcess

ROWS = ("select rolname, rolsuper, rolinherit, rolcreaterole, rolcreatedb, rolcanlogin, rolreplication, "
        "rolconnlimit, rolpassword, rolbypassrls from pg_roles where rolname like 'rd\\_%' order by 1")
VERIFIERS = ("select rolname, rolpassword like 'SCRAM-SHA-256$4096:%', rolpassword is null from pg_authid "
             "where rolname like 'rd\\_%' order by 1")
USERS = "select usename, usesuper, usecreatedb, passwd from pg_user where usename like 'rd\\_%' order by 1"
GIVEN = ("SCRAM-SHA-256$4096:c2FsdHNhbHRzYWx0c2FsdA==$"
         "dGhpcyBpcyBub3QgYSByZWFsIHN0b3JlZCBrZXkgISE=:dGhpcyBpcyBub3QgYSByZWFsIHNlcnZlciBrZXkgISE=")

SCRIPT = [
    "create role rd_a", "create user rd_b password 'secret'", "create role rd_a",
    "create role rd_c with login createdb nocreaterole connection limit 5 encrypted password 'x'",
    "create role rd_d superuser noinherit replication bypassrls", "create role rd_e login login",
    "create role rd_f password ''", "create role pg_rd", "create role rd_g password null",
    f"create role rd_h login password '{GIVEN}'", "create role rd_i password 'md5' ",
    ROWS, VERIFIERS, USERS,
    "alter role rd_a with login password 'p2' createrole", "alter user rd_b nologin connection limit -1",
    "alter role rd_b password null", "alter role rd_zz login", "alter role rd_c rename to rd_c2",
    "alter role rd_c2 rename to rd_a", "alter role rd_d", ROWS, VERIFIERS,
    "select rolpassword from pg_authid where rolname = 'rd_h'",
    "create table rd_t (x int)", "alter table rd_t owner to rd_a", "alter table rd_t owner to rd_nobody",
    "grant select on rd_t to rd_a, rd_b", "grant select on rd_t to rd_nobody", "grant all on rd_t to public",
    "revoke select on rd_t from rd_a", "revoke select on rd_t from rd_nobody", "grant rd_a to rd_b",
    "grant rd_nobody to rd_b", "grant pg_monitor to rd_b", "revoke rd_a from rd_b",
    "grant select on rd_t to current_user", "drop table rd_t",
    "drop role rd_nobody", "drop role rd_a, rd_nobody", ROWS,
    "drop user rd_a, rd_b", "drop role if exists rd_c2, rd_d, rd_f, rd_g, rd_h, rd_i", ROWS,
    "select current_user = session_user",
]
EDGES = [
    "create role public", "create role none", "create role current_user", "create role postgres",
    "alter role current_user createdb", "alter role postgres rename to rd_x", "drop role postgres",
    "drop role current_user", "begin", "create role rd_t1", "rollback", ROWS,
    "create role rd_q; create role rd_q2 login", ROWS, "alter role rd_q rename to rd_q2",
    "alter role rd_q rename to pg_x", "alter role rd_q with", "create role rd_w with",
    "create role rd_v valid until 'infinity'", "select rolvaliduntil is null from pg_roles where rolname='rd_v'",
    "drop role pg_monitor", "alter role pg_monitor login", "grant select on nosuch to rd_q",
    "create role \"rd_Q\"", "drop role \"rd_Q\", rd_q, rd_q2, rd_v", ROWS,
    "create role rd_y connection limit 'a'", "alter role rd_nosuch rename to rd_z",
    "alter role rd_nosuch password null", "grant rd_nosuch to postgres", "revoke all on t from group rd_nosuch",
    "create table rd_t (a int)", "create sequence rd_s", "alter table rd_nosuch owner to postgres",
    "alter table if exists rd_nosuch owner to postgres", "alter table rd_t owner to rd_nosuch",
    "alter table public.rd_t owner to current_user", "grant select on rd_t, rd_s to public",
    "grant select on table rd_t, nosuch to public", "grant usage on sequence rd_s to rd_nosuch",
    "grant select on pg_class to postgres", "grant select on all tables in schema public to postgres",
    "revoke admin option for rd_x from postgres", "drop table rd_t", "drop sequence rd_s", "drop role rd_w",
    "alter role pg_foo login", "alter role pg_monitor rename to rd_m",
    "create role rd_ie", "drop role if exists rd_ie, rd_gone1, \"rd_Gone2\"", "drop user if exists rd_gone3",
    "create role rd_vu valid until 'garbage'", "create role rd_vu valid until 'tomorrow'", "drop role if exists rd_vu",
    ROWS,
]


def _run(dsn: str, script: list[str]) -> list[Any]:
    out: list[Any] = []
    with psycopg.connect(dsn, autocommit=True) as conn:
        notices: list[tuple[str | None, str | None]] = []
        conn.add_notice_handler(lambda d: notices.append((d.sqlstate, d.message_primary)))
        for sql in script:
            try:
                cur = conn.execute(sql.encode())
                out.append(cur.fetchall() if cur.description else cur.statusmessage)
            except psycopg.Error as exc:
                out.append(("error", exc.sqlstate, exc.diag.message_primary))
            if notices:
                out.append(("notices", list(notices)))
                notices.clear()
    return out


def test_role_ddl_against_postgres(pg_oracle: PostgresOracle, strata_shared: StrataProcess) -> None:
    pg = _run(pg_oracle.dsn, SCRIPT)
    st = _run(strata_shared.dsn, SCRIPT)
    differ = [(i, p, s) for i, (p, s) in enumerate(zip(pg, st, strict=False)) if p != s]
    assert st == pg, differ[:3]


def test_role_edges_against_postgres(pg_oracle: PostgresOracle, strata_shared: StrataProcess) -> None:
    """Reserved names, the session user, transactions, predefined roles, relations in GRANT/OWNER TO."""
    pg = _run(pg_oracle.dsn, EDGES)
    st = _run(strata_shared.dsn, EDGES)
    assert st == pg, [(i, p, s) for i, (p, s) in enumerate(zip(pg, st, strict=False)) if p != s][:3]


def test_refused_with_0a000(strata_shared: StrataProcess) -> None:
    """What is not stored is refused, never silently different."""
    script = ["create role rd_m in role rd_x", "alter role postgres set work_mem = '1MB'",
              "create role rd_m unencrypted password 'x'",
              "create role rd_m password 'md5c4ca4238a0b923820dcc509a6f75849b'",
              "create user mapping for postgres server s",
              # grant options and column privileges are not stored (compute/sql/translate/grants.py)
              "create table rd_g0 (a int)", "grant select on rd_g0 to postgres with grant option",
              "grant select (a) on rd_g0 to postgres", "drop table rd_g0"]
    assert [r[:2] if isinstance(r, tuple) else r for r in _run(strata_shared.dsn, script)] == \
        [("error", "0A000")] * 5 + ["CREATE TABLE"] + [("error", "0A000")] * 2 + ["DROP TABLE"]


@pytest.fixture
def scram_server(tmp_path: Path) -> Iterator[StrataProcess]:
    path = tmp_path / "passwords"
    path.write_text("postgres:admin-pass\nrd_file:from-file\n")
    proc = StrataProcess(tmp_path / "data", extra_args=["--auth", "scram", "--password-file", str(path)]).start()
    yield proc
    proc.stop()


def test_login_as_role_created_by_sql(scram_server: StrataProcess) -> None:
    base = f"127.0.0.1:{scram_server.port}/postgres"
    with psycopg.connect(f"postgresql://postgres:admin-pass@{base}", autocommit=True) as conn:
        conn.execute("create user rd_app password 'app-pass'")
        conn.execute("create role rd_nologin password 'nl-pass'")
        conn.execute("create user rd_file password 'from-sql'")  # the users file wins on this name
    with psycopg.connect(f"postgresql://rd_app:app-pass@{base}") as conn:
        assert conn.execute("select current_user, session_user").fetchone() == ("rd_app", "rd_app")
    for user, password in [("rd_app", "wrong"), ("rd_nologin", "nl-pass"), ("rd_file", "from-sql")]:
        with pytest.raises(psycopg.OperationalError) as info:
            psycopg.connect(f"postgresql://{user}:{password}@{base}")
        assert f'password authentication failed for user "{user}"' in str(info.value)  # 28P01
    with psycopg.connect(f"postgresql://rd_file:from-file@{base}"):
        pass
    with psycopg.connect(f"postgresql://postgres:admin-pass@{base}", autocommit=True) as conn:
        conn.execute("alter role rd_app password 'new-pass'")
    with psycopg.connect(f"postgresql://rd_app:new-pass@{base}"):
        pass
    with psycopg.connect(f"postgresql://postgres:admin-pass@{base}", autocommit=True) as conn:
        conn.execute("drop role rd_app")
    with pytest.raises(psycopg.OperationalError) as info:
        psycopg.connect(f"postgresql://rd_app:new-pass@{base}")
    assert 'password authentication failed for user "rd_app"' in str(info.value)


def test_valid_until_is_enforced_at_login(scram_server: StrataProcess) -> None:
    """A password past its VALID UNTIL fails the login (28P01) as in PostgreSQL; infinity and a
    future time let it in; ALTER ROLE … VALID UNTIL takes effect at the next login."""
    base = f"127.0.0.1:{scram_server.port}/postgres"
    with psycopg.connect(f"postgresql://postgres:admin-pass@{base}", autocommit=True) as conn:
        conn.execute("create user rd_old password 'p' valid until '2001-01-01 00:00:00+00'")
        conn.execute("create user rd_forever password 'p' valid until 'infinity'")
        conn.execute("create user rd_later password 'p' valid until '2999-01-01'")
    for user in ("rd_forever", "rd_later"):
        with psycopg.connect(f"postgresql://{user}:p@{base}") as conn:
            assert conn.execute("select current_user").fetchone() == (user,)
    with pytest.raises(psycopg.OperationalError) as info:
        psycopg.connect(f"postgresql://rd_old:p@{base}")
    assert 'password authentication failed for user "rd_old"' in str(info.value)
    with psycopg.connect(f"postgresql://postgres:admin-pass@{base}", autocommit=True) as conn:
        conn.execute("alter role rd_old valid until 'infinity'")
        conn.execute("alter role rd_later valid until '2000-06-01'")
    with psycopg.connect(f"postgresql://rd_old:p@{base}"):
        pass
    with pytest.raises(psycopg.OperationalError):
        psycopg.connect(f"postgresql://rd_later:p@{base}")


def test_connection_limit_is_enforced(scram_server: StrataProcess) -> None:
    """CONNECTION LIMIT n: the (n+1)th concurrent login of the role is refused with 53300, as in
    PostgreSQL; a connection that ends frees its place; superusers are not limited."""
    base = f"127.0.0.1:{scram_server.port}/postgres"
    with psycopg.connect(f"postgresql://postgres:admin-pass@{base}", autocommit=True) as admin:
        admin.execute("create user rd_one password 'p' connection limit 1")
        admin.execute("create user rd_root password 'p' superuser connection limit 0")
        first = psycopg.connect(f"postgresql://rd_one:p@{base}")
        with pytest.raises(psycopg.OperationalError) as info:
            psycopg.connect(f"postgresql://rd_one:p@{base}")
        assert 'too many connections for role "rd_one"' in str(info.value)
        first.close()
        for _ in range(50):  # the server notices the close
            try:
                psycopg.connect(f"postgresql://rd_one:p@{base}").close()
                break
            except psycopg.OperationalError:
                time.sleep(0.05)
        else:
            raise AssertionError("the role's place was not freed after its connection closed")
        with psycopg.connect(f"postgresql://rd_root:p@{base}"), psycopg.connect(f"postgresql://rd_root:p@{base}"):
            pass
        admin.execute("alter role rd_one connection limit -1")
        with psycopg.connect(f"postgresql://rd_one:p@{base}"), psycopg.connect(f"postgresql://rd_one:p@{base}"):
            pass
