"""pgbench's initialization and TPC-B-like statements, as PostgreSQL 15 pgbench sends them."""

from __future__ import annotations

from compute import pgtypes as T
from compute.sql import translate
from compute.sql.api import Kind
from tests.sql.conftest import Db

PROBE = (
    "select o.n, p.partstrat, pg_catalog.count(i.inhparent) from pg_catalog.pg_class as c "
    "join pg_catalog.pg_namespace as n on (n.oid = c.relnamespace) "
    "cross join lateral (select pg_catalog.array_position(pg_catalog.current_schemas(true), n.nspname)) as o(n) "
    "left join pg_catalog.pg_partitioned_table as p on (p.partrelid = c.oid) "
    "left join pg_catalog.pg_inherits as i on (c.oid = i.inhparent) "
    "where c.relname = 'pgbench_accounts' and o.n is not null group by 1, 2 order by 1 asc limit 1"
)

INIT = [
    "drop table if exists pgbench_accounts, pgbench_branches, pgbench_history, pgbench_tellers",
    "create table pgbench_history(tid int,bid int,aid    int,delta int,mtime timestamp,filler char(22))",
    "create table pgbench_tellers(tid int not null,bid int,tbalance int,filler char(84)) with (fillfactor=100)",
    "create table pgbench_accounts(aid    int not null,bid int,abalance int,filler char(84)) with (fillfactor=100)",
    "create table pgbench_branches(bid int not null,bbalance int,filler char(88)) with (fillfactor=100)",
]


def init(db: Db, scale_rows: int = 100) -> None:
    for sql in INIT:
        db.run(sql)
    db.run("begin")
    db.run("truncate table pgbench_accounts, pgbench_branches, pgbench_history, pgbench_tellers")
    db.run("insert into pgbench_branches(bid,bbalance) values(1,0)")
    for tid in range(1, 11):
        db.run(f"insert into pgbench_tellers(tid,bid,tbalance) values ({tid},1,0)")
    copy = db.run("copy pgbench_accounts from stdin with (freeze on)").translation
    assert copy.kind == Kind.COPY_FROM and copy.copy is not None
    assert copy.copy.delimiter == "\t" and copy.copy.null == "\\N" and copy.copy.format == "text"
    assert [c.type_oid for c in copy.copy.columns] == [T.INT4, T.INT4, T.INT4, T.BPCHAR]
    assert copy.copy.insert_sql is not None
    for k in range(scale_rows):
        fields = [f"{k + 1}", "1", "0", ""]
        values = [T.decode_text(c.type_oid, f.encode()) for c, f in zip(copy.copy.columns, fields, strict=True)]
        db.conn.execute(copy.copy.insert_sql, values)
    db.run("commit")
    for table in ("pgbench_branches", "pgbench_tellers", "pgbench_accounts", "pgbench_history"):
        assert db.run(f"vacuum analyze {table}").translation.kind == Kind.NOOP
    db.run("alter table pgbench_branches add primary key (bid)")
    db.run("alter table pgbench_tellers add primary key (tid)")
    db.run("alter table pgbench_accounts add primary key (aid)")


def test_initialization_and_probe(db: Db) -> None:
    init(db)
    count = db.run("select count(*) from pgbench_branches")
    assert count.types == [T.INT8] and count.text() == [("1",)]
    probe = db.run(PROBE)
    assert probe.names == ["n", "partstrat", "count"]
    assert probe.types == [T.INT4, T.CHAR, T.INT8]
    assert probe.text() == [("2", None, "0")]
    filler = db.rows("select filler from pgbench_accounts where aid = 1")
    assert filler == [(" " * 84,)]


def test_probe_without_table_returns_no_rows(db: Db) -> None:
    assert db.run(PROBE).rows == []


def test_count_on_missing_table_is_42p01(db: Db) -> None:
    err = db.error("select count(*) from pgbench_branches")
    assert err.sqlstate == "42P01"
    assert err.message == 'relation "pgbench_branches" does not exist'


def test_tpcb_transaction_extended_protocol(db: Db) -> None:
    init(db)
    catalog = db.catalog
    update, = translate("UPDATE pgbench_accounts SET abalance = abalance + $1 WHERE aid = $2", catalog)
    assert update.kind == Kind.COMMAND and update.tag == "UPDATE" and update.is_write
    assert update.param_oids == (T.INT4, T.INT4)
    select, = translate("SELECT abalance FROM pgbench_accounts WHERE aid = $1", catalog)
    assert select.param_oids == (T.INT4,) and not select.is_write
    insert, = translate(
        "INSERT INTO pgbench_history (tid, bid, aid, delta, mtime) VALUES ($1, $2, $3, $4, CURRENT_TIMESTAMP)", catalog
    )
    assert insert.param_oids == (T.INT4,) * 4
    db.run("BEGIN")
    assert db.execute(update, (-7, 3)).count == 1
    assert db.execute(select, (3,)).rows == [(-7,)]
    db.run("UPDATE pgbench_tellers SET tbalance = tbalance + $1 WHERE tid = $2", (-7, 2))
    db.run("UPDATE pgbench_branches SET bbalance = bbalance + $1 WHERE bid = $2", (-7, 1))
    assert db.execute(insert, (2, 1, 3, -7)).count == 1
    db.run("END")
    history = db.run("select tid, bid, aid, delta, mtime, filler from pgbench_history")
    assert history.types == [T.INT4, T.INT4, T.INT4, T.INT4, T.TIMESTAMP, T.BPCHAR]
    tid, bid, aid, delta, mtime, filler = history.text()[0]
    assert (tid, bid, aid, delta, filler) == ("2", "1", "3", "-7", None)
    assert mtime is not None and len(mtime) >= 19 and mtime[4] == "-" and mtime[10] == " "


def test_tpcb_simple_protocol_literals(db: Db) -> None:
    init(db)
    db.run("UPDATE pgbench_accounts SET abalance = abalance + -4589 WHERE aid = 42;")
    assert db.rows("SELECT abalance FROM pgbench_accounts WHERE aid = 42;") == [("-4589",)]
    db.run("INSERT INTO pgbench_history (tid, bid, aid, delta, mtime) VALUES (3, 1, 42, -4589, CURRENT_TIMESTAMP);")
    db.run("truncate pgbench_history")
    assert db.rows("select count(*) from pgbench_history") == [("0",)]


def test_primary_key_rejects_duplicates_and_nulls(db: Db) -> None:
    init(db, scale_rows=3)
    err = db.error("insert into pgbench_accounts(aid, bid, abalance) values (1, 1, 0)")
    assert err.sqlstate == "23505"
    assert err.message == 'duplicate key value violates unique constraint "pgbench_accounts_pkey"'
    err = db.error("insert into pgbench_branches(bid, bbalance) values (null, 0)")
    assert err.sqlstate == "23502"


def test_add_primary_key_over_duplicates_fails(db: Db) -> None:
    db.run("create table t (a int)")
    db.run("insert into t values (1), (1)")
    err = db.error("alter table t add primary key (a)")
    assert err.sqlstate == "23505"
    db.run("create table u (a int)")
    db.run("insert into u values (null)")
    assert db.error("alter table u add primary key (a)").sqlstate == "23502"


def test_server_side_generation(db: Db) -> None:
    for sql in INIT:
        db.run(sql)
    db.run(
        "insert into pgbench_accounts(aid,bid,abalance,filler) select aid, (aid - 1) / 100000 + 1, 0, '' "
        "from generate_series(1, 1000) as aid"
    )
    assert db.rows("select count(*), min(aid), max(aid), max(bid) from pgbench_accounts") == [
        ("1000", "1", "1000", "1")
    ]


def test_relkind_probe_with_regclass_parameter(db: Db) -> None:
    init(db, scale_rows=1)
    result = db.run("SELECT relkind FROM pg_catalog.pg_class WHERE oid=$1::pg_catalog.regclass", ("pgbench_accounts",))
    assert result.translation.param_oids == (T.REGCLASS,)
    assert result.text() == [("r",)]
