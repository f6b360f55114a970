"""The LISTEN/NOTIFY hub on its own (compute/notify.py): delivery at commit, order,
deduplication, transactional LISTEN, limits with PostgreSQL's SQLSTATEs."""

from __future__ import annotations

import pytest

from compute.notify import MAX_PAYLOAD_BYTES, NotificationHub, Pending
from compute.sql.api import SqlError


def hub_with(*pids: int) -> tuple[NotificationHub, dict[int, int]]:
    hub = NotificationHub(max_queued=5)
    wakes = {pid: 0 for pid in pids}

    def waker(pid: int):  # type: ignore[no-untyped-def]
        def wake() -> None:
            wakes[pid] += 1
        return wake

    for pid in pids:
        hub.attach(pid, waker(pid))
    return hub, wakes


def committed(hub: NotificationHub, pid: int, build: Pending) -> None:
    hub.check_room(build)
    hub.commit(pid, build)


def test_delivered_in_order_to_every_listener_including_sender() -> None:
    hub, wakes = hub_with(1, 2, 3)
    for pid in (1, 2):
        p = Pending()
        p.listen("jobs")
        committed(hub, pid, p)
    p = Pending()
    for payload in ("a", "b", "a", "c"):
        p.notify("jobs", payload)
    p.notify("other", "x")
    committed(hub, 1, p)
    for pid in (1, 2):
        got = hub.take(pid)
        assert [(n.channel, n.payload, n.sender_pid) for n in got] == [("jobs", "a", 1), ("jobs", "b", 1),
                                                                       ("jobs", "c", 1)]
        assert wakes[pid] == 1 and hub.take(pid) == []
    assert hub.take(3) == [] and wakes[3] == 0


def test_listen_is_transactional_and_unlisten_star() -> None:
    hub, _ = hub_with(1)
    p = Pending()
    p.listen("a")
    p.listen("b")
    assert hub.channels(1) == []  # not before commit
    committed(hub, 1, p)
    assert hub.channels(1) == ["a", "b"]
    p = Pending()
    p.unlisten(None)
    committed(hub, 1, p)
    assert hub.channels(1) == []


def test_limits() -> None:
    p = Pending()
    with pytest.raises(SqlError) as err:
        p.notify("", "x")
    assert err.value.sqlstate == "22023"
    with pytest.raises(SqlError):
        p.notify("c" * 64, "x")
    p.notify("c" * 63, "é" * (MAX_PAYLOAD_BYTES // 2))
    with pytest.raises(SqlError) as err:
        p.notify("c", "x" * (MAX_PAYLOAD_BYTES + 1))
    assert err.value.sqlstate == "22023"
    hub, _ = hub_with(1, 2)
    listen = Pending()
    listen.listen("q")
    committed(hub, 2, listen)
    flood = Pending()
    for i in range(6):
        flood.notify("q", str(i))
    with pytest.raises(SqlError) as err:
        hub.check_room(flood)
    assert err.value.sqlstate == "54000"
    assert hub.take(2) == []


def test_detach_forgets_the_session() -> None:
    hub, _ = hub_with(1, 2)
    p = Pending()
    p.listen("x")
    committed(hub, 2, p)
    hub.detach(2)
    n = Pending()
    n.notify("x", "")
    committed(hub, 1, n)
    assert hub.take(2) == [] and hub.channels(2) == []
