"""A block's first write that finds the writer busy, queued for it from the socket callback
(compute/pgwire/fastwait.py): answered once the holder lets go, after it and in one FIFO
order with the message loop's waiters; lock_timeout (55P03), statement_timeout and a cancel
(57014), pg_terminate_backend (FATAL 57P01) while queued; a client that goes away while
queued keeps nobody waiting; and the same bytes as the message loop sends for all of it."""

from __future__ import annotations

import asyncio
import functools
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from compute import engine
from compute.pgwire import fastbatch, fastquery, fastwait
from compute.standalone import StandaloneFactory
from tests.compute.inprocess import InProcessNode, count_outcomes
from tests.compute.rawclient import RawClient, message, without_pids
from tests.compute.test_commit_durability import wait_until
from tests.compute.test_fast_batch import DESCRIBE, SYNC, _bind, _execute, _parse

Reply = list[tuple[bytes, bytes]]
QUIET_S = 0.2
"""How long a test waits to see that nothing is answered."""


class Node:
    """A standalone compute in process."""

    def __init__(self, path: Path) -> None:
        self.node = InProcessNode(StandaloneFactory(path, page_cache_mb=8), max_readers=2)
        self.port = self.node.server.port

    def queued(self) -> int:
        """Waiters in the writer lock's queue (of either kind)."""
        for _, conn in list(self.node.server.sessions.values()):
            if conn.session is not None:
                return len(conn.session.db.writer_lock._waiters or ())
        return 0

    def held(self) -> int:
        """Connections held by a callback lane's wait."""
        return sum(conn.wire.held for _, conn in list(self.node.server.sessions.values()))

    def close(self) -> None:
        self.node.close()


@pytest.fixture
def node(tmp_path: Path) -> Iterator[Node]:
    n = Node(tmp_path / "data")
    yield n
    n.close()


@pytest.fixture
def counted(monkeypatch: pytest.MonkeyPatch) -> list[bool]:
    """Every outcome of the lanes' queue_write (True: queued from the callback)."""
    return count_outcomes(monkeypatch, fastwait.queue_write, "queue_write", fastbatch, fastquery)


def _client(port: int, create: bool = False) -> RawClient:
    """A client whose blocks' UPDATE runs on the write fast lane (seen quick on a thread
    first: only known-quick writes run inline)."""
    c = RawClient(port)
    if create:
        c.query("create table a (id int primary key, v int)")
        c.query("insert into a select g, 0 from generate_series(1, 40) g")
    c.exchange(_parse("b", "BEGIN"), _parse("u", "update a set v = v + $1 where id = $2"),
               _parse("s", "select v from a where id = $1"), _parse("e", "END"), SYNC)
    for _ in range(2):
        for prepared in (False, True):
            _begin(c, prepared)
            c.sock.sendall(_update(prepared, 40, 0))
            assert c.until_ready()[-1] == (b"Z", b"T")
            assert c.exchange(_end(prepared))[-1] == (b"Z", b"I")
    return c


def _begin(c: RawClient, prepared: bool) -> None:
    if prepared:
        reply = c.exchange(_bind("b", []), DESCRIBE, _execute(), SYNC)
    else:
        reply = c.query("BEGIN;")
    assert reply[-1] == (b"Z", b"T"), reply


def _update(prepared: bool, row: int, add: int = 1) -> bytes:
    if prepared:
        return _bind("u", [str(add).encode(), str(row).encode()]) + DESCRIBE + _execute() + SYNC
    return message(b"Q", f"UPDATE a SET v = v + {add} WHERE id = {row};\0".encode())


def _end(prepared: bool) -> bytes:
    if prepared:
        return _bind("e", []) + DESCRIBE + _execute() + SYNC
    return message(b"Q", b"END;\0")


def _value(c: RawClient, row: int) -> int:
    reply = c.query(f"select v from a where id = {row}")
    return int([body for kind, body in reply if kind == b"D"][0][6:])


def _hold_writer(c: RawClient) -> None:
    """``c`` takes the writer (a block with a write) and keeps it."""
    assert c.query("begin")[-1] == (b"Z", b"T")
    assert c.query("update a set v = v + 100 where id = 1")[-1] == (b"Z", b"T")


def _queue(n: Node, c: RawClient, prepared: bool, row: int) -> None:
    """``c`` opens a block and sends its first UPDATE, which waits for the busy writer."""
    before = n.queued()
    _begin(c, prepared)
    c.sock.sendall(_update(prepared, row))
    wait_until(lambda: n.queued() == before + 1, "the UPDATE to queue for the writer")


@pytest.mark.parametrize("prepared", [False, True], ids=["simple", "prepared"])
def test_queued_write_answered_once_the_holder_commits(node: Node, counted: list[bool],
                                                       prepared: bool) -> None:
    holder = _client(node.port, create=True)
    c = _client(node.port)
    _hold_writer(holder)
    _queue(node, c, prepared, 2)
    assert node.held() == 1 and counted[-1]  # queued from the callback
    # input that arrives meanwhile waits behind it, answered after it in order
    c.sock.sendall(_bind("s", [b"1"]) + DESCRIBE + _execute() + SYNC)
    assert c.nothing_arrives(QUIET_S), "answered while the writer is taken"
    assert holder.query("commit")[-1] == (b"Z", b"I")
    reply = c.until_ready()
    assert reply[-2:] == [(b"C", b"UPDATE 1\0"), (b"Z", b"T")], reply
    seen = c.until_ready()  # the block reads the holder's commit
    assert [k for k, _ in seen] == [b"2", b"T", b"D", b"C", b"Z"]
    assert int(seen[2][1][6:]) == 100
    assert c.exchange(_end(prepared))[-2:] == [(b"C", b"COMMIT\0"), (b"Z", b"I")]
    assert _value(holder, 2) == 1 and node.queued() == 0 and node.held() == 0


@pytest.mark.parametrize("hand_over", [True, False], ids=["hand-over", "switched-off"])
@pytest.mark.parametrize("prepared", [False, True], ids=["simple", "prepared"])
def test_queued_write_runs_ahead_of_what_the_commit_scheduled(
        node: Node, counted: list[bool], monkeypatch: pytest.MonkeyPatch, prepared: bool,
        hand_over: bool) -> None:
    """The holder's COMMIT hands the writer to the queued write at once
    (``WriterLock.hand_over_now``): the write has it, and has run, before anything the commit
    put in the loop's ready queue (in a cluster, the proposer's sends to the log store).
    ``STRATA_WRITER_HANDOVER=0``: the loop's order (the waiter after the queue)."""
    monkeypatch.setattr(engine, "HAND_OVER", hand_over)
    holder = _client(node.port, create=True)
    c = _client(node.port)
    _hold_writer(holder)
    _queue(node, c, prepared, 2)
    lock = next(conn.session.db.writer_lock for _, conn in list(node.node.server.sessions.values())
                if conn.session is not None)
    store = node.node.factory.store
    real = store.submit
    seen: list[tuple[bool, int, int]] = []

    def submit(records: list[object]) -> object:
        ticket = real(records)
        asyncio.get_running_loop().call_soon(
            lambda: seen.append((lock.locked(), node.queued(), node.held())))
        return ticket

    monkeypatch.setattr(store, "submit", submit)
    assert holder.query("commit")[-1] == (b"Z", b"I")
    assert c.until_ready()[-2:] == [(b"C", b"UPDATE 1\0"), (b"Z", b"T")]
    wait_until(lambda: bool(seen), "the commit's scheduled callback")
    if hand_over:  # the queued UPDATE holds the writer, ran and was answered (its connection
        # released; only the holder's COMMIT may still be held, for its fsync)
        assert seen[0][:2] == (True, 0) and seen[0][2] <= 1, seen
    else:  # handed over (its future done) but not yet taken: still queued and held
        assert seen[0] == (False, 1, 2), seen
    assert c.exchange(_end(prepared))[-2:] == [(b"C", b"COMMIT\0"), (b"Z", b"I")]
    assert _value(holder, 2) == 1 and _value(holder, 1) == 100
    assert node.queued() == 0 and node.held() == 0 and not lock.locked()


def test_waiters_of_both_kinds_granted_in_fifo_order(node: Node, counted: list[bool]) -> None:
    holder = _client(node.port, create=True)
    lane_prepared, loop_path, lane_simple = (_client(node.port) for _ in range(3))
    _hold_writer(holder)
    _queue(node, lane_prepared, True, 3)
    # a write the fast lane does not take (not known quick): the message loop's wait
    assert loop_path.query("begin")[-1] == (b"Z", b"T")
    loop_path.sock.sendall(message(b"Q", b"update a set v = v + 1 where id = 4 and v >= 0\0"))
    wait_until(lambda: node.queued() == 2, "the loop's waiter to queue")
    _queue(node, lane_simple, False, 5)
    assert node.held() == 2 and sum(counted) == 2
    order = [(lane_prepared, True), (loop_path, False), (lane_simple, False)]
    assert holder.query("commit")[-1] == (b"Z", b"I")
    for i, (c, prepared) in enumerate(order):
        assert c.until_ready()[-2:] == [(b"C", b"UPDATE 1\0"), (b"Z", b"T")]
        for later, _ in order[i + 1:]:
            assert later.nothing_arrives(0.05), "a later waiter got the writer first"
        assert c.exchange(_end(prepared))[-2:] == [(b"C", b"COMMIT\0"), (b"Z", b"I")]
    assert [_value(holder, row) for row in (3, 4, 5)] == [1, 1, 1]
    assert node.queued() == 0 and node.held() == 0


def _gives_up(node: Node, holder: RawClient, c: RawClient, prepared: bool,
              during: Callable[[], object] = lambda: None) -> Reply:
    """``c``'s first UPDATE queued behind ``holder``, ``during`` run: its answer, the writer
    queue empty again and the holder still writing."""
    _queue(node, c, prepared, 6)
    during()
    reply = c.until_ready_or_end()
    wait_until(lambda: node.queued() == 0 and node.held() == 0, "the waiter to leave the queue")
    assert holder.query("update a set v = v + 1 where id = 7")[-1] == (b"Z", b"T")
    return reply


def _error(reply: Reply) -> tuple[str, str]:
    fields = [body for kind, body in reply if kind == b"E"][0].split(b"\0")
    by = {f[:1].decode(): f[1:].decode() for f in fields if f}
    return by["C"], by["M"]


@pytest.mark.parametrize("prepared", [False, True], ids=["simple", "prepared"])
def test_bounds_of_a_queued_write(node: Node, counted: list[bool], prepared: bool) -> None:
    holder = _client(node.port, create=True)
    c = _client(node.port)
    admin = RawClient(node.port)
    _hold_writer(holder)
    c.query("set lock_timeout = '150ms'")
    started = time.monotonic()
    reply = _gives_up(node, holder, c, prepared)
    assert 0.1 < time.monotonic() - started < 5
    assert _error(reply) == ("55P03", "canceling statement due to lock timeout")
    assert reply[-1] == (b"Z", b"E")
    assert c.query("rollback")[-1] == (b"Z", b"I")
    c.query("reset lock_timeout")
    c.query("set statement_timeout = '150ms'")
    reply = _gives_up(node, holder, c, prepared)
    assert _error(reply) == ("57014", "canceling statement due to statement timeout")
    assert c.query("rollback")[-1] == (b"Z", b"I")
    c.query("reset statement_timeout")
    pid = c.backend_pid()
    reply = _gives_up(node, holder, c, prepared,
                      functools.partial(admin.query, f"select pg_cancel_backend({pid})"))
    assert _error(reply) == ("57014", "canceling statement due to user request")
    assert c.query("rollback")[-1] == (b"Z", b"I")
    assert sum(counted) == 3

    def terminate() -> None:  # input after the queued statement is never run (as on the loop)
        c.sock.sendall(message(b"Q", b"update a set v = 5 where id = 20; commit\0"))
        time.sleep(0.05)
        admin.query(f"select pg_terminate_backend({pid})")

    reply = _gives_up(node, holder, c, prepared, terminate)
    assert [k for k, _ in reply] == [b"E"] and b"SFATAL" in reply[0][1]
    assert _error(reply) == ("57P01", "terminating connection due to administrator command")
    with pytest.raises((ConnectionError, OSError)):
        c.query("select 1")
    assert holder.query("commit")[-1] == (b"Z", b"I")
    time.sleep(0.1)
    assert _value(holder, 6) == 0 and _value(holder, 7) == 4 and _value(holder, 20) == 0


def test_client_gone_while_queued(node: Node, counted: list[bool]) -> None:
    holder = _client(node.port, create=True)
    c = _client(node.port)
    _hold_writer(holder)
    _queue(node, c, True, 8)
    sessions = len(node.node.server.sessions)
    c.sock.close()
    time.sleep(0.05)
    assert holder.query("commit")[-1] == (b"Z", b"I")
    wait_until(lambda: len(node.node.server.sessions) == sessions - 1, "the session to end")
    later = _client(node.port)  # a later writer proceeds
    _begin(later, False)
    later.sock.sendall(_update(False, 9))
    assert later.until_ready()[-2:] == [(b"C", b"UPDATE 1\0"), (b"Z", b"T")]
    assert later.query("commit")[-1] == (b"Z", b"I")
    assert _value(holder, 8) == 0 and _value(holder, 9) == 1  # the gone block rolled back
    assert node.queued() == 0 and sum(counted) == 1


@pytest.mark.parametrize("prepared", [False, True], ids=["simple", "prepared"])
def test_queued_write_no_longer_inline_when_granted(node: Node, counted: list[bool],
                                                    prepared: bool) -> None:
    """The statement stopped qualifying while queued (no longer known quick): granted, it
    hands the writer on and the general path runs it (on a thread), with the input after it
    still answered in order."""
    holder = _client(node.port, create=True)
    c = _client(node.port)
    _hold_writer(holder)
    _queue(node, c, prepared, 13)
    assert counted[-1]
    c.sock.sendall(_bind("s", [b"13"]) + DESCRIBE + _execute() + SYNC)

    async def forget() -> None:  # on the loop thread
        for _, conn in list(node.node.server.sessions.values()):
            if conn.session is not None:
                conn.session.db.quick_writes.clear()
                return

    node.node.call(forget())
    assert holder.query("commit")[-1] == (b"Z", b"I")
    assert c.until_ready()[-2:] == [(b"C", b"UPDATE 1\0"), (b"Z", b"T")]
    seen = c.until_ready()
    assert [k for k, _ in seen] == [b"2", b"T", b"D", b"C", b"Z"] and seen[2][1][6:] == b"1"
    assert c.exchange(_end(prepared))[-2:] == [(b"C", b"COMMIT\0"), (b"Z", b"I")]
    assert node.queued() == 0 and node.held() == 0 and _value(holder, 13) == 1


def test_a_bug_in_the_wait_ends_the_connection_and_frees_the_writer(
        node: Node, counted: list[bool], monkeypatch: pytest.MonkeyPatch) -> None:
    holder = _client(node.port, create=True)
    c = _client(node.port)
    _hold_writer(holder)

    def broken(self: object, error: object) -> None:
        raise RuntimeError("a bug")

    monkeypatch.setattr(fastwait._Wait, "_finish", broken)
    _queue(node, c, True, 14)
    c.sock.sendall(message(b"Q", b"update a set v = 5 where id = 15; commit\0"))
    time.sleep(0.05)
    assert holder.query("commit")[-1] == (b"Z", b"I")
    assert c.until_ready_or_end() == []  # the connection ends, nothing answered
    wait_until(lambda: node.queued() == 0 and node.held() == 0, "the wait to end")
    later = _client(node.port)  # the writer is free
    _begin(later, False)
    later.sock.sendall(_update(False, 16))
    assert later.until_ready()[-2:] == [(b"C", b"UPDATE 1\0"), (b"Z", b"T")]
    assert later.query("commit")[-1] == (b"Z", b"I")
    assert [_value(holder, row) for row in (14, 15, 16)] == [0, 0, 1]


# ---- the same bytes as the message loop


def _script(n: Node) -> list[Reply]:
    out: list[Reply] = []
    holder = _client(n.port, create=True)
    admin = RawClient(n.port)
    clients = [_client(n.port) for _ in range(3)]
    for prepared in (False, True):
        # three queued behind a block, answered in order, each seeing the commits before it
        _hold_writer(holder)
        for i, c in enumerate(clients):
            _queue(n, c, prepared, 10 + i)
        out.append(holder.query("commit"))
        for c in clients:
            out.append(c.until_ready())
            out.append(c.exchange(_bind("s", [b"1"]) + DESCRIBE + _execute() + SYNC))
            out.append(c.exchange(_end(prepared)))
        # the bounds, while a block holds the writer
        c = clients[0]
        _hold_writer(holder)
        out.append(c.query("set lock_timeout = '100ms'"))
        out.append(_gives_up(n, holder, c, prepared))
        out.append(c.query("rollback"))
        out.append(c.query("reset lock_timeout"))
        out.append(c.query("set statement_timeout = '100ms'"))
        out.append(_gives_up(n, holder, c, prepared))
        out.append(c.query("rollback"))
        out.append(c.query("reset statement_timeout"))
        pid = c.backend_pid()
        out.append(_gives_up(n, holder, c, prepared,
                             functools.partial(admin.query, f"select pg_cancel_backend({pid})")))
        out.append(c.query("rollback"))
        out.append(holder.query("commit"))
        out.append(admin.query("select id, v from a where id between 1 and 12 order by id"))
    c = clients[2]
    pid = c.backend_pid()
    _hold_writer(holder)
    out.append(_gives_up(n, holder, c, True,
                         functools.partial(admin.query, f"select pg_terminate_backend({pid})")))
    out.append(holder.query("commit"))
    return out


def test_queued_writes_answer_as_the_message_loop(tmp_path: Path, counted: list[bool],
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    def run(label: str) -> list[Reply]:
        n = Node(tmp_path / label)
        try:
            return _script(n)
        finally:
            n.close()

    fast = run("on")
    assert sum(counted) >= 12, counted  # the lanes queued them
    monkeypatch.setattr(fastwait, "ENABLED", False)
    counted.clear()
    general = run("off")
    assert not any(counted)
    fast, general = without_pids(fast), without_pids(general)
    assert len(fast) == len(general)
    for i, (a, b) in enumerate(zip(fast, general, strict=True)):
        assert a == b, (i, a, b)
