"""The proxy's health monitor polls the current, healthy primary at
``primary_monitor_interval_s`` and every other compute at ``monitor_interval_s``; the end of a
monitor connection (a crash), a topology file change and a failed server connection
(``suspect``) poll at once. In process: a real ``ProxyServer`` and fake computes that answer
the startup and ``SELECT strata_node_status()`` and count the polls."""

from __future__ import annotations

import asyncio
import json
import struct
import time
from collections.abc import Awaitable, Callable
from pathlib import Path

from proxy.config import ProxyConfig
from proxy.server import ProxyServer


def _msg(kind: bytes, body: bytes) -> bytes:
    return kind + struct.pack("!i", len(body) + 4) + body


class FakeCompute:
    """Answers a startup with AuthenticationOk + ReadyForQuery and each Query with one row:
    the status JSON of ``role``/``state``/``term``. ``polls`` counts the queries."""

    def __init__(self, role: str = "primary", term: int = 1) -> None:
        self.role = role
        self.state = "ready"
        self.term = term
        self.polls = 0
        self.poll_times: list[float] = []
        self.server: asyncio.base_events.Server | None = None
        self.writers: list[asyncio.StreamWriter] = []

    async def start(self) -> str:
        self.server = await asyncio.start_server(self._serve, "127.0.0.1", 0)
        return f"127.0.0.1:{self.server.sockets[0].getsockname()[1]}"

    def status(self) -> bytes:
        return json.dumps({"role": self.role, "state": self.state, "term": self.term,
                           "replay_lsn": 100}).encode()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.writers.append(writer)
        try:
            n = struct.unpack("!i", await reader.readexactly(4))[0]
            await reader.readexactly(n - 4)  # the startup packet
            writer.write(_msg(b"R", struct.pack("!i", 0)) + _msg(b"Z", b"I"))
            while True:
                kind = await reader.readexactly(1)
                n = struct.unpack("!i", await reader.readexactly(4))[0]
                await reader.readexactly(n - 4)
                if kind == b"X":
                    return
                self.polls += 1
                self.poll_times.append(time.monotonic())
                value = self.status()
                row = struct.pack("!h", 1) + struct.pack("!i", len(value)) + value
                writer.write(_msg(b"D", row) + _msg(b"C", b"SELECT 1\x00") + _msg(b"Z", b"I"))
        except (asyncio.IncompleteReadError, ConnectionError):
            return
        finally:
            writer.close()

    async def crash(self) -> None:
        """Stop accepting and end every connection (as a killed process)."""
        assert self.server is not None
        self.server.close()
        for w in self.writers:
            w.transport.abort()
        await self.server.wait_closed()


async def _until(cond: Callable[[], bool], timeout_s: float) -> float:
    """Seconds until ``cond()`` held; AssertionError after ``timeout_s``."""
    t0 = time.monotonic()
    while not cond():
        assert time.monotonic() - t0 < timeout_s, "condition not reached in time"
        await asyncio.sleep(0.005)
    return time.monotonic() - t0


def _run(body: Callable[[], Awaitable[None]]) -> None:
    asyncio.run(asyncio.wait_for(body(), 30))


def _proxy(primary: str, replicas: list[str], **kw: object) -> ProxyServer:
    config = ProxyConfig(listen_port=0, primary=primary, replicas=replicas, auth="trust", **kw)  # type: ignore[arg-type]
    return ProxyServer(config)


def test_the_healthy_primary_is_polled_at_its_own_interval_replicas_at_the_fast_one() -> None:
    async def body() -> None:
        primary, replica = FakeCompute("primary"), FakeCompute("replica")
        paddr, raddr = await primary.start(), await replica.start()
        proxy = _proxy(paddr, [raddr], monitor_interval_s=0.02, primary_monitor_interval_s=0.25)
        await proxy.start()
        try:
            await _until(lambda: proxy.current_primary is not None, 5)
            p0, r0 = primary.polls, replica.polls
            await asyncio.sleep(1.0)
            p, r = primary.polls - p0, replica.polls - r0
            assert 2 <= p <= 6, p      # ~4 a second at 0.25 s (was 50 at the fast interval)
            assert r >= 20, r          # the replica's replay LSN stays fresh
        finally:
            await proxy.close()

    _run(body)


def test_a_crashed_primary_leaves_the_rotation_at_once_not_at_its_next_poll() -> None:
    async def body() -> None:
        primary = FakeCompute("primary")
        paddr = await primary.start()
        proxy = _proxy(paddr, [], primary_monitor_interval_s=30.0)
        await proxy.start()
        try:
            await _until(lambda: proxy.current_primary is not None, 5)
            await asyncio.sleep(0.1)  # the monitor now waits out its 30 s interval
            b = proxy.backends[paddr]
            await primary.crash()
            took = await _until(lambda: not b.healthy, 5)
            assert took < 1.0, took
            assert proxy.current_primary is None
        finally:
            await proxy.close()

    _run(body)


def test_without_a_primary_every_compute_is_polled_fast_and_a_promotion_is_seen_quickly() -> None:
    async def body() -> None:
        old, replica = FakeCompute("primary", term=1), FakeCompute("replica", term=1)
        oaddr, raddr = await old.start(), await replica.start()
        proxy = _proxy(oaddr, [raddr], monitor_interval_s=0.02, primary_monitor_interval_s=30.0)
        await proxy.start()
        try:
            await _until(lambda: proxy.current_primary is not None, 5)
            await old.crash()
            await _until(lambda: proxy.current_primary is None, 5)
            replica.role, replica.term = "primary", 2  # promoted in place
            took = await _until(lambda: proxy.current_primary is proxy.backends[raddr], 5)
            assert took < 1.0, took
        finally:
            await proxy.close()

    _run(body)


def test_a_topology_change_and_a_suspect_poll_the_primary_at_once(tmp_path: Path) -> None:
    async def body() -> None:
        primary = FakeCompute("primary")
        paddr = await primary.start()
        topo = tmp_path / "topology.json"
        topo.write_text(json.dumps({"primary": paddr, "replicas": []}))
        config = ProxyConfig(listen_port=0, topology_file=topo, auth="trust",
                             primary_monitor_interval_s=30.0, topology_poll_s=0.05)
        proxy = ProxyServer(config)
        await proxy.start()
        try:
            await _until(lambda: proxy.current_primary is not None, 5)
            await asyncio.sleep(0.1)
            before = primary.polls
            topo.write_text(json.dumps({"primary": paddr, "replicas": [], "changed": 1}))
            await _until(lambda: primary.polls > before, 2)

            before = primary.polls
            primary.state = "fenced"
            b = proxy.backends[paddr]
            proxy.suspect(b, "a server connection died")
            await _until(lambda: primary.polls > before, 2)
            await _until(lambda: b.role == "fenced", 2)
            assert proxy.current_primary is None
        finally:
            await proxy.close()

    _run(body)
