"""CREATE DATABASE with options, differentially: each form runs on PostgreSQL 15 (the oracle,
C.UTF-8 like Strata's template1) and on Strata; both answer alike (done, or the same SQLSTATE),
except the forms Strata refuses with 0A000 because it cannot honour them (another collation or
encoding, ICU, a connection limit, a template database...): PostgreSQL takes those. The
owner's role, with its verifier, is in the new database afterwards (roles are per database in
Strata), and a login as the owner to the new database works over SCRAM."""

from __future__ import annotations

import contextlib
import itertools
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest

from strata.pgwire.auth import ScramVerifier
from tests.support import PostgresOracle, StrataProcess

SAME = [
    "CREATE DATABASE {db}",
    "CREATE DATABASE {db} OWNER dbowner",
    "CREATE DATABASE {db} OWNER = 'dbowner'",
    "CREATE DATABASE {db} OWNER DEFAULT",
    "CREATE DATABASE {db} OWNER nosuch_role",
    "CREATE DATABASE {db} OWNER CURRENT_USER",
    "CREATE DATABASE {db} WITH ENCODING 'UTF8'",
    "CREATE DATABASE {db} ENCODING = 'unicode'",
    "CREATE DATABASE {db} ENCODING 6",
    "CREATE DATABASE {db} ENCODING 'UTF-8' TEMPLATE template1",
    "CREATE DATABASE {db} ENCODING 'LATIN1'",
    "CREATE DATABASE {db} ENCODING 'SQL_ASCII'",
    "CREATE DATABASE {db} ENCODING 'nonsense'",
    "CREATE DATABASE {db} TEMPLATE template0",
    "CREATE DATABASE {db} TEMPLATE = DEFAULT",
    "CREATE DATABASE {db} TEMPLATE no_such_db",
    "CREATE DATABASE {db} LOCALE 'C'",
    "CREATE DATABASE {db} LOCALE 'C' TEMPLATE template0",
    "CREATE DATABASE {db} LOCALE 'POSIX' TEMPLATE template0",
    "CREATE DATABASE {db} LC_COLLATE 'C.UTF-8' LC_CTYPE 'C.UTF-8'",
    "CREATE DATABASE {db} LC_CTYPE 'C'",
    "CREATE DATABASE {db} LOCALE 'C' LC_COLLATE 'C'",
    "CREATE DATABASE {db} LOCALE_PROVIDER libc",
    "CREATE DATABASE {db} LOCALE_PROVIDER bogus",
    "CREATE DATABASE {db} STRATEGY wal_log",
    "CREATE DATABASE {db} STRATEGY = file_copy",
    "CREATE DATABASE {db} STRATEGY bogus",
    "CREATE DATABASE {db} TABLESPACE pg_default",
    "CREATE DATABASE {db} TABLESPACE no_such_space",
    "CREATE DATABASE {db} ALLOW_CONNECTIONS true",
    "CREATE DATABASE {db} ALLOW_CONNECTIONS 'on'",
    "CREATE DATABASE {db} CONNECTION LIMIT -1",
    "CREATE DATABASE {db} CONNECTION LIMIT = -2",
    "CREATE DATABASE {db} IS_TEMPLATE = off",
    "CREATE DATABASE {db} BOGUS 1",
    "CREATE DATABASE {db} OWNER dbowner OWNER dbowner",
    "CREATE DATABASE {db} WITH",
    "CREATE DATABASE {db} OWNER",
    "CREATE DATABASE {db} ENCODING 'UTF8' LC_COLLATE 'C.UTF-8' LC_CTYPE 'C.UTF-8' TEMPLATE template0 OWNER dbowner",
    "CREATE DATABASE {db} WITH OWNER = dbowner ENCODING = 'UTF8' CONNECTION LIMIT = -1",
    "CREATE DATABASE postgres ENCODING 'UTF8'",
    "CREATE DATABASE '{db}'",
]
REFUSED = [  # PostgreSQL takes these; Strata cannot honour them: 0A000
    "CREATE DATABASE {db} TEMPLATE postgres",
    "CREATE DATABASE {db} LOCALE_PROVIDER icu ICU_LOCALE 'en' TEMPLATE template0",
    "CREATE DATABASE {db} ENCODING 'SQL_ASCII' LOCALE 'C' TEMPLATE template0",
    "CREATE DATABASE {db} ALLOW_CONNECTIONS false",
    "CREATE DATABASE {db} CONNECTION LIMIT 5",
    "CREATE DATABASE {db} IS_TEMPLATE true",
    "CREATE DATABASE {db} OID 50000",
]
ALTER_SAME = [
    "ALTER DATABASE {db} OWNER TO dbowner",
    "ALTER DATABASE {db} OWNER TO 'dbowner'",
    "ALTER DATABASE {db} OWNER TO nosuch_role",
    "ALTER DATABASE no_such_db OWNER TO dbowner",
    "ALTER DATABASE {db} OWNER TO DEFAULT",
    "ALTER DATABASE {db} OWNER TO dbowner extra",
    "ALTER DATABASE {db} CONNECTION LIMIT -1",
    "ALTER DATABASE {db} WITH ALLOW_CONNECTIONS true IS_TEMPLATE false",
    "ALTER DATABASE {db} CONNECTION LIMIT = -5",
    "ALTER DATABASE {db} BOGUS 1",
    "ALTER DATABASE {db} ENCODING 'UTF8'",
    "ALTER DATABASE {db} REFRESH COLLATION VERSION",
    "ALTER DATABASE no_such_db CONNECTION LIMIT -1",
]
ALTER_REFUSED = [
    "ALTER DATABASE {db} SET timezone TO 'UTC'",
    "ALTER DATABASE {db} RESET ALL",
    "ALTER DATABASE {db} RENAME TO {db}_renamed",
    "ALTER DATABASE {db} CONNECTION LIMIT 3",
    "ALTER DATABASE {db} ALLOW_CONNECTIONS false",
]
_names = (f"cdb_{i}" for i in itertools.count())


def answer(dsn: str, sql: str) -> tuple[str, str]:
    """('ok', '') or (the SQLSTATE, the message)."""
    with psycopg.connect(dsn, autocommit=True) as conn:
        try:
            conn.execute(sql)
        except psycopg.Error as exc:
            return str(exc.sqlstate), exc.diag.message_primary or ""
    return "ok", ""


def outcome(dsn: str, sql: str) -> str:
    return answer(dsn, sql)[0]


def drop(dsn: str, db: str) -> None:
    with psycopg.connect(dsn, autocommit=True) as conn:
        if conn.execute("SELECT datistemplate FROM pg_database WHERE datname = %s",
                        (db,)).fetchone() == (True,):  # PostgreSQL drops no template
            conn.execute(f"ALTER DATABASE {db} IS_TEMPLATE false")
        conn.execute(f"DROP DATABASE IF EXISTS {db}")


def in_database(dsn: str, db: str) -> str:
    return dsn.rsplit("/", 1)[0] + "/" + db


@pytest.fixture(scope="module")
def servers(pg_oracle: PostgresOracle, strata_shared: StrataProcess) -> Iterator[tuple[str, str]]:
    for dsn in (pg_oracle.dsn, strata_shared.dsn):
        with psycopg.connect(dsn, autocommit=True) as conn:
            conn.execute("CREATE ROLE dbowner LOGIN PASSWORD 'ownerpw'")
    yield pg_oracle.dsn, strata_shared.dsn
    with psycopg.connect(pg_oracle.dsn, autocommit=True) as conn:  # the oracle is shared by modules
        conn.execute("DROP ROLE IF EXISTS dbowner")


@contextlib.contextmanager
def fresh_database(servers: tuple[str, str], created: bool) -> Iterator[str]:
    """A new database name (made on both servers when ``created``), dropped from both after."""
    db = next(_names)
    try:
        if created:
            for dsn in servers:
                assert outcome(dsn, f"CREATE DATABASE {db}") == "ok"
        yield db
    finally:
        for dsn in servers:
            drop(dsn, f"{db}_renamed")
            drop(dsn, db)


@pytest.mark.parametrize(("sql", "created"), [(s, False) for s in SAME] + [(s, True) for s in ALTER_SAME])
def test_answers_as_postgresql(servers: tuple[str, str], sql: str, created: bool) -> None:
    pg, st = servers
    with fresh_database(servers, created) as db:
        assert answer(st, sql.format(db=db)) == answer(pg, sql.format(db=db))


@pytest.mark.parametrize(("sql", "created"), [(s, False) for s in REFUSED] + [(s, True) for s in ALTER_REFUSED])
def test_what_strata_cannot_honour_is_refused(servers: tuple[str, str], sql: str, created: bool) -> None:
    pg, st = servers
    with fresh_database(servers, created) as db:
        assert outcome(pg, sql.format(db=db)) == "ok"
        assert outcome(st, sql.format(db=db)) == "0A000"
        with psycopg.connect(st, autocommit=True) as conn:  # and nothing was made or renamed
            names = {r[0] for r in conn.execute("SELECT datname FROM pg_database").fetchall()}
            assert (db in names) == created and f"{db}_renamed" not in names


def test_the_owner_is_a_role_of_the_new_database(servers: tuple[str, str]) -> None:
    pg, st = servers
    db = next(_names)
    query = ("SELECT rolname, rolsuper, rolcanlogin, rolpassword LIKE 'SCRAM-SHA-256$%' "
             "FROM pg_authid WHERE rolname = 'dbowner'")
    try:
        rows = []
        for dsn in (pg, st):
            assert outcome(dsn, f"CREATE DATABASE {db} OWNER dbowner") == "ok"
            with psycopg.connect(in_database(dsn, db), autocommit=True) as conn:
                rows.append(conn.execute(query).fetchall())
        assert rows[0] == rows[1] == [("dbowner", False, True, True)]
    finally:
        drop(pg, db)
        drop(st, db)


def test_the_owner_logs_in_to_the_new_database(tmp_path: Path) -> None:
    users = tmp_path / "users"
    users.write_text(f"admin:{ScramVerifier.from_password('adminpw').text()}\n")
    proc = StrataProcess(tmp_path / "data", extra_args=["--password-file", str(users),
                                                       "--auth", "scram"]).start()
    try:
        base = f"postgresql://{{}}@127.0.0.1:{proc.port}/{{}}?sslmode=disable"
        with psycopg.connect(base.format("admin:adminpw", "postgres"), autocommit=True) as conn:
            conn.execute("CREATE ROLE app LOGIN PASSWORD 'apppw'")
            conn.execute("CREATE DATABASE appdb OWNER app ENCODING 'UTF8'")
            conn.execute("CREATE DATABASE otherdb")
            conn.execute("CREATE DATABASE laterdb")
            with pytest.raises(psycopg.errors.ActiveSqlTransaction):  # 25001: not undoable
                with conn.transaction():
                    conn.execute("ALTER DATABASE laterdb OWNER TO app")
        with psycopg.connect(base.format("app:apppw", "appdb")) as conn:
            assert conn.execute("SELECT current_user, current_database()").fetchone() == ("app", "appdb")
        with pytest.raises(psycopg.OperationalError, match="password authentication failed"):
            psycopg.connect(base.format("app:apppw", "laterdb"))
        with psycopg.connect(base.format("admin:adminpw", "postgres"), autocommit=True) as conn:
            conn.execute("ALTER DATABASE laterdb OWNER TO app")
        with psycopg.connect(base.format("admin:adminpw", "laterdb"), autocommit=True) as conn:
            conn.execute("CREATE ROLE other LOGIN PASSWORD 'x'")  # takes the next OID there
            oids = dict(conn.execute("SELECT rolname, oid FROM pg_authid").fetchall())
            assert len(set(oids.values())) == len(oids), oids
        with psycopg.connect(base.format("app:apppw", "laterdb")) as conn:
            assert conn.execute("SELECT current_database()").fetchone() == ("laterdb",)
        for wrong in (base.format("app:nope", "appdb"), base.format("app:apppw", "otherdb")):
            with pytest.raises(psycopg.OperationalError, match="password authentication failed"):
                psycopg.connect(wrong)
    finally:
        proc.stop()
