"""Held read transactions on pooled readers (compute/engine.py ``hold_for_read``, session 17).

A reader keeps the SQLite read transaction of its last autocommit read open while idle and
runs the next autocommit read in it only if a new read transaction would pin the very same
LSN. These tests try to catch it serving a stale snapshot (a commit by another session, by
the same session, DDL, explicit transactions and cursors on the same reader), keeping its pin
past the idle limit (the local store's checkpoint must get past it), or leaking into anything
but a plain autocommit read. The pool has one reader, so every read uses the same one."""

from __future__ import annotations

import random
import time
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest

from compute import engine as engine_mod
from compute.engine import Database
from compute.localstore import LocalStore
from compute.session import Session
from compute.vfs import StrataVFS, open_connection
from tests.compute.inprocess import InProcessNode, small_standalone


@pytest.fixture
def node(tmp_path: Path) -> Iterator[InProcessNode]:
    with small_standalone(tmp_path / "data", max_readers=1) as n:
        yield n


@pytest.fixture(params=["fast", "general"])
def lane(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    """fast: reads take the inline read lane (``_fast_read``); general: every read goes
    through ``_on_reader`` (the lanes' fast reads are switched off)."""
    if request.param == "general":
        monkeypatch.setattr(Session, "try_fast_read", lambda self, tr, params: None)
        monkeypatch.setattr(Session, "fast_shape_read", lambda self, tr, step, params: None)
    return str(request.param)


def _db(node: InProcessNode) -> Database:
    return node.engine.databases["postgres"]


def _held(node: InProcessNode) -> bool:
    """The one pooled reader is idle and holds a read transaction (asked on the loop)."""
    async def ask() -> bool:
        db = _db(node)
        return len(db.idle_readers) == 1 and db.idle_readers[0].held and \
            db.idle_readers[0].conn.in_transaction
    return node.call(ask())


def _connect(node: InProcessNode, simple: bool) -> psycopg.Connection:
    if simple:  # literals in the text: the simple protocol (and its shapes)
        return psycopg.connect(node.dsn(), autocommit=True, cursor_factory=psycopg.ClientCursor)
    return psycopg.connect(node.dsn(), autocommit=True, prepare_threshold=0)


def _get(c: psycopg.Connection, k: int) -> object:
    row = c.execute("select v from t where k = %s", (k,)).fetchone()
    return None if row is None else row[0]


@pytest.mark.parametrize("simple", [False, True], ids=["prepared", "simple"])
def test_a_commit_between_two_reads_on_the_held_reader_is_seen(
        node: InProcessNode, lane: str, simple: bool) -> None:
    with _connect(node, simple) as a, _connect(node, simple) as b:
        a.execute("create table t (k int primary key, v int)")
        a.execute("insert into t values (1, 10), (2, 20)")
        for i in range(3):
            assert _get(a, 1) == 10 + i
            assert not _held(node)  # the first read after a commit does not hold
            assert _get(a, 1) == 10 + i  # the second at that LSN does
            assert _held(node), "the read left its transaction open: the test exercises the hold"
            assert _get(a, 1) == 10 + i  # (in the held transaction at an unchanged LSN)
            b.execute("update t set v = v + 1 where k = 1")  # another session commits
        assert _get(a, 1) == 13
        assert _get(a, 2) == 20 and _held(node)
        a.execute("update t set v = 100 where k = 2")  # the same session commits, then reads
        assert _get(a, 2) == 100
        assert _get(a, 1) == 13 and _held(node)
        b.execute("delete from t where k = 2")
        assert _get(a, 2) is None
        b.execute("insert into t values (3, 30)")
        assert a.execute("select count(*), sum(v) from t").fetchone() == (2, 43)


def test_reads_see_ddl_of_another_session(node: InProcessNode, lane: str) -> None:
    # (unnamed statements: a named one would get 0A000 once its result type changes)
    with psycopg.connect(node.dsn(), autocommit=True, prepare_threshold=None) as a, \
            _connect(node, True) as b:
        a.execute("create table t (k int primary key, v int)")
        a.execute("insert into t values (1, 10)")
        for _ in range(2):
            assert a.execute("select * from t").fetchall() == [(1, 10)]
        assert _held(node)
        b.execute("alter table t add column w text default 'x'")
        assert a.execute("select * from t").fetchall() == [(1, 10, "x")]
        assert a.execute("select * from t").fetchall() == [(1, 10, "x")] and _held(node)
        b.execute("create table u (a int)")
        b.execute("insert into u values (7)")
        assert a.execute("select a from u").fetchall() == [(7,)]
        assert a.execute("select a from u").fetchall() == [(7,)] and _held(node)
        b.execute("drop table t")
        with pytest.raises(psycopg.errors.UndefinedTable):
            a.execute("select * from t")
        assert a.execute("select a from u").fetchall() == [(7,)]
        b.execute("create table t (k text)")
        b.execute("insert into t values ('one')")
        assert a.execute("select * from t").fetchall() == [("one",)]


def test_transactions_and_cursors_never_run_in_a_held_transaction(
        node: InProcessNode, lane: str) -> None:
    with _connect(node, False) as a, _connect(node, False) as b:
        a.execute("create table t (k int primary key, v int)")
        a.execute("insert into t values (1, 10)")
        assert _get(a, 1) == 10 and _get(a, 1) == 10 and _held(node)
        a.execute("begin isolation level repeatable read")  # takes the same (only) reader
        assert _get(a, 1) == 10
        b.execute("update t set v = 11 where k = 1")
        assert _get(a, 1) == 10  # its own snapshot, not a held one moved on
        a.execute("commit")
        assert _get(a, 1) == 11 and _get(a, 1) == 11
        assert _held(node)
        b.execute("update t set v = 12 where k = 1")
        assert _get(a, 1) == 12 and _get(a, 1) == 12 and _held(node)
        a.execute("begin")
        a.execute("declare c cursor for select v from t")  # BEGIN on the reader: must not fail
        assert a.execute("fetch all from c").fetchall() == [(12,)]
        a.execute("commit")
        b.execute("update t set v = 13 where k = 1")
        assert _get(a, 1) == 13 and _get(a, 1) == 13 and _held(node)
        a.execute("begin read only")  # READ COMMITTED in a block: each statement at the newest
        assert _get(a, 1) == 13
        b.execute("update t set v = 14 where k = 1")
        assert _get(a, 1) == 14
        a.execute("commit")
        assert _get(a, 1) == 14


def test_an_idle_hold_is_released_and_the_checkpoint_gets_past_it(
        node: InProcessNode, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(engine_mod, "READER_HOLD_MS", 1000)  # long enough to look at it held
    store = node.factory.store
    with _connect(node, False) as a:
        a.execute("create table t (k int primary key, v int)")
        a.execute("insert into t values (1, 0)")
        assert _get(a, 1) == 0 and _get(a, 1) == 0
        held_at = store.durable_lsn
        for i in range(1, 20):  # commits the held reader does not see (the next read would)
            a.execute("update t set v = %s where k = 1", (i,))
        assert _held(node)
        assert store.stats()["pins"] == 1
        assert store.checkpoint() <= held_at < store.durable_lsn  # held back by the pin
        deadline = time.monotonic() + 10
        while _held(node) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert not _held(node), "an idle reader kept its read transaction past the limit"
        assert store.stats()["pins"] == 0
        assert store.checkpoint() == store.durable_lsn
        assert _get(a, 1) == 19


def test_a_reader_in_use_never_loses_its_hold_to_the_timer(node: InProcessNode) -> None:
    """Rounds of the hold timer with reads in between: no error, no stale read, and the
    timer stops once nothing is held."""
    with _connect(node, False) as a, _connect(node, False) as b:
        a.execute("create table t (k int primary key, v int)")
        a.execute("insert into t values (1, 0)")
        end = time.monotonic() + 4 * engine_mod.READER_HOLD_MS / 1000.0
        n = 0
        while time.monotonic() < end or n < 20:
            assert _get(a, 1) == n
            n += 1
            b.execute("update t set v = %s where k = 1", (n,))
            time.sleep(0.003)
        assert _get(a, 1) == n
        deadline = time.monotonic() + 5
        while _held(node) and time.monotonic() < deadline:
            time.sleep(0.02)
        assert not _held(node)
        assert node.call(_timer_of(node)) is None


async def _timer_of(node: InProcessNode) -> object:
    return _db(node).hold_timer


@pytest.mark.parametrize("seed", [1, 2])
def test_random_reads_and_commits_agree_with_a_model(node: InProcessNode, seed: int) -> None:
    """Two readers' sessions (prepared and simple) and a writer in a random order: every read
    answers what the model of committed rows says."""
    rnd = random.Random(seed)
    model: dict[int, int] = {}
    seen: list[bool] = []
    with _connect(node, False) as w, _connect(node, False) as p, _connect(node, True) as s:
        w.execute("create table t (k int primary key, v int)")
        db = _db(node)
        check = db.hold_check
        assert check is not None

        def counting(conn: object) -> bool:
            current = check(conn)
            seen.append(current)
            return current

        db.hold_check = counting
        for _ in range(400):
            op = rnd.random()
            k = rnd.randrange(8)
            if op < 0.3:
                v = rnd.randrange(1000)
                if k in model:
                    w.execute("update t set v = %s where k = %s", (v, k))
                else:
                    w.execute("insert into t values (%s, %s)", (k, v))
                model[k] = v
            elif op < 0.35 and k in model:
                w.execute("delete from t where k = %s", (k,))
                del model[k]
            elif op < 0.4:  # the reading session commits, then reads
                c = p if rnd.random() < 0.5 else s
                v = rnd.randrange(1000)
                c.execute("insert into t values (%s, %s) on conflict (k) do update set v = "
                          "excluded.v", (k, v))
                model[k] = v
            else:
                c = p if rnd.random() < 0.5 else s
                if rnd.random() < 0.8:
                    assert _get(c, k) == model.get(k)
                else:
                    rows = c.execute("select k, v from t order by k").fetchall()
                    assert rows == sorted(model.items())
            if rnd.random() < 0.02:
                time.sleep(2.5 * engine_mod.READER_HOLD_MS / 1000.0)  # let the timer release
    assert seen.count(True) > 50 and seen.count(False) > 20  # reused holds, and stale ones


def _commit(vfs: StrataVFS, w: object, sql: str) -> int:
    """Run ``sql`` on the writer ``w`` and wait until its commit is durable: its LSN."""
    w.execute(sql)  # type: ignore[attr-defined]
    ticket = vfs.take_commit_ticket(w)  # type: ignore[arg-type]
    assert ticket is not None
    ticket.durable.result(10)
    return ticket.lsn


def test_vfs_says_a_read_transaction_is_current_only_at_the_lsn_a_new_one_would_pin(
        tmp_path: Path) -> None:
    with LocalStore(tmp_path / "data") as store:
        vfs = StrataVFS(store, store)
        w = open_connection(vfs, 1)
        _commit(vfs, w, "create table t (v int); insert into t values (1)")
        r = open_connection(vfs, 1, "reader")
        assert not vfs.snapshot_is_current(r)  # no transaction
        r.execute("begin")
        assert not vfs.snapshot_is_current(r)  # deferred: nothing pinned yet
        assert r.execute("select v from t").fetchall() == [(1,)]
        assert vfs.snapshot_is_current(r)
        lsn = _commit(vfs, w, "update t set v = 2")
        assert not vfs.snapshot_is_current(r)  # a commit became visible since
        assert r.execute("select v from t").fetchall() == [(1,)]  # (its snapshot, unchanged)
        r.execute("rollback")
        r.execute("begin")
        assert r.execute("select v from t").fetchall() == [(2,)]
        assert vfs.snapshot_is_current(r)
        vfs.set_snapshot_lsn(r, lsn - 1)  # an override: compared with it, not durable_lsn
        assert not vfs.snapshot_is_current(r)
        vfs.set_snapshot_lsn(r, store.durable_lsn)
        assert vfs.snapshot_is_current(r)
        w.execute("begin")  # a writer is never a held reader
        w.execute("select v from t").fetchall()
        assert not vfs.snapshot_is_current(w)
        w.execute("rollback")
        r.close()
        w.close()
        vfs.close()


def test_a_replica_reader_is_current_only_at_its_replay_lsn(tmp_path: Path) -> None:
    with LocalStore(tmp_path / "data") as store:
        primary = StrataVFS(store, store)
        w = open_connection(primary, 1)
        _commit(primary, w, "create table t (v int); insert into t values (1)")
        replay = [store.durable_lsn]
        replica = StrataVFS(store, None, reader_lsn=lambda: replay[0])
        r = open_connection(replica, 1, "reader")
        r.execute("begin")
        assert r.execute("select v from t").fetchall() == [(1,)]
        _commit(primary, w, "update t set v = 2")
        assert replica.snapshot_is_current(r)  # the replica has not replayed it: still current
        replay[0] = store.durable_lsn
        assert not replica.snapshot_is_current(r)
        r.execute("rollback")
        r.close()
        w.close()
        replica.close()
        primary.close()
