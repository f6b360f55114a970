"""The acceptor's cheaper append path (issue 16, session 16) keeps the safety rules.

- the acks of the appends of one read leave in one write, after the fdatasync covering
  them; acks made durable by the flusher's group commit leave together too; an append
  that needs no sync (no records) is acknowledged in order;
- a request or an ack is one buffer, so over TLS one record (two were sealed and opened);
- the group commit metric counts the appends each fdatasync covered;
- the term appends and acks pass without the fencing checks is dropped the moment a higher
  term is promised, and comes back only when that term is started;
- a short ``pwritev`` still writes every byte.
"""

from __future__ import annotations

import asyncio
import os
from pathlib import Path
from typing import Any

import grpc
import pytest

from logstore import fastappend
from logstore.acceptor import Acceptor
from logstore.errors import FencedError, NotSyncedError
from logstore.fastappend import (
    HEADER,
    KIND_ACK,
    KIND_APPEND,
    MAGIC,
    FastAppendChannel,
    FastAppendServer,
    _AppendProtocol,
    encode_append,
)
from logstore.segments import SegmentStore, SyncJob, payload_crc
from logstore.server import _check_append
from strata.proto import logstore_pb2 as pb


class Recorder:
    """A transport that records what is written, in one event list with the syncs."""

    def __init__(self, events: list[tuple[str, Any]]) -> None:
        self.events = events

    def write(self, data: bytes) -> None:
        self.events.append(("write", bytes(data)))

    def writelines(self, parts: Any) -> None:
        self.events.append(("writelines", [bytes(p) for p in parts]))

    def get_extra_info(self, name: str, default: Any = None) -> Any:
        return default

    def pause_reading(self) -> None:
        pass

    def resume_reading(self) -> None:
        pass

    def close(self) -> None:
        self.events.append(("close", None))


def _acks(data: bytes) -> list[pb.AppendResponse]:
    out, pos = [], 0
    while pos < len(data):
        n, kind = HEADER.unpack_from(data, pos)
        assert kind == KIND_ACK
        out.append(pb.AppendResponse.FromString(data[pos + HEADER.size : pos + HEADER.size + n]))
        pos += HEADER.size + n
    return out


def _message(lsn: int, payloads: list[bytes], term: int = 1, commit: int = 0) -> tuple[bytes, int]:
    body = encode_append("", "", term, lsn, payloads, [payload_crc(p) for p in payloads], commit)
    return HEADER.pack(len(body), KIND_APPEND) + body, lsn + sum(len(p) for p in payloads)


async def _setup(tmp_path: Path, monkeypatch: pytest.MonkeyPatch
                 ) -> tuple[Acceptor, _AppendProtocol, list[tuple[str, Any]]]:
    events: list[tuple[str, Any]] = []
    real = SegmentStore.run_sync

    def spy(self: SegmentStore, job: SyncJob) -> None:
        real(self, job)
        events.append(("sync", job.target_lsn))

    monkeypatch.setattr(SegmentStore, "run_sync", spy)
    acc = Acceptor(1, tmp_path / "acc")
    acc.open()
    acc.start_background()
    await acc.vote(1)
    await acc.start_term(1, [(1, 0)], 0)
    server = FastAppendServer(_check_append, lambda tenant, timeline: acc, lambda exc: grpc.StatusCode.UNKNOWN)
    proto = _AppendProtocol(server)
    proto.connection_made(Recorder(events))  # type: ignore[arg-type]
    proto.data_received(MAGIC)
    events.clear()
    return acc, proto, events


def test_acks_of_one_read_leave_in_one_write_after_their_fdatasync(tmp_path: Path,
                                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    async def main() -> None:
        acc, proto, events = await _setup(tmp_path, monkeypatch)
        msgs, lsn = [], 0
        for size in (200, 100, 300):
            m, lsn = _message(lsn, [os.urandom(size)])
            msgs.append(m)
        empty, _ = _message(lsn, [], commit=lsn)  # no records: nothing to sync for it
        proto.data_received(b"".join(msgs) + empty)
        assert [e[0] for e in events] == ["sync", "write"], events  # one fdatasync, then one write
        assert events[0][1] == 600
        acks = _acks(events[1][1])
        assert [a.end_lsn for a in acks] == [200, 300, 600, 600]
        assert all(a.flush_lsn >= a.end_lsn and a.term == 1 for a in acks)
        group = acc.metrics.group_size  # one group commit of the 3 appends with records
        assert sum(group.counts) == 1 and group.sum == 3
        # One message per read: a write per message, each after its own fdatasync.
        events.clear()
        for size in (50, 70):
            m, lsn = _message(lsn, [os.urandom(size)])
            proto.data_received(m)
        assert [(e[0], e[1] if e[0] == "sync" else [a.end_lsn for a in _acks(e[1])]) for e in events] == [
            ("sync", 650), ("write", [650]), ("sync", 720), ("write", [720])]
        assert sum(group.counts) == 3 and group.sum == 5
        await acc.close()

    asyncio.run(main())


def test_acks_after_the_flushers_group_commit_leave_together(tmp_path: Path,
                                                            monkeypatch: pytest.MonkeyPatch) -> None:
    """A term change holds the io lock: the read's appends wait for the flusher, are not
    acknowledged before its fdatasync, and then leave in one write."""
    async def main() -> None:
        acc, proto, events = await _setup(tmp_path, monkeypatch)
        await acc._io_lock.acquire()
        msgs, lsn = [], 0
        for size in (10, 20, 30):
            m, lsn = _message(lsn, [os.urandom(size)])
            msgs.append(m)
        proto.data_received(b"".join(msgs))
        await asyncio.sleep(0.05)
        assert events == [], "synced or acknowledged while the io lock was held"
        acc._io_lock.release()
        for _ in range(100):
            if any(e[0] == "write" for e in events):
                break
            await asyncio.sleep(0.01)
        assert [e[0] for e in events] == ["sync", "write"], events
        assert events[0][1] == 60
        assert [a.end_lsn for a in _acks(events[1][1])] == [10, 30, 60]
        await acc.close()

    asyncio.run(main())


def test_an_error_follows_the_acks_before_it(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    async def main() -> None:
        acc, proto, events = await _setup(tmp_path, monkeypatch)
        good, lsn = _message(0, [b"first"])
        gap, _ = _message(lsn + 100, [b"gap"])
        proto.data_received(good + gap)
        kinds = [e[0] for e in events]
        assert kinds == ["sync", "write", "close"], events
        data = events[1][1]
        n, kind = HEADER.unpack_from(data, 0)
        assert kind == KIND_ACK and pb.AppendResponse.FromString(data[HEADER.size : HEADER.size + n]).end_lsn == 5
        assert HEADER.unpack_from(data, HEADER.size + n)[1] == fastappend.KIND_ERROR
        await acc.close()

    asyncio.run(main())


def test_fencing_is_checked_again_once_a_higher_term_is_promised(tmp_path: Path) -> None:
    async def main() -> None:
        acc = Acceptor(1, tmp_path / "acc")
        acc.open()
        acc.start_background()
        with pytest.raises(NotSyncedError):  # nothing promised, nothing started
            acc.append_write(1, 0, [(b"x", payload_crc(b"x"))], 0)
        await acc.vote(1)
        with pytest.raises(NotSyncedError):  # promised, not started
            acc.append_write(1, 0, [(b"x", payload_crc(b"x"))], 0)
        await acc.start_term(1, [(1, 0)], 0)
        end = acc.append_write(1, 0, [(b"abc", payload_crc(b"abc"))], 0)
        await acc.wait_durable(1, end)
        assert acc.ack_state(1) == (3, 0)
        await acc.vote(2)
        with pytest.raises(FencedError):
            acc.append_write(1, 3, [(b"d", payload_crc(b"d"))], 0)
        with pytest.raises(FencedError):
            acc.ack_state(1)
        with pytest.raises(NotSyncedError):  # term 2 promised but not started yet
            acc.append_write(2, 3, [(b"d", payload_crc(b"d"))], 0)
        with pytest.raises(NotSyncedError):
            acc.ack_state(2)
        await acc.start_term(2, [(1, 0), (2, 3)], 3)
        end = acc.append_write(2, 3, [(b"d", payload_crc(b"d"))], 0)
        await acc.wait_durable(2, end)
        assert acc.ack_state(2) == (4, 0)
        with pytest.raises(FencedError):
            acc.ack_state(1)
        await acc.close()
        # A reopened log knows its started term from the control file.
        again = Acceptor(1, tmp_path / "acc")
        again.open()
        assert again.append_write(2, 4, [(b"e", payload_crc(b"e"))], 0) == 5
        with pytest.raises(FencedError):
            again.append_write(1, 5, [(b"f", payload_crc(b"f"))], 0)
        again.store.close()

    asyncio.run(main())


def test_a_small_request_is_one_buffer_a_big_one_is_not_copied() -> None:
    async def main() -> None:
        events: list[tuple[str, Any]] = []
        ch = FastAppendChannel("127.0.0.1", 9, "test", lambda: None)
        ch._conn.cancel()
        ch._transport = Recorder(events)  # type: ignore[assignment]
        small = encode_append("", "", 1, 0, [b"x" * 4000], [0], 0)
        ch.send_now(small)
        assert events == [("write", HEADER.pack(len(small), KIND_APPEND) + small)]
        events.clear()
        big = encode_append("", "", 1, 0, [b"y" * (fastappend.JOIN_MAX_BYTES + 1)], [0], 0)
        ch.send_now(big)
        assert events == [("writelines", [HEADER.pack(len(big), KIND_APPEND), big])]

    asyncio.run(main())


def test_a_short_pwritev_still_writes_every_byte(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    real = os.pwritev
    calls: list[int] = []

    def short(fd: int, bufs: Any, offset: int) -> int:
        calls.append(offset)
        if len(calls) == 1:  # the first call writes only part of its first buffer
            return real(fd, [bytes(bufs[0])[:10]], offset)
        return real(fd, bufs, offset)

    store = SegmentStore(tmp_path / "seg", 1 << 20)
    store.open()
    monkeypatch.setattr(os, "pwritev", short)
    payloads = [os.urandom(3000), os.urandom(500)]
    end = store.append_in_term(0, 1, [(p, 0) for p in payloads])
    monkeypatch.setattr(os, "pwritev", real)
    assert end == 3500 and calls
    frames = store.read_local(0, end, 1 << 20)
    assert [f.payload for f in frames] == payloads
    store.close()
