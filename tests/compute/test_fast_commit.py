"""COMMIT / END answered from the socket callback and its durability future
(compute/pgwire/fastcommit.py): never before its record is fsynced, with the writer free
meanwhile, input that arrives during the wait answered after it in order, and the same bytes
as the message loop sends — for a held fsync, a failed one (08007), statement_timeout, a
cancel and pg_terminate_backend during the wait, and a client that goes away."""

from __future__ import annotations

import contextlib
import functools
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from compute.pgwire import fastbatch, fastcommit, fastquery
from compute.standalone import StandaloneFactory
from tests.compute.inprocess import InProcessNode, count_outcomes
from tests.compute.rawclient import RawClient, message, without_pids
from tests.compute.test_commit_durability import GatedFsync, opened_on_exit, wait_until
from tests.compute.test_fast_batch import DESCRIBE, SYNC, _bind, _execute, _parse

Reply = list[tuple[bytes, bytes]]
HOLD_S = 0.2
"""How long a test holds an fsync to see that nothing is answered meanwhile."""


class Node:
    """A standalone compute in process whose log fsync the test gates."""

    def __init__(self, path: Path) -> None:
        self.factory = StandaloneFactory(path, page_cache_mb=8)
        self.node = InProcessNode(self.factory, max_readers=2)
        self.gate = GatedFsync()
        self.factory.store.log_fsync = self.gate
        self.port = self.node.server.port

    def held(self) -> bool:
        """Some connection's input is held behind a commit waiting for its fsync."""
        return any(conn.wire.held for _, conn in list(self.node.server.sessions.values()))

    def close(self) -> None:
        self.gate.fail = False
        self.gate.open.set()
        self.node.close()


@pytest.fixture
def node(tmp_path: Path) -> Iterator[Node]:
    n = Node(tmp_path / "data")
    yield n
    n.close()


def _setup(c: RawClient, create: bool = True) -> None:
    """A table, and blocks of both kinds run until their write is known quick (a block whose
    write ran on a thread commits on the general path: ``Transaction.heavy``)."""
    if create:
        c.query("create table a (id int primary key, v int)")
        c.query("insert into a select g, g from generate_series(1, 20) g")
    c.exchange(_parse("b", "BEGIN"), _parse("u", "update a set v = v + $1 where id = $2"),
               _parse("e", "END"), SYNC)
    for i in range(1, 4):
        for prepared in (False, True):
            _open_block(c, prepared, i)
            assert c.exchange(_commit_message(prepared))[-1] == (b"Z", b"I")


def _commit_message(prepared: bool) -> bytes:
    if prepared:
        return _bind("e", []) + DESCRIBE + _execute() + SYNC
    return message(b"Q", b"END;\0")


def _open_block(c: RawClient, prepared: bool, row: int) -> None:
    if prepared:
        assert c.exchange(_bind("b", []), DESCRIBE, _execute(), SYNC)[-1] == (b"Z", b"T")
        reply = c.exchange(_bind("u", [b"10", str(row).encode()]), DESCRIBE, _execute(), SYNC)
    else:
        assert c.query("BEGIN;")[-1] == (b"Z", b"T")
        reply = c.query(f"UPDATE a SET v = v + 10 WHERE id = {row};")
    assert reply[-1] == (b"Z", b"T"), reply


@contextlib.contextmanager
def _commit_held(node: Node, c: RawClient, prepared: bool) -> Iterator[None]:
    """``c``'s COMMIT sent with its fsync held: the body runs while the connection waits;
    the fsync goes on when it ends (or fails)."""
    node.gate.close()
    with opened_on_exit(node.gate):
        c.sock.sendall(_commit_message(prepared))
        wait_until(lambda: node.gate.entered.is_set() and node.held(),
                   "the commit to reach its fsync, its connection held")
        yield


def _value(port: int, row: int) -> int:
    reply = RawClient(port).query(f"select v from a where id = {row}")
    data = [body for kind, body in reply if kind == b"D"]
    return int(data[0][6:])


@pytest.mark.parametrize("prepared", [False, True], ids=["simple", "prepared"])
def test_commit_from_the_callback_waits_for_its_fsync(node: Node, prepared: bool) -> None:
    c = RawClient(node.port)
    _setup(c)
    before = _value(node.port, 5)
    _open_block(c, prepared, 5)
    with _commit_held(node, c, prepared):
        # input arriving during the wait is held: answered after the COMMIT, in order
        c.sock.sendall(message(b"Q", b"select v from a where id = 5\0"))
        assert c.nothing_arrives(HOLD_S), "COMMIT (or what followed it) answered before its fsync"
    commit = c.until_ready()
    assert [k for k, _ in commit] == ([b"2", b"n", b"C", b"Z"] if prepared else [b"C", b"Z"])
    assert commit[-2] == (b"C", b"COMMIT\0") and commit[-1] == (b"Z", b"I")
    after = c.until_ready()
    assert [k for k, _ in after] == [b"T", b"D", b"C", b"Z"]
    assert int(after[1][1][6:]) == before + 10
    assert not node.held()


def test_writer_free_and_commit_invisible_while_the_fsync_is_held(node: Node) -> None:
    c = RawClient(node.port)
    _setup(c)
    writer = RawClient(node.port)
    reader = RawClient(node.port)
    before = _value(node.port, 7)
    _open_block(c, False, 7)
    with _commit_held(node, c, False):
        # another block takes the writer and writes while the first commit waits
        assert writer.query("begin")[-1] == (b"Z", b"T")
        assert writer.query("update a set v = v + 1 where id = 8")[-1] == (b"Z", b"T")
        seen = reader.query("select v from a where id = 7")
        assert int(seen[1][1][6:]) == before, "a reader saw a commit that is not durable"
        assert c.nothing_arrives(HOLD_S)
    assert c.until_ready()[-2:] == [(b"C", b"COMMIT\0"), (b"Z", b"I")]
    assert writer.query("commit")[-2:] == [(b"C", b"COMMIT\0"), (b"Z", b"I")]
    assert _value(node.port, 7) == before + 10


def test_client_gone_while_its_commit_waits(node: Node) -> None:
    c = RawClient(node.port)
    _setup(c)
    before = _value(node.port, 9)
    _open_block(c, True, 9)
    with _commit_held(node, c, True):
        pids = [pid for pid, (_, conn) in list(node.node.server.sessions.items()) if conn.wire.held]
        c.sock.close()
        time.sleep(0.05)
        assert node.held(), "the end of the stream is held with the commit"
    wait_until(lambda: not node.held() and pids[0] not in node.node.server.sessions,
               "the connection to end once its commit is durable")
    assert _value(node.port, 9) == before + 10  # it committed (and was durable first)


# ---- the same bytes as the message loop, in the cases around the wait


def _held_commit(n: Node, c: RawClient, prepared: bool, during: Callable[[], object]) -> Reply:
    """A block's COMMIT sent while the fsync is held, ``during`` run while it waits, then the
    gate opened: everything the connection got up to ReadyForQuery or its end."""
    n.gate.close()
    with opened_on_exit(n.gate):
        c.sock.sendall(_commit_message(prepared))
        wait_until(lambda: n.gate.entered.is_set(), "the commit's fsync")
        during()
        time.sleep(0.05)
    return c.until_ready_or_end()


def _special_cases(port: int, n: Node) -> list[Reply]:
    out: list[Reply] = []
    for prepared in (False, True):
        c = RawClient(port)
        _setup(c, create=not prepared)
        admin = RawClient(port)
        pid = c.backend_pid()
        # statement_timeout shorter than the wait: the commit still succeeds
        out.append(c.query("set statement_timeout = '50ms'"))
        _open_block(c, prepared, 11)
        out.append(_held_commit(n, c, prepared, lambda: time.sleep(0.15)))
        out.append(c.query("select v from a where id = 11"))
        out.append(c.query("reset statement_timeout"))
        # a cancel during the wait: nothing to cancel, the commit is answered
        _open_block(c, prepared, 12)
        out.append(_held_commit(n, c, prepared,
                                functools.partial(admin.query, f"select pg_cancel_backend({pid})")))
        out.append(c.query("select v from a where id = 12"))
        # a NOTIFY in the block: the loop's way, the listener hears it after the commit
        out.append(admin.query("listen ch"))
        _open_block(c, prepared, 13)
        out.append(c.query("notify ch, 'x'"))
        out.append(_held_commit(n, c, prepared, lambda: None))
        out.append(admin.query("select 1"))
        out.append(admin.query("unlisten ch"))
        # pg_terminate_backend during the wait: FATAL once the commit is done, no COMMIT
        _open_block(c, prepared, 14)
        out.append(_held_commit(n, c, prepared,
                                functools.partial(admin.query, f"select pg_terminate_backend({pid})")))
        out.append(admin.query("select v from a where id = 14"))
    # a failed fsync: 08007 for the commit, and the store takes no more writes
    c = RawClient(port)
    _setup(c, create=False)
    _open_block(c, False, 15)
    n.gate.fail = True
    out.append(_held_commit(n, c, False, lambda: None))
    out.append(c.query("select v from a where id = 15"))
    out.append(c.query("update a set v = 1 where id = 16"))
    return out


def test_commit_lane_answers_as_the_message_loop(tmp_path: Path,
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    answered = count_outcomes(monkeypatch, fastcommit.answer_commit, "answer_commit",
                              fastquery, fastbatch)

    def run(label: str) -> list[Reply]:
        n = Node(tmp_path / label)
        try:
            return _special_cases(n.port, n)
        finally:
            n.close()

    fast = run("on")
    assert sum(answered) >= 6, answered  # the lane answered the held commits
    assert not all(answered)  # and left the NOTIFY blocks to the loop
    monkeypatch.setattr(fastquery, "answer_commit", lambda *a: False)
    monkeypatch.setattr(fastbatch, "answer_commit", lambda *a: False)
    general = run("off")
    fast, general = without_pids(fast), without_pids(general)
    assert len(fast) == len(general)
    for i, (a, b) in enumerate(zip(fast, general, strict=True)):
        assert a == b, (i, a, b)


def test_input_behind_a_held_commit_never_runs_after_terminate(node: Node) -> None:
    """pg_terminate_backend while a COMMIT waits for its fsync: the commit stands, FATAL
    57P01 follows, and a statement the client pipelined behind the COMMIT is never run (the
    loop reads nothing past a FATAL)."""
    c = RawClient(node.port)
    _setup(c)
    admin = RawClient(node.port)
    pid = c.backend_pid()
    before = _value(node.port, 17)
    _open_block(c, False, 17)
    with _commit_held(node, c, False):
        c.sock.sendall(message(b"Q", b"update a set v = 0 where id = 18\0"))
        time.sleep(0.05)
        admin.query(f"select pg_terminate_backend({pid})")
    got = c.until_ready_or_end()
    assert [k for k, _ in got] == [b"E"] and b"57P01" in got[0][1], got  # and then the end
    assert _value(node.port, 17) == before + 10  # the commit stands (it was durable first)
    assert _value(node.port, 18) == 18, "a statement sent after the COMMIT ran after the FATAL"
