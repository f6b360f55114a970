"""Table privileges and ownership against PostgreSQL 15: the same roles, tables and grants on
both, the same statements run as a plain role (LOGIN, not a superuser) and as the superuser;
rows, SQLSTATEs (42501) and messages must match. Also: a prepared statement reused across
GRANT/REVOKE, cursors, COPY, PL/pgSQL, the forms refused with 0A000, and that superuser
sessions still take the fast lanes (compute/sql/privileges.py, compute/session_privileges.py)."""

from __future__ import annotations

import itertools
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest

from compute.session import Session
from compute.sql.privileges import Checker
from tests.compute import test_roles
from tests.compute.inprocess import InProcessNode, small_standalone
from tests.support import PostgresOracle, StrataProcess

ROLES = ["create role pv_app login", "create role pv_app2 login", "create role pv_grp",
         "create role pv_noinh login noinherit", "grant pv_grp to pv_app", "grant pv_grp to pv_noinh"]
_numbers = itertools.count(1)


def _dsn(base: str, user: str, db: str) -> str:
    rest = base.split("@", 1)[1].rsplit("/", 1)[0]
    return f"postgresql://{user}@{rest}/{db}"


class Side:
    """One server (PostgreSQL or Strata) with a database of its own and a connection per role."""

    def __init__(self, base: str, db: str, roles_here: bool) -> None:
        with psycopg.connect(base, autocommit=True) as admin:
            admin.execute(f"create database {db}")
        self.base, self.db = base, db
        self.conns: dict[str, psycopg.Connection[Any]] = {}
        if roles_here:  # Strata: roles are per database
            for sql in ROLES:
                self.conn("su").execute(sql)

    def conn(self, who: str) -> psycopg.Connection[Any]:
        if who not in self.conns:
            user = "postgres" if who == "su" else who
            self.conns[who] = psycopg.connect(_dsn(self.base, user, self.db), autocommit=True)
        return self.conns[who]

    def run(self, script: list[tuple[str, str]]) -> list[Any]:
        out: list[Any] = []
        for who, sql in script:
            try:
                cur = self.conn(who).execute(sql.encode())
                out.append((who, sql, cur.fetchall() if cur.description else cur.statusmessage))
            except psycopg.Error as exc:
                out.append((who, sql, "error", exc.sqlstate, exc.diag.message_primary))
        return out

    def close(self) -> None:
        for conn in self.conns.values():
            conn.close()


@pytest.fixture(scope="module")
def pg_roles(pg_oracle: PostgresOracle) -> Iterator[PostgresOracle]:
    """The roles on the PostgreSQL oracle (roles are per cluster there), and at the end the
    databases and roles this module made, so later modules' listings (\\l, \\du) are as before."""
    with psycopg.connect(pg_oracle.dsn, autocommit=True) as conn:
        for sql in ROLES:
            conn.execute(sql)
    yield pg_oracle
    with psycopg.connect(pg_oracle.dsn, autocommit=True) as conn:
        for (db,) in conn.execute("select datname from pg_database where datname like 'priv\\_%'").fetchall():
            conn.execute(f"drop database {db} with (force)")
        for (role,) in conn.execute("select rolname from pg_roles where rolname like 'pv\\_%'").fetchall():
            conn.execute(f"drop role {role}")


@pytest.fixture
def sides(pg_roles: PostgresOracle, strata_shared: StrataProcess) -> Iterator[tuple[Side, Side]]:
    db = f"priv_{next(_numbers)}"
    pg = Side(pg_roles.dsn, db, roles_here=False)
    st = Side(strata_shared.dsn, db, roles_here=True)
    try:
        yield pg, st
    finally:
        pg.close()
        st.close()


def _same(sides: tuple[Side, Side], script: list[tuple[str, str]]) -> list[Any]:
    pg, st = sides
    expected, got = pg.run(script), st.run(script)
    assert got == expected, [(p, s) for p, s in zip(expected, got, strict=True) if p != s][:4]
    return got


SETUP = [("su", sql) for sql in (
    "create table payroll (id int primary key, amount int)", "insert into payroll values (1, 100), (2, 200)",
    "create table pub (x int)", "insert into pub values (7)",
    "create table shared (x int)", "insert into shared values (1)",
    "create table grp_t (x int)", "insert into grp_t values (5)",
    "create view pay_view as select id from payroll",
)]


def test_read_write_denied_and_granted(sides: tuple[Side, Side]) -> None:
    got = _same(sides, SETUP + [
        ("pv_app", "show is_superuser"), ("su", "show is_superuser"),
        ("pv_app", "select current_setting('is_superuser')"),
        ("pv_app", "select * from payroll"), ("pv_app", "insert into payroll values (3, 1)"),
        ("pv_app", "update payroll set amount = 0"), ("pv_app", "delete from payroll"),
        ("pv_app", "truncate payroll"), ("pv_app", "select count(*) from payroll"),
        ("su", "grant select on payroll to pv_app"),
        ("pv_app", "select * from payroll order by id"), ("pv_app", "insert into payroll values (3, 1)"),
        ("su", "grant insert, update on payroll to pv_app"),
        ("pv_app", "insert into payroll values (3, 1)"),
        ("pv_app", "insert into payroll values (4, 1) returning id"),
        ("pv_app", "update payroll set amount = amount + 1 where id = 3"),
        ("pv_app", "delete from payroll where id = 3"),
        ("su", "revoke select on payroll from pv_app"),
        ("pv_app", "update payroll set amount = 5"),  # UPDATE without reading: no SELECT needed
        ("pv_app", "update payroll set amount = 5 where id = 1"),  # reads id: SELECT needed
        ("pv_app", "insert into payroll values (5, 1) returning id"),
        ("pv_app", "select p.x, q.amount from pub p, payroll q"),
        ("su", "grant all on pub to pv_app"), ("pv_app", "truncate pub"), ("pv_app", "select * from pub"),
        ("su", "revoke all on pub from pv_app"), ("pv_app", "select * from pub"),
        ("su", "grant select on shared to public"), ("pv_app", "select * from shared"),
        ("pv_app2", "select * from shared"), ("su", "revoke select on shared from public"),
        ("pv_app2", "select * from shared"),
        ("su", "grant select, insert on grp_t to pv_grp"),
        ("pv_app", "select * from grp_t"), ("pv_app", "insert into grp_t values (6)"),
        ("pv_noinh", "select * from grp_t"), ("pv_app2", "select * from grp_t"),
        ("su", "revoke pv_grp from pv_app"), ("pv_app", "select * from grp_t"),
        ("su", "grant pv_grp to pv_app"),
        ("su", "select * from payroll order by id"),  # the superuser bypasses every check
        ("pv_app", "select has_table_privilege('payroll', 'select'), has_table_privilege('payroll', 'update'), "
                   "has_table_privilege('pv_app', 'grp_t', 'insert'), has_table_privilege('pv_app2', 'grp_t', 'select')"),
        ("su", "select has_table_privilege('pv_app', 'payroll', 'select, update')"),
        ("pv_app", "select has_column_privilege('payroll', 'amount', 'select'), "
                   "has_column_privilege('payroll', 'amount', 'update'), "
                   "has_column_privilege('pv_app2', 'grp_t', 'x', 'select')"),
        ("su", "select relname, relacl::text from pg_class where relname in ('payroll', 'pub', 'shared', 'grp_t') "
               "order by 1"),
        ("pv_app", "select * from pg_authid"), ("pv_app", "select usename from pg_shadow"),
    ])
    assert ("pv_app", "select * from payroll", "error", "42501", "permission denied for table payroll") in got


def test_views_sequences_and_owners(sides: tuple[Side, Side]) -> None:
    _same(sides, SETUP + [
        ("su", "grant select on pay_view to pv_app"),
        ("pv_app", "select * from pay_view order by id"),  # the view's owner reads payroll
        ("pv_app", "select * from payroll"),
        ("pv_app2", "select * from pay_view"),
        ("su", "create sequence seq1"), ("su", "create table ser (id serial, v int)"),
        ("su", "grant insert on ser to pv_app"),
        ("pv_app", "insert into ser (v) values (1)"),  # nextval of ser_id_seq needs USAGE
        ("pv_app", "select nextval('seq1')"),
        ("su", "grant usage on sequence ser_id_seq to pv_app"), ("pv_app", "insert into ser (v) values (1)"),
        ("su", "grant select on sequence seq1 to pv_app"), ("pv_app", "select nextval('seq1')"),
        ("su", "grant usage on seq1 to pv_app"), ("pv_app", "select nextval('seq1')"),
        ("su", "create table own (x int)"), ("su", "alter table own owner to pv_app"),
        ("pv_app", "insert into own values (1)"), ("pv_app", "select * from own"),
        ("pv_app", "alter table own add column y int"), ("pv_app", "create index own_x on own (x)"),
        ("pv_app", "revoke select on own from pv_app"), ("pv_app", "select * from own"),
        ("pv_app", "grant select on own to pv_app2"), ("pv_app2", "select * from own"),
        ("pv_app", "grant select on own to pv_app"), ("pv_app", "select * from own"),
        ("pv_app2", "drop table own"), ("pv_app2", "alter table own add column z int"),
        ("pv_app2", "truncate own"), ("pv_app2", "alter table own owner to pv_app2"),
        ("pv_app", "alter table own owner to pv_app2"),
        ("pv_app", "drop table payroll"), ("pv_app", "alter table payroll add column z int"),
        ("pv_app", "create index pi on payroll (amount)"), ("pv_app", "alter table payroll owner to pv_app"),
        ("pv_app", "grant select on payroll to pv_app"),
        ("su", "select c.relname, r.rolname from pg_class c join pg_roles r on r.oid = c.relowner "
               "where c.relname in ('own', 'payroll', 'pay_view') order by 1"),
        ("su", "select tablename, tableowner from pg_tables where tablename in ('own', 'payroll') order by 1"),
        ("su", "select viewname, viewowner from pg_views where viewname = 'pay_view'"),
        ("su", "select grantee, privilege_type from information_schema.table_privileges "
               "where table_name = 'own' order by 1, 2"),
        ("pv_app", "drop table own"),
        ("pv_app", "create table mine (x int)"), ("pv_app", "create view myview as select 1"),
        ("pv_app", "create sequence myseq"), ("pv_app", "create schema mysch"),
        ("pv_app", "create role pv_new"), ("pv_app", "create temp table tmp1 (x int)"),
        ("pv_app", "insert into tmp1 values (1)"), ("pv_app", "select * from tmp1"),
        ("su", "grant create on schema public to pv_app"), ("pv_app", "create table mine (x int)"),
        ("pv_app", "insert into mine values (1)"), ("pv_app2", "select * from mine"),
        ("su", "select tableowner from pg_tables where tablename = 'mine'"),
        ("su", "revoke create on schema public from pv_app"), ("pv_app", "create table mine2 (x int)"),
        ("pv_app", "drop table mine"),
    ])


def test_prepared_statement_sees_grant_and_revoke(sides: tuple[Side, Side]) -> None:
    """Extended protocol, a statement prepared once and executed across GRANT / REVOKE."""
    outcomes = []
    for side in sides:
        side.run(SETUP)
        app, su = side.conn("pv_app"), side.conn("su")
        seen = []
        with app.cursor() as cur:
            for step in ("none", "grant select on payroll to pv_app", "revoke select on payroll from pv_app",
                         "grant select on payroll to pv_grp", "revoke pv_grp from pv_app"):
                if step != "none":
                    su.execute(step)
                for _ in range(2):
                    try:
                        cur.execute("select amount from payroll where id = %s", (1,), prepare=True)
                        seen.append(cur.fetchall())
                    except psycopg.Error as exc:
                        seen.append((exc.sqlstate, exc.diag.message_primary))
        su.execute("grant pv_grp to pv_app")
        outcomes.append(seen)
    assert outcomes[1] == outcomes[0]
    assert outcomes[1][:4] == [("42501", "permission denied for table payroll")] * 2 + [[(100,)]] * 2


def test_transactions_cursors_copy_and_functions(sides: tuple[Side, Side]) -> None:
    """A block (the write lane), REPEATABLE READ (a held snapshot reader), DECLARE/FETCH, COPY,
    PL/pgSQL: each checked."""
    script = SETUP + [
        ("su", "grant select on pub to pv_app"),
        ("pv_app", "begin"), ("pv_app", "select * from pub"), ("pv_app", "select * from payroll"),
        ("pv_app", "rollback"),
        ("pv_app", "begin isolation level repeatable read"), ("pv_app", "select * from pub"),
        ("pv_app", "select id from payroll"), ("pv_app", "rollback"),
        ("pv_app", "begin"), ("pv_app", "declare c1 cursor for select * from payroll"), ("pv_app", "rollback"),
        ("pv_app", "begin"), ("pv_app", "declare c2 cursor for select * from pub"), ("pv_app", "fetch 1 from c2"),
        ("pv_app", "commit"),
        ("pv_app", "do $$ begin perform * from payroll; end $$"),
        ("pv_app", "do $$ begin perform * from pub; end $$"),
        ("su", "create function peek() returns bigint language plpgsql as $$ begin "
               "return (select count(*) from payroll); end $$"),
        ("pv_app", "select peek()"),
        ("pv_app", "explain select * from payroll"),
        ("pv_app", "prepare q1 as select * from payroll"), ("pv_app", "execute q1"),
    ]
    _same(sides, script)
    results = []
    for side in sides:
        app = side.conn("pv_app")
        got = []
        for sql in ("copy payroll to stdout", "copy pub to stdout"):
            try:
                with app.cursor() as cur, cur.copy(sql) as copy:
                    got.append(b"".join(bytes(b) for b in copy))
            except psycopg.Error as exc:
                got.append((exc.sqlstate, exc.diag.message_primary))
        for sql in ("copy payroll from stdin", "copy pub from stdin"):
            try:
                with app.cursor() as cur, cur.copy(sql) as copy:
                    copy.write(b"9\t9\n" if "payroll" in sql else b"9\n")
                got.append("copied")
            except psycopg.Error as exc:
                got.append((exc.sqlstate, exc.diag.message_primary))
        results.append(got)
    assert results[1] == results[0]
    assert results[1][0] == ("42501", "permission denied for table payroll")


def test_refused_with_0a000(strata_shared: StrataProcess) -> None:
    """What is not stored or not enforced is refused, never silently accepted."""
    with psycopg.connect(strata_shared.dsn, autocommit=True) as conn:
        conn.execute("create table if not exists rf_t (a int)")
        conn.execute("create role rf_r")
        try:
            for sql in ("grant select (a) on rf_t to rf_r", "grant select on rf_t to rf_r with grant option",
                        "grant select on rf_t to rf_r granted by postgres",
                        "revoke usage on schema public from public", "revoke execute on function f() from public",
                        "grant all on database postgres to rf_r", "alter default privileges grant select on tables to rf_r",
                        "grant update (a) on rf_t to rf_r", "set role rf_r"):
                with pytest.raises(psycopg.Error) as info:
                    conn.execute(sql)
                assert info.value.sqlstate == "0A000", (sql, info.value)
            # PUBLIC already has these in PostgreSQL 15: no-ops, accepted
            for sql in ("grant usage on schema public to rf_r", "grant connect on database postgres to rf_r",
                        "grant execute on function now() to rf_r", "revoke grant option for select on rf_t from rf_r",
                        "set role postgres", "set role none"):
                conn.execute(sql)
        finally:
            conn.execute("drop table rf_t")
            conn.execute("drop role rf_r")


@pytest.fixture
def node(tmp_path: Path) -> Iterator[InProcessNode]:
    with small_standalone(tmp_path / "data", max_readers=2) as n:
        yield n


def test_superuser_keeps_the_fast_lanes(node: InProcessNode, monkeypatch: pytest.MonkeyPatch) -> None:
    """A superuser session's statements take the read lane and no check runs; a plain role's
    take the general path, checked, and answer the same rows."""
    fast: list[tuple[str, bool]] = []
    real_read = Session.try_fast_read

    def counting_read(self: Session, tr: Any, params: tuple[Any, ...]) -> Any:
        result = real_read(self, tr, params)
        fast.append((self.user, result is not None))
        return result

    checked: list[str] = []
    real_step = Checker.step

    def counting_step(self: Checker, conn: Any, sql: str, truncate: bool = False) -> None:
        checked.append(self.user)
        real_step(self, conn, sql, truncate)

    monkeypatch.setattr(Session, "try_fast_read", counting_read)
    monkeypatch.setattr(Checker, "step", counting_step)
    with psycopg.connect(node.dsn(), autocommit=True) as su:
        su.execute("create table fl (id int primary key, v int)")
        su.execute("insert into fl select g, g * 10 from generate_series(1, 20) g")
        su.execute("create role fl_app login")
        su.execute("grant select on fl to fl_app")
        rows_su = [su.execute("select v from fl where id = %s", (i,), prepare=True).fetchall() for i in range(1, 11)]
    with psycopg.connect(node.dsn().replace("postgres@", "fl_app@"), autocommit=True) as app:
        assert app.execute("show is_superuser").fetchone() == ("off",)
        rows_app = [app.execute("select v from fl where id = %s", (i,), prepare=True).fetchall() for i in range(1, 11)]
        simple = psycopg.ClientCursor(app)  # the simple Query protocol (literals inlined)
        assert simple.execute("select v from fl where id = 3").fetchall() == [(30,)]
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            simple.execute("select 1; insert into fl values (99, 1)")
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            simple.execute("update fl set v = 0 where id = 1")
    assert rows_app == rows_su == [[(i * 10,)] for i in range(1, 11)]
    assert sum(ok for user, ok in fast if user == "postgres") >= 8  # the superuser's reads: the lane
    assert not any(ok for user, ok in fast if user == "fl_app")  # the role's: never the lane
    assert "postgres" not in checked and checked.count("fl_app") >= 10


pair = test_roles.pair  # the in-process primary/replica pair (one LocalStore)


def _until(check: Any, timeout_s: float = 10.0) -> Any:
    deadline = time.monotonic() + timeout_s
    while True:
        try:
            return check()
        except (AssertionError, psycopg.Error):
            if time.monotonic() > deadline:
                raise
            time.sleep(0.05)


def test_replica_enforces_replicated_grants(pair: tuple[InProcessNode, InProcessNode, Any]) -> None:
    """Owners, ACLs and roles replicate with the data: a plain role on a replica is refused and
    allowed as the primary's GRANT / REVOKE say, in its pooled readers."""
    primary, replica, _factory = pair
    with psycopg.connect(primary.dsn(), autocommit=True) as p:
        p.execute("create role rp_app login")
        p.execute("create table rp_t (x int)")
        p.execute("insert into rp_t values (1)")

        def connect() -> psycopg.Connection[Any]:
            return psycopg.connect(replica.dsn().replace("postgres@", "rp_app@"), autocommit=True)

        with _until(connect) as r:
            assert r.execute("show is_superuser").fetchone() == ("off",)

            def denied() -> None:
                with pytest.raises(psycopg.errors.InsufficientPrivilege) as info:
                    r.execute("select * from rp_t")
                assert info.value.diag.message_primary == "permission denied for table rp_t"

            _until(denied)
            p.execute("grant select on rp_t to rp_app")
            assert _until(lambda: r.execute("select * from rp_t").fetchall()) == [(1,)]
            p.execute("revoke select on rp_t from rp_app")
            _until(denied)
            with pytest.raises(psycopg.errors.ReadOnlySqlTransaction):  # a replica stays read-only
                r.execute("insert into rp_t values (2)")
    with psycopg.connect(replica.dsn(), autocommit=True) as su:  # the superuser: no check
        assert _until(lambda: su.execute("select * from rp_t").fetchall()) == [(1,)]


def test_drop_role_that_owns_or_holds(sides: tuple[Side, Side]) -> None:
    pg, _ = sides
    n = pg.db.rsplit("_", 1)[1]
    _same(sides, [
        ("su", f"create role pv_tmp{n}"), ("su", "create table dr_t (x int)"),
        ("su", f"alter table dr_t owner to pv_tmp{n}"), ("su", f"drop role pv_tmp{n}"),
        ("su", "alter table dr_t owner to postgres"), ("su", f"grant select on dr_t to pv_tmp{n}"),
        ("su", f"drop role pv_tmp{n}"), ("su", f"revoke select on dr_t from pv_tmp{n}"),
        ("su", "select relacl::text from pg_class where relname = 'dr_t'"),
        ("su", f"drop role pv_tmp{n}"),
    ])


def test_grant_forms(sides: tuple[Side, Side]) -> None:
    """ON TABLE a, b; ON ALL TABLES / SEQUENCES IN SCHEMA public; REVOKE ALL; PUBLIC; CURRENT_USER."""
    _same(sides, SETUP + [
        ("su", "create sequence gf_seq"),
        ("su", "grant select on table payroll, pub to pv_app"),
        ("pv_app", "select count(*) from payroll"), ("pv_app", "select count(*) from pub"),
        ("su", "revoke all on payroll, pub from pv_app"), ("pv_app", "select count(*) from pub"),
        ("su", "grant select, insert on all tables in schema public to pv_app2"),
        ("pv_app2", "select count(*) from grp_t"), ("pv_app2", "insert into shared values (3)"),
        ("pv_app2", "select * from pay_view order by 1"), ("pv_app2", "delete from shared"),
        ("pv_app2", "select nextval('gf_seq')"),
        ("su", "grant usage on all sequences in schema public to pv_app2"), ("pv_app2", "select nextval('gf_seq')"),
        ("su", "revoke all on all tables in schema public from pv_app2"), ("pv_app2", "select count(*) from grp_t"),
        ("su", "grant all privileges on shared to public"), ("pv_app2", "delete from shared"),
        ("su", "grant select on pub to current_user"), ("su", "grant usage on pub to pv_app"),
        ("su", "grant execute on pub to pv_app"), ("su", "grant delete on sequence gf_seq to pv_app"),
        ("su", "select relname, relacl::text from pg_class where relname in ('payroll', 'pub', 'shared', 'gf_seq', "
               "'grp_t', 'pay_view') order by 1"),
        ("pv_app2", "select has_table_privilege('public.shared', 'delete'), "
                    "has_table_privilege('grp_t', 'select,insert'), has_table_privilege('pay_view', 'trigger')"),
    ])


def test_database_owner_creates_in_public(sides: tuple[Side, Side]) -> None:
    """PostgreSQL 15: schema public belongs to pg_database_owner, so CREATE DATABASE … OWNER r
    lets r create tables there (nobody else who is not a superuser)."""
    name = sides[0].db + "_own"
    outcomes = []
    for side in sides:
        side.conn("su").execute(f"create database {name} owner pv_app")
        got: list[Any] = []
        with psycopg.connect(_dsn(side.base, "pv_app", name), autocommit=True) as conn:
            for sql in ("show is_superuser", "create table dbo_t (x int)", "insert into dbo_t values (1)",
                        "select * from dbo_t", "select tableowner from pg_tables where tablename = 'dbo_t'",
                        "grant select on dbo_t to public", "select relacl::text from pg_class where relname = 'dbo_t'"):
                try:
                    cur = conn.execute(sql.encode())
                    got.append(cur.fetchall() if cur.description else cur.statusmessage)
                except psycopg.Error as exc:
                    got.append((exc.sqlstate, exc.diag.message_primary))
        outcomes.append(got)
    assert outcomes[1] == outcomes[0]
    assert outcomes[1][1] == "CREATE TABLE"
