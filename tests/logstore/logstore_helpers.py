"""Helpers for the log store tests: real acceptor processes on 127.0.0.1, log readers."""

from __future__ import annotations

import asyncio
import os
import random
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING

import grpc

from strata.proto import logstore_pb2 as pb
from strata.proto import logstore_pb2_grpc as pb_grpc
from tests.support import free_port as support_free_port

if TYPE_CHECKING:
    from logstore import Proposer

REPO = Path(__file__).resolve().parents[2]
T = "t"
TL = "main"
LOG = {"tenant": T, "timeline": TL}
"""The log most tests use; ``Cluster.start`` creates it."""


def free_port() -> int:
    """``tests.support.free_port``: below the ephemeral range and never handed out twice (a CI
    run gave two acceptors of one cluster the same port when each asked the kernel for port 0)."""
    return support_free_port()


class AcceptorProc:
    """One `strata logstore` process; keeps its port and data dir across restarts."""

    def __init__(self, node_id: int, root: Path, extra: list[str] | None = None) -> None:
        self.node_id = node_id
        self.port = free_port()
        self.data_dir = root / f"acceptor-{node_id}"
        self.log_path = root / f"acceptor-{node_id}.log"
        self.extra = extra or []
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def addr(self) -> str:
        return f"127.0.0.1:{self.port}"

    def start(self, wait: bool = True) -> None:
        assert self.proc is None or self.proc.poll() is not None
        cmd = [
            sys.executable, "-m", "strata.cli", "logstore",
            "--id", str(self.node_id), "--listen", self.addr, "--data-dir", str(self.data_dir),
            "--insecure", *self.extra,
        ]  # fmt: skip
        with open(self.log_path, "ab") as log:
            self.proc = subprocess.Popen(cmd, cwd=REPO, stdout=log, stderr=log, env={**os.environ, "PYTHONPATH": str(REPO)})
        if wait:
            self.wait_ready()

    def log_dir(self, tenant: str = T, timeline: str = TL) -> Path:
        return self.data_dir / "logs" / tenant / timeline

    def wait_ready(self, timeout: float = 20.0) -> pb.StatusResponse:
        deadline = time.monotonic() + timeout
        while True:
            assert self.proc is not None
            if self.proc.poll() is not None:
                raise RuntimeError(f"acceptor {self.node_id} exited {self.proc.returncode}: {self.log_tail()}")
            try:
                return self.node_status(timeout=0.5)
            except grpc.RpcError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.05)

    def status(self, timeout: float = 2.0, tenant: str = T, timeline: str = TL) -> pb.StatusResponse:
        """One log's status (the default log unless told)."""
        with grpc.insecure_channel(self.addr) as ch:
            req = pb.StatusRequest(tenant=tenant, timeline=timeline)
            resp: pb.StatusResponse = pb_grpc.LogStoreStub(ch).Status(req, timeout=timeout)
            return resp

    def node_status(self, timeout: float = 2.0) -> pb.StatusResponse:
        with grpc.insecure_channel(self.addr) as ch:
            resp: pb.StatusResponse = pb_grpc.LogStoreStub(ch).Status(pb.StatusRequest(), timeout=timeout)
            return resp

    def kill(self) -> None:
        """SIGKILL: no chance to flush or save anything."""
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait(10)

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.kill()

    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def log_tail(self, n: int = 4000) -> str:
        try:
            return self.log_path.read_text(errors="replace")[-n:]
        except FileNotFoundError:
            return ""


class Cluster:
    def __init__(self, root: Path, n: int = 3, extra: list[str] | None = None) -> None:
        self.nodes = [AcceptorProc(i + 1, root, extra) for i in range(n)]

    @property
    def addrs(self) -> list[str]:
        return [a.addr for a in self.nodes]

    def start(self, create_log: bool = True) -> None:
        """Start every acceptor and create the default log (T, TL) at LSN 0 on all."""
        for a in self.nodes:
            a.start(wait=False)
        for a in self.nodes:
            a.wait_ready()
        if create_log:
            self.create_log(T, TL)

    def create_log(self, tenant: str, timeline: str, start_lsn: int = 0) -> None:
        from logstore.client import LogStoreClient

        with LogStoreClient(self.addrs) as client:
            info = client.create_log(tenant, timeline, start_lsn)
            assert info.start_lsn == start_lsn

    def close(self) -> None:
        for a in self.nodes:
            a.kill()


async def read_log(
    addr: str, up_to: int | None = None, *, tenant: str = T, timeline: str = TL, from_lsn: int = 0
) -> list[tuple[int, int, bytes]]:
    """Every durable record (lsn, term, payload) of a log on one acceptor, through Read."""
    out: list[tuple[int, int, bytes]] = []
    lsn = from_lsn
    async with grpc.aio.insecure_channel(addr) as ch:
        stub = pb_grpc.LogStoreStub(ch)
        while True:
            req = pb.ReadRequest(tenant=tenant, timeline=timeline, from_lsn=lsn, up_to_lsn=up_to or 0, max_bytes=1 << 20)
            resp = await stub.Read(req, timeout=10)
            if not resp.records:
                return out
            for r in resp.records:
                assert r.lsn == lsn, (r.lsn, lsn)
                out.append((r.lsn, r.term, r.payload))
                lsn += len(r.payload)


async def wait_flush(
    addrs: list[str], lsn: int, timeout: float = 30.0, term: int = 0, *, tenant: str = T, timeline: str = TL
) -> None:
    """Wait until every acceptor has the log up to ``lsn`` durable (catch-up done), in
    ``term`` if given (its last term history entry)."""
    deadline = time.monotonic() + timeout
    pending = list(addrs)
    while pending:
        still = []
        for addr in pending:
            try:
                async with grpc.aio.insecure_channel(addr) as ch:
                    req = pb.StatusRequest(tenant=tenant, timeline=timeline)
                    st = await pb_grpc.LogStoreStub(ch).Status(req, timeout=1)
                last_term = st.term_history[-1].term if st.term_history else 0
                if st.flush_lsn < lsn or (term and last_term != term):
                    still.append(addr)
            except grpc.aio.AioRpcError:
                still.append(addr)
        pending = still
        if pending:
            assert time.monotonic() < deadline, f"acceptors {pending} did not reach LSN {lsn:#x}"
            await asyncio.sleep(0.05)


def payload_for(i: int, size: int) -> bytes:
    """Deterministic record content, distinct per index."""
    head = f"rec-{i:08d}-".encode()
    body = (head * (size // len(head) + 1))[:size]
    return body


def record_syncs(monkeypatch: object) -> list[str]:
    """fdatasync/fsync and file creations, in order, by file name."""
    events: list[str] = []
    real_fdatasync, real_fsync, real_open = os.fdatasync, os.fsync, os.open

    def name(fd: int) -> str:
        return os.readlink(f"/proc/self/fd/{fd}").rsplit("/", 1)[-1]

    def fdatasync(fd: int) -> None:
        events.append(f"fdatasync {name(fd)}")
        real_fdatasync(fd)

    def fsync(fd: int) -> None:
        events.append(f"fsync {name(fd)}")
        real_fsync(fd)

    def open_(path: object, flags: int, *args: int) -> int:
        if flags & os.O_CREAT:
            events.append(f"create {str(path).rsplit('/', 1)[-1]}")
        return real_open(path, flags, *args)  # type: ignore[arg-type]

    monkeypatch.setattr(os, "fdatasync", fdatasync)  # type: ignore[attr-defined]
    monkeypatch.setattr(os, "fsync", fsync)  # type: ignore[attr-defined]
    monkeypatch.setattr(os, "open", open_)  # type: ignore[attr-defined]
    return events


Acked = dict[int, tuple[int, bytes]]
"""Record index -> (its end LSN, its payload), once a majority acknowledged it."""


async def append_indexed(p: Proposer, sizes: list[int], rng: random.Random, writers: int,
                         acked: Acked) -> None:
    """``writers`` concurrent tasks append records 0..len(sizes)-1 (``payload_for``), one to
    four per submit, in index order (LSN order == index order); each lands in ``acked``
    once acknowledged. Fault tests run it beside whatever kills nodes."""
    next_index = 0
    lock = asyncio.Lock()
    n = len(sizes)

    async def writer() -> None:
        nonlocal next_index
        while True:
            async with lock:
                if next_index >= n:
                    return
                batch = list(range(next_index, min(next_index + rng.randint(1, 4), n)))
                next_index = batch[-1] + 1
                payloads = [payload_for(i, sizes[i]) for i in batch]
                end, fut = p.submit(payloads)
            await p.wait_commit(end, fut)
            pos = end
            for i, pl in zip(reversed(batch), reversed(payloads), strict=True):
                acked[i] = (pos, pl)
                pos -= len(pl)

    await asyncio.gather(*(writer() for _ in range(writers)))


async def check_every_log(addrs: list[str], sizes: list[int], acked: Acked) -> None:
    """Every acknowledged record is on every acceptor (after catch-up), byte-identical, at
    the LSN it was acknowledged at, and nothing else is."""
    assert len(acked) == len(sizes)
    end = max(e for e, _ in acked.values())
    await wait_flush(addrs, end, timeout=60)
    expected = [payload_for(i, size) for i, size in enumerate(sizes)]
    for addr in addrs:
        log = await read_log(addr)
        assert [x[2] for x in log] == expected, addr
        lsn = 0
        for i, (start, _, payload) in enumerate(log):
            assert start == lsn
            lsn += len(payload)
            assert acked[i][0] == lsn


def read_frames(sock: socket.socket) -> list[tuple[int, bytes]]:
    """Every fast append frame (kind, body) the server sends until it closes ``sock``."""
    from logstore.fastappend import HEADER

    data = b""
    sock.settimeout(10)
    while chunk := sock.recv(1 << 16):
        data += chunk
    out, pos = [], 0
    while pos < len(data):
        n, kind = HEADER.unpack_from(data, pos)
        out.append((kind, data[pos + HEADER.size : pos + HEADER.size + n]))
        pos += HEADER.size + n
    return out
