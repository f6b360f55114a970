"""The page VFS on a real LocalStore: CRUD, commit point, spill, rollback, snapshots."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterable, Iterator
from pathlib import Path

import apsw
import pytest

from compute.localstore import LocalStore
from compute.vfs import StrataVFS, iter_records, open_connection
from strata.storage import CommitTicket
from strata.wal import PAGE_SIZE, PageImage, WalRecord, split_transaction


class RecordingStore(LocalStore):
    """A LocalStore that remembers how many records each transaction had."""

    def __init__(self, *args: object, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]
        self.txn_records: list[int] = []
        self.max_record = 0

    def submit_stream(self, records: Iterable[WalRecord]) -> CommitTicket:
        counted = 0

        def count() -> Iterator[WalRecord]:
            nonlocal counted
            for r in records:
                counted += 1
                self.max_record = max(self.max_record, len(r.encode()))
                yield r

        ticket = super().submit_stream(count())
        self.txn_records.append(counted)
        return ticket


class Env:
    def __init__(self, path: Path, **vfs_kwargs: object) -> None:
        self.path = path
        self.vfs_kwargs = vfs_kwargs
        self.conns: list[apsw.Connection] = []
        self.store = RecordingStore(path)
        self.vfs = StrataVFS(self.store, self.store, **vfs_kwargs)  # type: ignore[arg-type]

    def connect(self, db_id: int = 1, role: str = "writer", **kw: int) -> apsw.Connection:
        conn = open_connection(self.vfs, db_id, role, **kw)
        self.conns.append(conn)
        return conn

    def commit_wait(self, conn: apsw.Connection) -> int:
        ticket = self.vfs.take_commit_ticket(conn)
        assert ticket is not None
        return ticket.durable.result(timeout=10)

    def close(self) -> None:
        for c in self.conns:
            c.close()
        self.conns = []
        self.vfs.unregister()
        self.store.close()

    def reopen(self) -> None:
        self.close()
        self.store = RecordingStore(self.path)
        self.vfs = StrataVFS(self.store, self.store, **self.vfs_kwargs)  # type: ignore[arg-type]


@pytest.fixture
def env(tmp_path: Path) -> Iterator[Env]:
    e = Env(tmp_path / "data")
    try:
        yield e
    finally:
        e.close()


def rows(conn: apsw.Connection, sql: str, *params: object) -> list[tuple[object, ...]]:
    return [tuple(r) for r in conn.execute(sql, params).fetchall()]


def test_crud_and_reopen(env: Env) -> None:
    w = env.connect()
    w.execute("CREATE TABLE t(id INTEGER PRIMARY KEY, v TEXT)")
    for i in range(200):
        w.execute("INSERT INTO t VALUES(?, ?)", (i, f"v{i}"))
    w.execute("UPDATE t SET v = 'changed' WHERE id % 10 = 0")
    w.execute("DELETE FROM t WHERE id >= 150")
    env.commit_wait(w)
    assert rows(w, "SELECT count(*) FROM t") == [(150,)]
    assert rows(w, "SELECT v FROM t WHERE id = 20") == [("changed",)]
    r = env.connect(role="reader")
    assert rows(r, "SELECT count(*), sum(id) FROM t") == [(150, sum(range(150)))]
    assert rows(w, "PRAGMA page_size") == [(PAGE_SIZE,)]
    assert rows(w, "PRAGMA journal_mode") == [("memory",)]
    env.reopen()
    r = env.connect(role="reader")
    assert rows(r, "SELECT count(*), sum(id) FROM t") == [(150, sum(range(150)))]
    assert rows(r, "SELECT v FROM t WHERE id = 21") == [("v21",)]
    assert rows(r, "PRAGMA integrity_check") == [("ok",)]
    w = env.connect()
    w.execute("INSERT INTO t VALUES(1000, 'after reopen')")
    env.commit_wait(w)
    assert rows(r, "SELECT v FROM t WHERE id = 1000") == [("after reopen",)]


def test_commit_point_is_xsync_and_rollback_sends_nothing(env: Env) -> None:
    w = env.connect()
    w.execute("CREATE TABLE t(id INTEGER PRIMARY KEY, v)")
    first = env.commit_wait(w)
    assert env.vfs.take_commit_ticket(w) is None, "a ticket is handed out once"
    w.execute("BEGIN")
    w.execute("INSERT INTO t VALUES(1, 'a')")
    w.execute("INSERT INTO t VALUES(2, 'b')")
    assert env.store.written_lsn == first, "nothing reaches the log before COMMIT"
    w.execute("COMMIT")
    second = env.commit_wait(w)
    assert second > first and env.store.written_lsn == second
    w.execute("BEGIN")
    w.execute("INSERT INTO t VALUES(3, 'c')")
    w.execute("ROLLBACK")
    assert env.store.written_lsn == second and env.vfs.take_commit_ticket(w) is None
    # A read-only statement on the writer commits nothing either.
    assert rows(w, "SELECT count(*) FROM t") == [(2,)]
    assert env.vfs.take_commit_ticket(w) is None
    # A failed statement in autocommit mode sends nothing.
    with pytest.raises(apsw.ConstraintError):
        w.execute("INSERT INTO t VALUES(1, 'dup')")
    assert env.store.written_lsn == second
    assert env.store.txn_records[-1] == 1


def test_big_transaction_spills_and_is_chunked(tmp_path: Path) -> None:
    env = Env(tmp_path / "data", spill_bytes=1024 * 1024)
    try:
        w = env.connect(cache_kib=256)  # SQLite spills its dirty pages to the VFS early
        w.execute("CREATE TABLE t(id INTEGER PRIMARY KEY, v BLOB)")
        env.commit_wait(w)
        f = env.vfs.file_of(w)
        w.execute("BEGIN")
        blob = b"x" * 1000
        w.executemany("INSERT INTO t VALUES(?, ?)", ((i, blob) for i in range(8000)))
        ws = f._ws
        assert ws is not None and ws.spilled, "an 8 MiB write set must spill past 1 MiB"
        assert rows(w, "SELECT count(*) FROM t") == [(8000,)]
        w.execute("COMMIT")
        lsn = env.commit_wait(w)
        assert f._ws is None
        n_records = env.store.txn_records[-1]
        assert n_records >= 8000 * 1000 // (256 * 1024), "the transaction is chunked"
        assert env.store.max_record <= 256 * 1024
        r = env.connect(role="reader")
        assert rows(r, "SELECT count(*), sum(length(v)) FROM t") == [(8000, 8000 * 1000)]
        assert env.store.db_size(1, lsn) * PAGE_SIZE > 8_000_000
        env.reopen()
        r = env.connect(role="reader")
        assert rows(r, "SELECT count(*), max(id) FROM t") == [(8000, 7999)]
        assert rows(r, "PRAGMA integrity_check") == [("ok",)]
    finally:
        env.close()


def _fill(conn: apsw.Connection, start: int, n: int) -> None:
    conn.executemany(
        "INSERT INTO t VALUES(?, ?)", ((i, b"%d" % i * 50) for i in range(start, start + n))
    )


def test_rollback_after_cache_spill(tmp_path: Path) -> None:
    env = Env(tmp_path / "data", spill_bytes=512 * 1024)
    try:
        w = env.connect(cache_kib=128)
        w.execute("CREATE TABLE t(id INTEGER PRIMARY KEY, v BLOB)")
        _fill(w, 0, 2000)
        before = env.commit_wait(w)
        digest = rows(w, "SELECT count(*), sum(id), sum(length(v)) FROM t")
        w.execute("BEGIN")
        w.execute("UPDATE t SET v = zeroblob(300) WHERE id % 2 = 0")  # modifies existing pages
        _fill(w, 10_000, 5000)
        assert env.vfs.file_of(w)._ws is not None, "SQLite spilled dirty pages to the VFS"
        w.execute("ROLLBACK")
        assert env.store.written_lsn == before
        assert rows(w, "SELECT count(*), sum(id), sum(length(v)) FROM t") == digest
        assert rows(w, "PRAGMA integrity_check") == [("ok",)]
        _fill(w, 20_000, 10)  # the writer keeps working after the rollback
        env.commit_wait(w)
        env.reopen()
        r = env.connect(role="reader")
        assert rows(r, "SELECT count(*) FROM t") == [(2010,)]
        assert rows(r, "PRAGMA integrity_check") == [("ok",)]
    finally:
        env.close()


def test_savepoint_and_statement_rollback_after_cache_spill(tmp_path: Path) -> None:
    env = Env(tmp_path / "data", spill_bytes=512 * 1024)
    try:
        w = env.connect(cache_kib=128)
        w.execute("CREATE TABLE t(id INTEGER PRIMARY KEY, v BLOB)")
        _fill(w, 0, 1000)
        env.commit_wait(w)
        w.execute("BEGIN")
        _fill(w, 1000, 100)
        w.execute("SAVEPOINT s1")
        w.execute("UPDATE t SET v = zeroblob(500) WHERE id < 1000")
        _fill(w, 5000, 5000)
        w.execute("ROLLBACK TO s1")
        _fill(w, 20_000, 50)
        # A statement failing halfway (duplicate key) rolls back only itself.
        with pytest.raises(apsw.ConstraintError):
            w.execute(
                "INSERT INTO t SELECT id + 30000, v FROM t WHERE id < 1000 UNION ALL SELECT 1, x'00'"
            )
        w.execute("RELEASE s1")
        w.execute("COMMIT")
        env.commit_wait(w)
        expect = [(1150, sum(range(1100)) + sum(range(20_000, 20_050)))]
        assert rows(w, "SELECT count(*), sum(id) FROM t") == expect
        assert rows(w, "SELECT count(*) FROM t WHERE length(v) = 500") == [(0,)]
        env.reopen()
        r = env.connect(role="reader")
        assert rows(r, "SELECT count(*), sum(id) FROM t") == expect
        assert rows(r, "PRAGMA integrity_check") == [("ok",)]
    finally:
        env.close()


def test_vacuum_truncates_and_regrows(env: Env) -> None:
    w = env.connect()
    w.execute("CREATE TABLE t(id INTEGER PRIMARY KEY, v BLOB)")
    _fill(w, 0, 3000)
    big = env.commit_wait(w)
    w.execute("DELETE FROM t WHERE id >= 100")
    w.execute("VACUUM")
    small = env.commit_wait(w)
    assert env.store.db_size(1, small) < env.store.db_size(1, big)
    _fill(w, 5000, 3000)
    env.commit_wait(w)
    assert rows(w, "PRAGMA integrity_check") == [("ok",)]
    env.reopen()
    r = env.connect(role="reader")
    assert rows(r, "SELECT count(*) FROM t") == [(3100,)]
    assert rows(r, "PRAGMA integrity_check") == [("ok",)]


def test_reader_sees_new_commits_and_keeps_its_snapshot(env: Env) -> None:
    w = env.connect()
    w.execute("CREATE TABLE t(id INTEGER PRIMARY KEY, v INTEGER)")
    w.execute("INSERT INTO t VALUES(1, 0)")
    env.commit_wait(w)
    r = env.connect(role="reader")
    assert rows(r, "SELECT v FROM t") == [(0,)]  # warms the reader's page cache
    r.execute("BEGIN")
    assert rows(r, "SELECT v FROM t") == [(0,)]
    snap = env.vfs.snapshot_lsn(r)
    assert snap is not None
    for i in range(1, 20):
        w.execute("UPDATE t SET v = ?", (i,))
        env.commit_wait(w)
        assert rows(r, "SELECT v FROM t") == [(0,)], "an open read transaction keeps its snapshot"
    assert env.vfs.snapshot_lsn(r) == snap
    r.execute("COMMIT")
    assert env.vfs.snapshot_lsn(r) is None
    # New transaction: SQLite sees the change counter moved and drops its stale cache.
    assert rows(r, "SELECT v FROM t") == [(19,)]
    # A session can read at an older LSN (e.g. a replica's replay LSN) and go back.
    env.vfs.set_snapshot_lsn(r, snap)
    assert rows(r, "SELECT v FROM t") == [(0,)]
    env.vfs.set_snapshot_lsn(r, None)
    assert rows(r, "SELECT v FROM t") == [(19,)]


def test_reader_does_not_see_commits_that_are_not_durable(tmp_path: Path) -> None:
    store = LocalStore(tmp_path / "data")
    gate = threading.Event()
    durable = [0]
    vfs = StrataVFS(
        store, store, reader_lsn=lambda: durable[0] if not gate.is_set() else store.durable_lsn
    )
    try:
        w = open_connection(vfs, 1, "writer")
        w.execute("CREATE TABLE t(x)")
        t = vfs.take_commit_ticket(w)
        assert t is not None
        durable[0] = t.durable.result(10)
        w.execute("INSERT INTO t VALUES(1)")
        r = open_connection(vfs, 1, "reader")
        assert rows(r, "SELECT count(*) FROM t") == [(0,)]
        assert rows(w, "SELECT count(*) FROM t") == [(1,)], "the writer sees written_lsn"
        gate.set()
        store.wait_durable(store.written_lsn, 10)
        assert rows(r, "SELECT count(*) FROM t") == [(1,)]
        r.close()
        w.close()
    finally:
        vfs.unregister()
        store.close()


def test_one_writer_per_database_and_readers_never_write(env: Env) -> None:
    w = env.connect(1)
    w.execute("CREATE TABLE t(x)")
    env.commit_wait(w)
    w2 = env.connect(1)
    w.execute("BEGIN IMMEDIATE")
    with pytest.raises(apsw.BusyError):
        w2.execute("BEGIN IMMEDIATE")
    w.execute("COMMIT")
    w2.execute("INSERT INTO t VALUES(2)")
    env.commit_wait(w2)
    r = env.connect(1, "reader")
    with pytest.raises(apsw.ReadOnlyError):
        r.execute("INSERT INTO t VALUES(3)")
    # A second database is independent.
    other = env.connect(2)
    other.execute("CREATE TABLE u(y)")
    other.execute("INSERT INTO u VALUES('db2')")
    env.commit_wait(other)
    assert rows(r, "SELECT name FROM sqlite_master") == [("t",)]
    assert rows(env.connect(2, "reader"), "SELECT y FROM u") == [("db2",)]
    assert env.store.databases() == [1, 2]


def test_snapshot_isolation_under_concurrent_writer(env: Env) -> None:
    """Readers in threads: within a transaction nothing moves; across, the invariant holds."""
    w = env.connect()
    n_acct = 50
    w.execute("CREATE TABLE acct(id INTEGER PRIMARY KEY, bal INTEGER, pad BLOB)")
    w.executemany("INSERT INTO acct VALUES(?, 100, zeroblob(200))", ((i,) for i in range(n_acct)))
    w.execute("CREATE TABLE hist(seq INTEGER PRIMARY KEY, pad BLOB)")
    env.commit_wait(w)
    stop = threading.Event()
    errors: list[str] = []
    commits = [0]

    def writer() -> None:
        seq = 0
        try:
            while not stop.is_set() or commits[0] < 200:
                seq += 1
                a, b = seq % n_acct, (seq * 7 + 3) % n_acct
                w.execute("BEGIN")
                w.execute("UPDATE acct SET bal = bal - 1 WHERE id = ?", (a,))
                w.execute("UPDATE acct SET bal = bal + 1 WHERE id = ?", (b,))
                w.execute("INSERT INTO hist VALUES(?, zeroblob(300))", (seq,))
                w.execute("COMMIT")
                commits[0] += 1
                if seq % 16 == 0:
                    env.commit_wait(w)
                else:
                    env.vfs.take_commit_ticket(w)
        except Exception as exc:  # pragma: no cover - reported below
            errors.append(f"writer: {exc!r}")

    def reader() -> None:
        r = env.connect(role="reader")
        last = -1
        try:
            while not stop.is_set():
                r.execute("BEGIN")
                total1, n_hist1 = rows(r, "SELECT sum(bal), (SELECT count(*) FROM hist) FROM acct")[
                    0
                ]
                time.sleep(0.001)
                bals = rows(r, "SELECT bal FROM acct ORDER BY id")
                n_hist2 = rows(r, "SELECT count(*) FROM hist")[0][0]
                r.execute("COMMIT")
                if total1 != 100 * n_acct or sum(b[0] for b in bals) != total1:  # type: ignore[misc]
                    errors.append(f"invariant broken: {total1}")
                if n_hist2 != n_hist1:
                    errors.append(f"snapshot moved inside a transaction: {n_hist1} -> {n_hist2}")
                if n_hist1 < last:  # type: ignore[operator]
                    errors.append(f"went back in time: {last} -> {n_hist1}")
                last = n_hist1  # type: ignore[assignment]
        except Exception as exc:  # pragma: no cover
            errors.append(f"reader: {exc!r}")

    threads = [threading.Thread(target=writer)] + [
        threading.Thread(target=reader) for _ in range(3)
    ]
    for t in threads:
        t.start()
    time.sleep(2.0)
    stop.set()
    for t in threads:
        t.join(30)
    assert not errors, errors[:5]
    assert commits[0] >= 200
    r = env.connect(role="reader")
    env.store.wait_durable(env.store.written_lsn, 10)
    assert rows(r, "SELECT count(*) FROM hist") == [(commits[0],)]
    assert rows(r, "SELECT sum(bal) FROM acct") == [(100 * n_acct,)]
    assert env.store.stats()["pins"] == 0, "no snapshot stays pinned outside a transaction"


def test_iter_records_matches_split_transaction() -> None:
    pages = [PageImage(3, p, bytes([p % 251]) * PAGE_SIZE) for p in range(300)]
    sizes = ((3, 300),)
    for max_bytes in (4 * PAGE_SIZE + 100, 64 * 1024, 256 * 1024, 10 * 1024 * 1024):
        expect = split_transaction(77, pages, sizes, 123, max_bytes)
        got = list(iter_records(77, iter(pages), sizes, 123, max_bytes))
        assert got == expect
        assert all(len(r.encode()) <= max_bytes for r in got)


HUGE_CHILD = """
import resource, sys
from compute.localstore import LocalStore
from compute.vfs import StrataVFS, open_connection
store = LocalStore(sys.argv[1], cache_pages=1024)
vfs = StrataVFS(store, store, spill_bytes=8 << 20)
w = open_connection(vfs, 1, cache_kib=16 << 10)
w.execute("CREATE TABLE t(id INTEGER PRIMARY KEY, v BLOB)")
w.execute("BEGIN")
w.executemany("INSERT INTO t VALUES(?, randomblob(4000))", ((i,) for i in range(int(sys.argv[2]))))
w.execute("COMMIT")
lsn = vfs.take_commit_ticket(w).durable.result()
n = w.execute("SELECT count(*) FROM t").fetchall()[0][0]
print(n, lsn, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss // 1024, flush=True)
"""


@pytest.mark.slow
def test_huge_transaction_memory_stays_bounded(tmp_path: Path) -> None:
    """A 1 GiB single-transaction load: the write set spills, memory stays far below it."""
    import subprocess
    import sys

    rows_n = 250_000  # ~1 GiB of pages
    repo = Path(__file__).resolve().parents[2]
    out = subprocess.run(
        [sys.executable, "-c", HUGE_CHILD, str(tmp_path / "data"), str(rows_n)],
        capture_output=True,
        text=True,
        env={"PYTHONPATH": str(repo), "PATH": "/usr/bin:/bin"},
        timeout=900,
        check=True,
    ).stdout.split()
    n, lsn, max_rss_mib = (int(x) for x in out)
    assert n == rows_n and lsn > rows_n * 4000
    assert max_rss_mib < 400, f"peak RSS {max_rss_mib} MiB for a 1 GiB transaction"
    store = LocalStore(tmp_path / "data")
    vfs = StrataVFS(store, store)
    try:
        r = open_connection(vfs, 1, "reader")
        assert rows(r, "SELECT count(*) FROM t") == [(rows_n,)]
        assert rows(r, "PRAGMA quick_check") == [("ok",)]
        r.close()
    finally:
        vfs.unregister()
        store.close()
