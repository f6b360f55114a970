"""The writer's own recent commits (``StrataFile.recent``): the size and page 1 a new write
transaction reads at the writer's last commit come from there, exactly the store's, and any
other snapshot still asks the store."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import apsw
import pytest

from compute.localstore import LocalStore
from compute.vfs import RECENT_COMMITS, StrataVFS, open_connection
from strata.storage import Lsn


class CountingStore(LocalStore):
    """A LocalStore that counts lookups of page 1 and of database sizes."""

    def __init__(self, path: Path) -> None:
        super().__init__(path)
        self.page_one_reads = 0
        self.size_reads = 0

    def get_page(self, db_id: int, page_no: int, lsn: Lsn) -> bytes | None:
        if page_no == 0:
            self.page_one_reads += 1
        return super().get_page(db_id, page_no, lsn)

    def db_size(self, db_id: int, lsn: Lsn) -> int:
        self.size_reads += 1
        return super().db_size(db_id, lsn)


@pytest.fixture
def setup(tmp_path: Path) -> Iterator[tuple[CountingStore, StrataVFS]]:
    store = CountingStore(tmp_path / "data")
    vfs = StrataVFS(store, store)
    try:
        yield store, vfs
    finally:
        vfs.unregister()
        store.close()


def _commit(vfs: StrataVFS, conn: apsw.Connection) -> int:
    ticket = vfs.take_commit_ticket(conn)
    assert ticket is not None
    return int(ticket.durable.result(timeout=10))


def test_next_transaction_reads_size_and_page_one_from_the_last_commit(
        setup: tuple[CountingStore, StrataVFS]) -> None:
    store, vfs = setup
    conn = open_connection(vfs, 1, "writer")
    try:
        conn.execute("CREATE TABLE t(id INTEGER PRIMARY KEY, v TEXT)")
        _commit(vfs, conn)
        for i in range(5):
            conn.execute("INSERT INTO t VALUES(?, ?)", (i, "x" * 3000))  # grows the file
            lsn = _commit(vfs, conn)
            size, page_one = vfs.file_of(conn).recent[lsn]
            assert size == store.db_size(1, lsn)  # exactly the store's, at that LSN
            assert page_one == store.get_page(1, 0, lsn)
        pages_before, sizes_before = store.page_one_reads, store.size_reads
        conn.execute("BEGIN")
        conn.execute("UPDATE t SET v = 'y' WHERE id = 3")
        assert conn.execute("SELECT count(*), max(id) FROM t").fetchall() == [(5, 4)]
        conn.execute("COMMIT")
        assert store.page_one_reads == pages_before  # page 1: the last commit's image
        assert store.size_reads == sizes_before  # the size: the last commit's
        lsn = _commit(vfs, conn)
        version = conn.execute("PRAGMA schema_version").fetchall()[0][0]
        page_one = store.get_page(1, 0, lsn)
        assert page_one is not None and int.from_bytes(page_one[40:44], "big") == version
        assert len(vfs.file_of(conn).recent) <= RECENT_COMMITS
    finally:
        conn.close()


def test_another_databases_commit_sends_the_writer_to_the_store(
        setup: tuple[CountingStore, StrataVFS]) -> None:
    store, vfs = setup
    one = open_connection(vfs, 1, "writer")
    two = open_connection(vfs, 2, "writer")
    try:
        one.execute("CREATE TABLE a(v INTEGER)")
        _commit(vfs, one)
        two.execute("CREATE TABLE b(v INTEGER)")
        lsn_two = _commit(vfs, two)  # the log's written LSN is now database 2's commit
        assert lsn_two not in vfs.file_of(one).recent
        pages_before, sizes_before = store.page_one_reads, store.size_reads
        one.execute("INSERT INTO a VALUES (1)")
        _commit(vfs, one)
        assert store.page_one_reads > pages_before  # not its own commit: the store answers
        assert store.size_reads > sizes_before
        assert one.execute("SELECT v FROM a").fetchall() == [(1,)]
        assert two.execute("SELECT count(*) FROM b").fetchall() == [(0,)]
    finally:
        one.close()
        two.close()


def test_a_rollback_leaves_the_next_transaction_reading_the_committed_state(
        setup: tuple[CountingStore, StrataVFS]) -> None:
    _, vfs = setup
    conn = open_connection(vfs, 1, "writer")
    try:
        conn.execute("CREATE TABLE t(v INTEGER)")
        conn.execute("INSERT INTO t VALUES (1)")
        _commit(vfs, conn)
        conn.execute("BEGIN")
        conn.execute("CREATE TABLE gone(v INTEGER)")  # changes page 1 (schema cookie)
        conn.execute("INSERT INTO t VALUES (2)")
        conn.execute("ROLLBACK")
        assert conn.execute("SELECT v FROM t").fetchall() == [(1,)]
        assert conn.execute("SELECT name FROM sqlite_master").fetchall() == [("t",)]
        reader = open_connection(vfs, 1, "reader")
        try:
            assert reader.execute("SELECT v FROM t").fetchall() == [(1,)]
        finally:
            reader.close()
    finally:
        conn.close()
