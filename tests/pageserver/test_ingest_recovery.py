"""Log-fed ingest heals itself, and the log store stream it reads fails over correctly.

In-process: a page server whose WAL source fails in every way (a cancelled gRPC call, an
error mid-stream, a connection error) keeps retrying with backoff, resumes each time at its
last ingested LSN, shows "retrying: <error>" then "ingesting", counts the failures and logs
each distinct error once. Real processes: every acceptor killed and restarted under a live
timeline; ``stream_committed`` idle past its failover check, failing over from a stalled
(SIGSTOPped) acceptor to one with a higher commit LSN, and across SIGKILLs, with no record
lost or repeated.
"""

from __future__ import annotations

import asyncio
import logging
import signal
import threading
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

from logstore.client import LogStoreClient
from logstore.proposer import SyncProposer
from logstore.stream import stream_committed
from pageserver import metrics
from pageserver.server import INGESTING, PageServer, ServerConf
from tests.logstore.logstore_helpers import Cluster
from tests.pageserver.conftest import Workload, check_samples

T = "t"


# ---------------------------------------------------------------------- in-process


def wait_until(cond, timeout: float = 10.0, what: str = "") -> None:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while not cond():
        assert time.monotonic() < deadline, what or "condition not met"
        time.sleep(0.01)


def failures(tl: str) -> float:
    return float(metrics.INGEST_FAILURES.labels(T, tl)._value.get())


@pytest.fixture
def server(tmp_path: Path) -> Iterator[PageServer]:
    conf = ServerConf(data_dir=str(tmp_path / "data"), object_store=str(tmp_path / "objects"))
    ps = PageServer(conf, source_factory=lambda *a: _unused())
    ps.start()
    try:
        yield ps
    finally:
        ps.stop()


async def _unused() -> AsyncIterator[tuple[int, int, bytes]]:
    raise AssertionError("replaced by each test")
    yield (0, 0, b"")  # pragma: no cover


def test_ingest_survives_every_kind_of_source_failure(server: PageServer, caplog) -> None:
    wl = Workload(seed=41)
    wl.run(30)
    records = wl.records
    half = len(records) // 2
    opened: list[int] = []
    idle = threading.Event()

    def factory(tenant: str, log_timeline: str, from_lsn: int) -> AsyncIterator[tuple[int, int, bytes]]:
        opened.append(from_lsn)
        attempt = len(opened)

        async def gen() -> AsyncIterator[tuple[int, int, bytes]]:
            if attempt == 1:  # what a gRPC read raises once its call was cancelled
                raise asyncio.CancelledError()
            todo = [(lsn, p) for lsn, p in records if lsn >= from_lsn]
            if attempt == 2:
                for lsn, p in todo[:half]:
                    yield lsn, lsn + len(p), p
                raise RuntimeError("stream broke mid-way")
            if attempt == 3:
                raise ConnectionError("acceptors restarting")
            for lsn, p in todo:
                yield lsn, lsn + len(p), p
            idle.set()
            await asyncio.sleep(3600)

        return gen()

    server.source_factory = factory
    with caplog.at_level(logging.INFO, logger="strata.pageserver"):
        tl = server.create_timeline(T, "heal", wal_source="logstore")
        wait_until(lambda: tl.last_record_lsn == wl.lsn, what=f"at {tl.last_record_lsn}")
    assert idle.wait(5)
    mid = records[half][0]
    assert opened == [0, 0, mid, mid], opened  # each attempt resumes where ingest stopped
    assert tl.ingest_state == INGESTING
    assert failures("heal") == 3
    assert server.get(T, "heal").info()["ingest_state"] == INGESTING
    for lsn, _ in wl.commits[:: max(1, len(wl.commits) // 10)]:
        for (db, page), versions in list(wl.pages.items())[:5]:
            want = [d for v_lsn, d in versions if v_lsn <= lsn]
            got = tl.get_page(db, page, lsn)
            assert (got[1] if got else None) == (want[-1] if want else None)
    text = caplog.text
    for err in ("CancelledError", "stream broke mid-way", "acceptors restarting"):
        assert text.count(err) == 1, text
    assert "works again" in text


def test_a_persistent_failure_is_retried_with_backoff_and_logged_once(
    server: PageServer, caplog
) -> None:
    opened: list[float] = []

    def factory(tenant: str, log_timeline: str, from_lsn: int) -> AsyncIterator[tuple[int, int, bytes]]:
        opened.append(time.monotonic())

        async def gen() -> AsyncIterator[tuple[int, int, bytes]]:
            raise ConnectionError("no acceptor reachable")
            yield (0, 0, b"")  # pragma: no cover

        return gen()

    server.source_factory = factory
    with caplog.at_level(logging.INFO, logger="strata.pageserver"):
        tl = server.create_timeline(T, "down", wal_source="logstore")
        wait_until(lambda: len(opened) >= 5, what=f"{len(opened)} attempts")
    assert tl.ingest_state == "retrying: ConnectionError: no acceptor reachable"
    gaps = [b - a for a, b in zip(opened, opened[1:], strict=False)]
    assert gaps[3] > gaps[0] * 3, gaps  # backoff doubles
    assert caplog.text.count("no acceptor reachable") == 1, caplog.text
    assert failures("down") >= 4
    server.delete_timeline(T, "down")
    wait_until(lambda: tl.ingest_state == "stopped", what=tl.ingest_state)


# ---------------------------------------------------------------------- real processes


@pytest.fixture
def cluster(tmp_path: Path) -> Iterator[Cluster]:
    (tmp_path / "ls").mkdir()
    c = Cluster(tmp_path / "ls", 3)
    c.start(create_log=False)
    try:
        yield c
    finally:
        for a in c.nodes:
            if a.proc is not None and a.proc.poll() is None:
                a.proc.send_signal(signal.SIGCONT)
        c.close()


def wait_lsn(ps, timeline: str, lsn: int, timeout: float = 30) -> None:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while ps.c.timeline(T, timeline).last_record_lsn < lsn:
        assert time.monotonic() < deadline, (ps.c.timeline(T, timeline), ps.log_path.read_text()[-3000:])
        time.sleep(0.05)


def test_ingest_resumes_after_all_acceptors_restart(ps_factory, cluster: Cluster) -> None:
    with LogStoreClient(cluster.addrs) as lc:
        lc.create_log(T, "main", 0)
    prop = SyncProposer(cluster.addrs, tenant=T, timeline="main")
    try:
        prop.elect()
        wl = Workload(seed=31, start_lsn=prop.commit_lsn)
        wl.run(40)
        assert prop.append([p for _, p in wl.records]) == wl.lsn
        ps = ps_factory(None, "--logstore", ",".join(cluster.addrs)).start()
        ps.c.create_timeline(T, "main", wal_source="logstore")
        wait_lsn(ps, "main", wl.lsn)
        assert ps.c.timeline(T, "main").ingest_state == "ingesting"
        time.sleep(2.5)  # idle past the stream's idle-failover check
        prop.close()

        for a in cluster.nodes:
            a.kill()
        deadline = time.monotonic() + 10
        while not ps.c.timeline(T, "main").ingest_state.startswith("retrying: "):
            assert time.monotonic() < deadline, ps.c.timeline(T, "main")
            time.sleep(0.05)
        for a in cluster.nodes:
            a.start(wait=False)
        for a in cluster.nodes:
            a.wait_ready()

        prop = SyncProposer(cluster.addrs, tenant=T, timeline="main")
        prop.elect()
        n0 = len(wl.records)
        wl.run(40)
        assert prop.append([p for _, p in wl.records[n0:]]) == wl.lsn
        wait_lsn(ps, "main", wl.lsn)
        assert ps.c.timeline(T, "main").ingest_state == "ingesting"
        check_samples(ps, T, "main", wl, 60, seed=3, min_lsn=wl.start_lsn)
    finally:
        prop.close()


class Reader:
    """``stream_committed`` consumed on its own thread and loop; records land in ``got``."""

    def __init__(self, addrs: list[str], from_lsn: int, idle_failover_s: float) -> None:
        self.got: list[tuple[int, int, bytes]] = []
        self.error: BaseException | None = None
        self.health: list[str] = []
        self._loop = asyncio.new_event_loop()
        self._task: asyncio.Task[None] | None = None
        self._args = (addrs, from_lsn, idle_failover_s)
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        addrs, from_lsn, idle = self._args

        async def main() -> None:
            stream = stream_committed(addrs, from_lsn, tenant=T, timeline="main", subscriber="test",
                                      idle_failover_s=idle, on_health=self.health.append)
            try:
                async for rec in stream:
                    self.got.append(rec)
            finally:
                await stream.aclose()  # type: ignore[attr-defined]

        self._task = self._loop.create_task(main())
        try:
            self._loop.run_until_complete(self._task)
        except BaseException as exc:  # noqa: BLE001 - reported to the test
            self.error = exc

    def wait_end(self, lsn: int, timeout: float = 20) -> None:
        deadline = time.monotonic() + timeout
        while not self.got or self.got[-1][1] < lsn:
            assert self.error is None, repr(self.error)
            assert time.monotonic() < deadline, (self.got[-1][1] if self.got else None, lsn)
            time.sleep(0.02)

    def close(self) -> None:
        if self._task is not None:
            self._loop.call_soon_threadsafe(self._task.cancel)
        self._thread.join(5)


def payloads(n: int, tag: str) -> list[bytes]:
    return [f"{tag}-{i:05d}-".encode() * 20 for i in range(n)]


def check_exact(got: list[tuple[int, int, bytes]], want: list[bytes], start: int) -> None:
    """Every record once, in order, contiguous from ``start``."""
    assert [p for _, _, p in got] == want
    lsn = start
    for s, e, p in got:
        assert (s, e) == (lsn, lsn + len(p))
        lsn = e


def test_stream_failover_idle_stalled_and_killed_acceptors(cluster: Cluster) -> None:
    with LogStoreClient(cluster.addrs) as lc:
        lc.create_log(T, "main", 0)
    prop = SyncProposer(cluster.addrs, tenant=T, timeline="main")
    reader: Reader | None = None
    try:
        prop.elect()
        start = prop.commit_lsn
        want = payloads(30, "a")
        end = prop.append(want)
        reader = Reader(cluster.addrs, start, idle_failover_s=0.5)  # reads from nodes[0]
        reader.wait_end(end)

        # idle well past the failover check with nobody ahead: the call stays usable
        time.sleep(2.0)
        more = payloads(20, "b")
        end = prop.append(more)
        want += more
        reader.wait_end(end)
        assert reader.error is None

        # its acceptor stalls (SIGSTOP): no error, only silence; the others are ahead
        cluster.nodes[0].proc.send_signal(signal.SIGSTOP)  # type: ignore[union-attr]
        more = payloads(20, "c")
        end = prop.append(more)
        want += more
        t0 = time.monotonic()
        reader.wait_end(end, timeout=10)
        assert time.monotonic() - t0 < 5
        cluster.nodes[0].proc.send_signal(signal.SIGCONT)  # type: ignore[union-attr]

        # the acceptor it reads from now dies, then the next one: errors, failover
        for victim in (1, 2):
            subs = {i: [s.name for s in n.status().subscribers] for i, n in enumerate(cluster.nodes)
                    if n.alive()}
            serving = [i for i, names in subs.items() if "test" in names]
            assert serving, subs
            cluster.nodes[serving[0]].kill()
            more = payloads(10, f"d{victim}")
            end = prop.append(more)
            want += more
            reader.wait_end(end)
            cluster.nodes[serving[0]].start()
        check_exact(reader.got, want, start)
        assert reader.error is None
        assert reader.health and reader.health[-1] == ""
    finally:
        if reader is not None:
            reader.close()
        prop.close()
