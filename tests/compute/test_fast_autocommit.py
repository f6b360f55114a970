"""Autocommit INSERT / UPDATE / DELETE run from the socket callback and answered once durable
(compute/pgwire/fastauto.py): never before its record is fsynced, invisible to readers until
then, input sent meanwhile answered after it (and seeing it), and the same bytes as the
message loop sends with STRATA_LANE_AUTOCOMMIT off — for errors (23505, 23502, 25006 in a
read-only session), sequences, triggers, RETURNING, statement_timeout, a cancel, a failed
fsync (08007) and pg_terminate_backend during the wait, and a client that goes away."""

from __future__ import annotations

import contextlib
import functools
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import psycopg
import pytest

from compute.pgwire import fastauto, fastbatch, fastquery
from tests.compute.inprocess import count_outcomes
from tests.compute.rawclient import RawClient, message, without_pids
from tests.compute.test_commit_durability import opened_on_exit, wait_until
from tests.compute.test_fast_batch import DESCRIBE, SYNC, _bind, _execute, _parse
from tests.compute.test_fast_commit import HOLD_S, Node

Reply = list[tuple[bytes, bytes]]


@pytest.fixture(autouse=True)
def lane_on(monkeypatch: pytest.MonkeyPatch) -> None:
    """The lane on (STRATA_LANE_AUTOCOMMIT=1) whatever the environment says."""
    monkeypatch.setattr(fastauto, "ENABLED", True)


@pytest.fixture
def node(tmp_path: Path) -> Iterator[Node]:
    n = Node(tmp_path / "data")
    yield n
    n.close()


@pytest.fixture
def counted(monkeypatch: pytest.MonkeyPatch) -> list[list[bool]]:
    """Outcomes of both lanes' autocommit-write answers (True: the callback took it)."""
    return [count_outcomes(monkeypatch, fastauto.answer_auto_query, "answer_auto_query", fastquery),
            count_outcomes(monkeypatch, fastauto.answer_auto_batch, "answer_auto_batch", fastbatch)]


def _outcomes(counted: list[list[bool]]) -> list[bool]:
    return counted[0] + counted[1]


def _update(prepared: bool, row: int, delta: int = 10) -> bytes:
    """An autocommit UPDATE of ``row``: a simple Query, or a Bind/Describe/Execute/Sync of
    the prepared statement "u" (``_setup``)."""
    if prepared:
        return _bind("u", [str(delta).encode(), str(row).encode()]) + DESCRIBE + _execute() + SYNC
    return message(b"Q", f"UPDATE a SET v = v + {delta} WHERE id = {row}\0".encode())


def _setup(c: RawClient, create: bool = True) -> None:
    """A table, and autocommit updates of both kinds run until the lanes take them (a shape is
    learned from its first run; a prepared write is run inline once seen quick on a thread)."""
    if create:
        c.query("create table a (id int primary key, v int not null, s text)")
        c.query("insert into a select g, g, 'x' from generate_series(1, 40) g")
    c.exchange(_parse("u", "update a set v = v + $1 where id = $2"),
               _parse("i", "insert into a (id, v) values ($1, $2)"),
               _parse("d", "delete from a where id = $1"), SYNC)
    for i in range(1, 4):
        for prepared in (False, True):
            assert c.exchange(_update(prepared, i, 0))[-1] == (b"Z", b"I")


def _value(port: int, row: int) -> int:
    reply = RawClient(port).query(f"select v from a where id = {row}")
    data = [body for kind, body in reply if kind == b"D"]
    return int(data[0][6:])


@contextlib.contextmanager
def _write_held(node: Node, c: RawClient, data: bytes) -> Iterator[None]:
    """``data`` (an autocommit write) sent with the fsync held: the body runs while its
    connection waits; the fsync goes on when it ends."""
    node.gate.close()
    with opened_on_exit(node.gate):
        c.sock.sendall(data)
        wait_until(lambda: node.gate.entered.is_set() and node.held(),
                   "the write to reach its fsync, its connection held")
        yield


@pytest.mark.parametrize("prepared", [False, True], ids=["simple", "prepared"])
def test_autocommit_write_waits_for_its_fsync(node: Node, counted: list[list[bool]],
                                              prepared: bool) -> None:
    c = RawClient(node.port)
    _setup(c)
    reader = RawClient(node.port)
    writer = RawClient(node.port)
    before = _value(node.port, 5)
    taken = len(_outcomes(counted))
    with _write_held(node, c, _update(prepared, 5)):
        # input arriving during the wait is held: answered after the write, in order
        c.sock.sendall(message(b"Q", b"select v from a where id = 5\0"))
        seen = reader.query("select v from a where id = 5")
        assert int(seen[1][1][6:]) == before, "a reader saw a write that is not durable"
        # the writer was released at once: another autocommit write runs meanwhile
        writer.sock.sendall(message(b"Q", b"update a set v = v + 1 where id = 6\0"))
        assert c.nothing_arrives(HOLD_S), "the write (or what followed it) answered before its fsync"
    assert any(_outcomes(counted)[taken:]), "the callback lane did not take the write"
    reply = c.until_ready()
    expected = [b"2", b"n", b"C", b"Z"] if prepared else [b"C", b"Z"]
    assert [k for k, _ in reply] == expected, reply
    assert reply[-2] == (b"C", b"UPDATE 1\0") and reply[-1] == (b"Z", b"I")
    after = c.until_ready()
    assert [k for k, _ in after] == [b"T", b"D", b"C", b"Z"]
    assert int(after[1][1][6:]) == before + 10
    assert writer.until_ready()[-2:] == [(b"C", b"UPDATE 1\0"), (b"Z", b"I")]
    wait_until(lambda: not node.held(), "the connections to be released")  # (after their answer)


@pytest.mark.parametrize("prepared", [False, True], ids=["simple", "prepared"])
def test_client_gone_while_its_write_waits(node: Node, prepared: bool) -> None:
    c = RawClient(node.port)
    _setup(c)
    before = _value(node.port, 9)
    with _write_held(node, c, _update(prepared, 9)):
        pids = [pid for pid, (_, conn) in list(node.node.server.sessions.items()) if conn.wire.held]
        c.sock.close()
        time.sleep(0.05)
        assert node.held(), "the end of the stream is held with the write"
    wait_until(lambda: not node.held() and pids[0] not in node.node.server.sessions,
               "the connection to end once its write is durable")
    assert _value(node.port, 9) == before + 10  # it committed (and was durable first)


@pytest.mark.parametrize("prepared", [False, True], ids=["simple", "prepared"])
def test_input_behind_a_held_write_never_runs_after_terminate(node: Node, prepared: bool) -> None:
    c = RawClient(node.port)
    _setup(c)
    admin = RawClient(node.port)
    pid = c.backend_pid()
    before = _value(node.port, 17)
    with _write_held(node, c, _update(prepared, 17)):
        c.sock.sendall(message(b"Q", b"update a set v = 0 where id = 18\0"))
        time.sleep(0.05)
        admin.query(f"select pg_terminate_backend({pid})")
    got = c.until_ready_or_end()
    assert [k for k, _ in got] == [b"E"] and b"57P01" in got[0][1], got  # and then the end
    assert _value(node.port, 17) == before + 10  # the write stands (it was durable first)
    assert _value(node.port, 18) == 18, "a statement sent after the write ran after the FATAL"


# ---- the same bytes as the message loop


def _held(n: Node, c: RawClient, data: bytes, during: Callable[[], object]) -> Reply:
    """``data`` sent while the fsync is held, ``during`` run while it waits, then the gate
    opened: everything the connection got up to ReadyForQuery or its end."""
    n.gate.close()
    with opened_on_exit(n.gate):
        c.sock.sendall(data)
        wait_until(lambda: n.gate.entered.is_set(), "the write's fsync")
        during()
        time.sleep(0.05)
    return c.until_ready_or_end()


def _writes(c: RawClient, prepared: bool) -> list[Reply]:
    """Autocommit writes of several kinds and their errors, one connection."""
    out: list[Reply] = []
    if prepared:
        def x(name: str, *params: bytes | None) -> Reply:
            return c.exchange(_bind(name, list(params)), DESCRIBE, _execute(), SYNC)
        for _ in range(2):
            out.append(x("i", b"100", b"1"))
            out.append(x("i", b"100", b"2"))  # 23505: rolled back
            out.append(x("i", b"101", None))  # 23502
            out.append(x("u", b"5", b"999"))  # UPDATE 0: nothing written
            out.append(x("d", b"100"))
            out.append(x("d", b"100"))  # DELETE 0
            out.append(x("u", b"x", b"3"))  # 22P02 at Bind (the loop's error)
            out.append(x("q", b"7"))  # a serial column's nextval
            out.append(x("u", b"1", b"2"))
    else:
        q = c.query
        for _ in range(2):
            out.append(q("insert into a (id, v) values (100, 1)"))
            out.append(q("insert into a (id, v) values (100, 2)"))
            out.append(q("insert into a (id, v, s) values (101, null, 'y1')"))
            out.append(q("update a set v = 5 where id = 999"))
            out.append(q("delete from a where id = 100"))
            out.append(q("delete from a where id = 100"))
            out.append(q("update a set v = v + 1 where id = 2 returning v"))
            out.append(q("insert into q (n) values (7)"))
            out.append(q("insert into q (id, n) values (nextval('q_id_seq') + 1000, 8)"))
            out.append(q("update a set v = v / 0 where id = 3"))
            out.append(q("update a set v = v + 1 where id = 2"))
    out.append(c.query("select currval('q_id_seq'), count(*) from q"))
    out.append(c.query("select id, v from a where id in (2, 3, 100, 101) order by id"))
    return out


def _special(n: Node, c: RawClient, admin: RawClient, prepared: bool) -> list[Reply]:
    """Around the durability wait: statement_timeout, a cancel, a listener, a read-only
    session."""
    out: list[Reply] = []
    pid = c.backend_pid()
    out.append(c.query("set statement_timeout = '50ms'"))
    out.append(_held(n, c, _update(prepared, 11), lambda: time.sleep(0.15)))
    out.append(c.query("select v from a where id = 11"))
    out.append(c.query("reset statement_timeout"))
    out.append(_held(n, c, _update(prepared, 12),
                     functools.partial(admin.query, f"select pg_cancel_backend({pid})")))
    out.append(c.query("select v from a where id = 12"))
    out.append(c.query("listen ch"))
    out.append(_held(n, c, _update(prepared, 13),
                     functools.partial(admin.query, "notify ch, 'during'")))
    out.append(c.query("select 1"))
    out.append(c.query("unlisten ch"))
    out.append(c.query("set default_transaction_read_only = on"))
    out.append(c.exchange(_update(prepared, 14)))  # 25006
    out.append(c.query("reset default_transaction_read_only"))
    out.append(c.exchange(_update(prepared, 14)))
    return out


def _script(port: int, n: Node, failing_prepared: bool) -> list[Reply]:
    out: list[Reply] = []
    c = RawClient(port)
    _setup(c)
    admin = RawClient(port)
    out.append(c.query("create table q (id serial primary key, n int)"))
    c.exchange(_parse("q", "insert into q (n) values ($1)"), SYNC)
    for prepared in (False, True):
        out.extend(_writes(c, prepared))
        out.extend(_special(n, c, admin, prepared))
    # pg_terminate_backend during the wait: FATAL once the write is durable, no answer
    for prepared in (False, True):
        c = RawClient(port)
        _setup(c, create=False)
        pid = c.backend_pid()
        out.append(_held(n, c, _update(prepared, 15),
                         functools.partial(admin.query, f"select pg_terminate_backend({pid})")))
        out.append(admin.query("select v from a where id = 15"))
    # a table with an AFTER trigger: every write of the database then takes the loop
    c = RawClient(port)
    out.append(c.query("create table log (n int)"))
    out.append(c.query("create function note() returns trigger language plpgsql as "
                       "$$ begin insert into log values (new.v); return new; end $$"))
    out.append(c.query("create trigger t after update on a for each row execute function note()"))
    for prepared in (False, True):
        _setup(c, create=False)
        out.append(c.exchange(_update(prepared, 16)))
    out.append(c.query("select count(*) from log"))
    out.append(c.query("drop trigger t on a"))  # (the lanes take the writes again)
    # a failed fsync: 08007 for the write, and the store takes no more writes
    c = RawClient(port)
    _setup(c, create=False)
    n.gate.fail = True
    out.append(_held(n, c, _update(failing_prepared, 19), lambda: None))
    out.append(c.query("select v from a where id = 19"))
    out.append(c.query("update a set v = 1 where id = 20"))
    out.append(c.exchange(_update(True, 21)))
    return out


@pytest.mark.parametrize("prepared", [False, True], ids=["simple", "prepared"])
def test_autocommit_lane_answers_as_the_message_loop(tmp_path: Path, counted: list[list[bool]],
                                                     monkeypatch: pytest.MonkeyPatch,
                                                     prepared: bool) -> None:
    def run(label: str) -> list[Reply]:
        n = Node(tmp_path / label)
        try:
            return _script(n.port, n, prepared)
        finally:
            n.close()

    fast = run("on")
    outcomes = _outcomes(counted)
    assert sum(outcomes) >= 30, outcomes  # the lanes answered the writes
    assert not all(outcomes)  # and left the read-only session, the triggers, ... to the loop
    monkeypatch.setattr(fastauto, "ENABLED", False)
    general = run("off")
    assert sum(_outcomes(counted)) == sum(outcomes)  # (off: nothing more was taken)
    fast, general = without_pids(fast), without_pids(general)
    assert len(fast) == len(general)
    for i, (a, b) in enumerate(zip(fast, general, strict=True)):
        assert a == b, (i, a, b)


def test_psycopg_autocommit_writes(node: Node, counted: list[list[bool]]) -> None:
    """A driver in autocommit mode (psycopg: prepared after a few runs, or not)."""
    dsn = f"postgresql://postgres@127.0.0.1:{node.port}/postgres"
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute("create table p (id serial primary key, k int unique, v int)")
        for i in range(20):
            conn.execute("insert into p (k, v) values (%s, %s)", (i, i))
            conn.execute("update p set v = v + %s where k = %s", (1, i))
        with pytest.raises(psycopg.errors.UniqueViolation):
            conn.execute("insert into p (k, v) values (%s, %s)", (3, 0))
        conn.execute("delete from p where k = %s", (4,))
        rows = conn.execute("select count(*), sum(v), max(id) from p").fetchone()
        assert rows == (19, sum(i + 1 for i in range(20)) - 5, 20)
    assert sum(_outcomes(counted)) >= 20
