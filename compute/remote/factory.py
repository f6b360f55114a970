"""The engine's ConnectionFactory for a compute on shared storage (primary or replica).

No durable local state: commits go to the log store quorum through the proposer
(``compute.remote.wal``), pages come from the page server through the overlay and base
cache (``compute.remote.pages``); a replica follows the log (``compute.remote.follower``).

Start-up: read the page server's ``last_record_lsn`` B, follow the log from B into the
overlay; a primary then elects the next term (adopting the log end E), follows up to E
and stops following (from then on its own submits fill the overlay). A replica keeps
following and serves snapshots at its replay LSN. ``promote`` runs the primary's
start-up steps on a running replica.
"""

from __future__ import annotations

import asyncio
import logging
import os
import sys
import threading
import time
from collections.abc import Callable, Sequence
from typing import Any

from compute.node import PROMOTING, READ_ONLY, NodeStatus, ReplicationPeer, Role
from compute.remote.follower import FatalFn, Follower, StreamFn, logstore_stream
from compute.remote.pages import FloorKeeper, PageBackend, RemotePages
from compute.remote.wal import RemoteSink, open_proposer
from compute.vfs import StrataVFS, VfsConnections
from logstore.client import LogStoreClient
from logstore.errors import LogstoreError
from logstore.proposer import SyncProposer
from pageserver.client import LeaseKeeper, PageNotFound, PageServerClient
from strata.storage import StorageError
from strata.wal import Lsn

log = logging.getLogger("strata.compute.remote")

CATCH_UP_TIMEOUT_S = 30.0
"""Bound on following the log to the elected end at start-up (a primary)."""
SETTLE_TIMEOUT_S = 1.0
"""Bound on waiting, at a clean stop, for the acceptors to learn the last commit LSN."""
FATAL_EXIT_CODE = 3
"""Exit status of a compute that cannot go on (its log follower can never resume, or its
proposer's event loop died); the control plane restarts it."""
WATCHDOG_INTERVAL_S = 0.5
"""How often the primary checks that its proposer's event loop thread lives and answers."""
PROPOSER_STALL_S = 15.0
"""A proposer event loop that runs no callback for this long counts as dead."""
PROPOSER_LOOP_ENV = "STRATA_COMPUTE_PROPOSER_LOOP"
"""``on`` (default) | ``off``: the proposer runs on the serving loop the factory is given
(``strata compute`` gives it; a factory built without one keeps the thread) instead of a
thread of its own. With the proposer's direct mode (logstore/proposer.py: no task step per
commit, one message per loop pass) the serving loop costs less than the thread's hops both
ways and GIL hand-offs: cluster TPC-B -c 8 primary 2,346 -> 2,130 us/txn, all servers
5,916 -> 5,587, tps 84 -> 94 (docs/performance.md "Cluster commit CPU, second pass"); in
session 5, with a sender and a receiver task per acceptor and a message per commit, it had
cost tps, so ``off`` is kept."""
PREWARM_ENV = "STRATA_COMPUTE_PREWARM"
"""``on`` (default) | ``off``: once the compute knows its databases, a background thread
fills the page cache with their pages from the page server while it has room
(``RemotePages.prewarm``)."""
PREWARM_JOIN_S = 5.0
"""Bound on waiting for the prewarm thread at close (it stops between GetPages calls)."""


def exit_process(message: str) -> None:
    """Exit the whole process now, non-zero, saying why (stderr and the log). From any
    thread: a compute whose log follower or proposer is gone for good must not linger as
    a zombie that answers SQL but never advances."""
    log.critical("exiting: %s", message)
    print(f"strata compute: fatal: {message}", file=sys.stderr, flush=True)
    logging.shutdown()
    os._exit(FATAL_EXIT_CODE)


class ProposerWatchdog:
    """Calls ``on_fatal`` once if the proposer's event loop thread died or has not run a
    callback for ``stall_s`` (callers would otherwise wait on it for ever)."""

    def __init__(self, proposer: SyncProposer, on_fatal: FatalFn,
                 interval_s: float = WATCHDOG_INTERVAL_S,
                 stall_s: float = PROPOSER_STALL_S) -> None:
        self.proposer = proposer
        self.on_fatal = on_fatal
        self.interval_s = interval_s
        self.stall_s = stall_s
        self._beat = time.monotonic()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="proposer-watchdog", daemon=True)

    def start(self) -> ProposerWatchdog:
        self._thread.start()
        return self

    def stop(self) -> None:
        """Before closing the proposer (its loop then stops on purpose)."""
        self._stop.set()
        if self._thread.is_alive() and threading.current_thread() is not self._thread:
            self._thread.join(self.interval_s * 4)

    def _touch(self) -> None:
        self._beat = time.monotonic()

    def _run(self) -> None:
        # SyncProposer's loop thread and loop: private, read only (logstore/proposer.py
        # offers no liveness check).
        thread, loop = self.proposer._thread, self.proposer._loop
        while not self._stop.wait(self.interval_s):
            if not thread.is_alive():
                why = "the log store proposer's event loop thread died"
            elif time.monotonic() - self._beat > self.stall_s:
                why = f"the log store proposer's event loop has not run for {self.stall_s:.0f}s"
            else:
                try:
                    loop.call_soon_threadsafe(self._touch)
                except RuntimeError:  # closed under us
                    why = "the log store proposer's event loop was closed"
                else:
                    continue
            if self._stop.is_set():
                return
            self.on_fatal(f"{why}; commits can no longer be acknowledged")
            return


class RemoteFactory(VfsConnections):
    """ConnectionFactory + node contract over the log store and the page server."""

    def __init__(
        self,
        role: Role,
        logstore_addrs: Sequence[str],
        pageserver_addr: str,
        tenant: str,
        timeline: str,
        node_name: str,
        *,
        page_cache_mb: int = 128,
        overlay_mb: int = 64,
        sqlite_cache_kib: int = 16 * 1024,
        proposer_deadline_s: float = 5.0,
        floor_interval_s: float = 0.2,
        open_stream: StreamFn | None = None,
        on_fatal: Callable[[str], None] = exit_process,
        proposer_loop: asyncio.AbstractEventLoop | None = None,
    ) -> None:
        if role not in ("primary", "replica"):
            raise ValueError(f"role must be primary or replica, not {role!r}")
        self._role: Role = role
        self._closed = False
        self.logstore_addrs = list(logstore_addrs)
        self.tenant = tenant
        self.timeline = timeline
        self.node_name = node_name
        self.proposer_deadline_s = proposer_deadline_s
        self.on_fatal = on_fatal
        # The serving loop the proposer shares (no thread of its own) unless switched off, see above.
        shared = os.environ.get(PROPOSER_LOOP_ENV, "on").strip().lower() != "off"
        self.proposer_loop = proposer_loop if shared else None
        self.watchdog: ProposerWatchdog | None = None
        self.client = PageServerClient(pageserver_addr)
        try:
            info = self.client.timeline(tenant, timeline)
        except PageNotFound as exc:
            self.client.close()
            raise StorageError(
                f"timeline {tenant}/{timeline} does not exist on the page server "
                f"{pageserver_addr} (the control plane creates it)") from exc
        except StorageError as exc:
            self.client.close()
            raise StorageError(f"page server {pageserver_addr}: {exc}") from exc
        start = int(info.last_record_lsn)
        self.backend = PageBackend(self.client, tenant, timeline)
        self.sink: RemoteSink | None = None
        self.pages = RemotePages(self.backend, start, cache_bytes=page_cache_mb << 20,
                                 overlay_bytes=overlay_mb << 20, head=self._head)
        self.pages.ingested = start
        self._open_stream = open_stream or logstore_stream(
            self.logstore_addrs, tenant, timeline, node_name)
        self.follower: Follower | None = Follower(
            self._open_stream, self.pages, start, on_fatal=on_fatal,
            whole_from_start=int(info.consistent_lsn) == start)
        self.follower.start()
        self._promote_lock = threading.Lock()
        self._promoting = False
        self.vfs = StrataVFS(self.pages, None, reader_lsn=self._head,
                             cache_kib=sqlite_cache_kib)
        try:
            if role == "primary":
                self._become_primary(CATCH_UP_TIMEOUT_S)
        except BaseException:
            self.close()
            raise
        self.leases = LeaseKeeper(self.client, tenant, timeline)
        self._leased: Lsn | None = None
        self.floor_keeper = FloorKeeper(self.pages, floor_interval_s, on_tick=self._update_lease)
        self.floor_keeper.start()
        self._prewarm_stop = threading.Event()
        self._prewarm_thread: threading.Thread | None = None

    def prewarm(self, db_ids: Sequence[int]) -> None:
        """Start filling the page cache with these databases' pages, in this order, on a
        background thread (once per process; see PREWARM_ENV)."""
        if self._prewarm_thread is not None or self._closed:
            return
        if os.environ.get(PREWARM_ENV, "on").strip().lower() == "off":
            return
        ids = list(db_ids)

        def run() -> None:
            started = time.monotonic()
            cached = 0
            for db_id in ids:
                try:
                    cached += self.pages.prewarm(db_id, self._prewarm_stop)
                except StorageError as exc:  # the page server is away: misses will fetch
                    log.info("prewarm stopped at db %d: %s", db_id, exc)
                    return
            log.info("prewarmed %d pages of %d database(s) in %.1fs", cached, len(ids),
                     time.monotonic() - started)

        self._prewarm_thread = threading.Thread(target=run, name="prewarm", daemon=True)
        self._prewarm_thread.start()

    def _update_lease(self) -> None:
        """Hold the page server's GC below the oldest LSN we read at (floor or a pin)."""
        target = self.pages.lease_target()
        if target == self._leased:
            return
        self.leases.pin(target)
        old, self._leased = self._leased, target
        if old is not None:
            self.leases.unpin(old)

    # ---- start-up / promotion ---------------------------------------------------------

    def _head(self) -> Lsn:
        sink = self.sink
        if sink is not None:
            return sink.durable_lsn
        follower = self.follower
        return follower.replay_lsn if follower is not None else self.pages.floor

    def _become_primary(self, timeout_s: float) -> None:
        """Elect the next term, replay the log up to its end, then accept writes."""
        proposer = open_proposer(self.logstore_addrs, tenant=self.tenant,
                                 timeline=self.timeline, name=self.node_name,
                                 deadline_s=self.proposer_deadline_s,
                                 loop=self.proposer_loop)
        try:
            end = proposer.proposer.end_lsn
            follower = self.follower
            assert follower is not None
            follower.stop_at(end, timeout_s)
            sink = RemoteSink(proposer, self.pages)
        except BaseException:
            proposer.close()
            raise
        self.follower = None
        # The VFS keeps its identity (open readers stay valid); it gains a sink. StrataVFS
        # reads these public attributes at each open/lock, so assigning them is enough.
        self.sink = sink
        if not proposer.shared_loop:  # on the serving loop, a stalled loop stalls SQL too
            self.watchdog = ProposerWatchdog(proposer, self.on_fatal).start()
        self.vfs.reader_lsn = lambda: sink.durable_lsn
        self.vfs.sink = sink
        self._role = "primary"
        log.info("primary in term %d at LSN %d", sink.term, end)

    def promote(self, timeout_s: float) -> None:
        if self._role == "primary":
            return
        with self._promote_lock:
            if self._role == "primary":
                return
            self._promoting = True
            started = time.monotonic()
            try:
                self._become_primary(timeout_s)
            finally:
                self._promoting = False
            log.info("promoted in %.3fs", time.monotonic() - started)

    # ---- ConnectionFactory -------------------------------------------------------------

    def durable_lsn(self) -> int:
        return self._head()

    def role(self) -> Role:
        return self._role

    def status(self) -> NodeStatus:
        sink = self.sink
        extra: dict[str, Any] = {
            "overlay_floor_lsn": self.pages.floor,
            "overlay_bytes": self.pages.overlay_bytes,
            "pageserver_ingested_lsn": self.pages.ingested,
            "get_pages_calls": self.pages.stats.get_pages_calls,
            "pages_fetched": self.pages.stats.pages_fetched,
            "prewarmed_pages": self.pages.stats.prewarmed_pages,
        }
        if sink is not None:
            # how appends reach each acceptor: unix, tls, tcp, grpc ("": out of sync)
            extra["logstore_append_paths"] = sink.proposer.proposer.append_paths()
            durable = sink.durable_lsn
            return NodeStatus(role="primary", state=sink.state, term=sink.term,
                              written_lsn=sink.written_lsn, durable_lsn=durable,
                              replay_lsn=durable, tenant=self.tenant, timeline=self.timeline,
                              detail=sink.detail, extra=extra)
        follower = self.follower
        replay = follower.replay_lsn if follower is not None else self.pages.floor
        ts = follower.last_replay_ts_us if follower is not None else 0
        detail = follower.last_error if follower is not None else ""
        return NodeStatus(role=self._role, state=PROMOTING if self._promoting else READ_ONLY,
                          written_lsn=replay, durable_lsn=replay, replay_lsn=replay,
                          last_replay_ts_us=ts, tenant=self.tenant, timeline=self.timeline,
                          detail=detail, extra=extra)

    def write_state(self) -> str:
        sink = self.sink
        if sink is not None:
            return sink.state
        return PROMOTING if self._promoting else READ_ONLY

    def replication(self) -> list[ReplicationPeer]:
        """The log's subscribers other than page servers and this node, from the acceptors
        (the highest sent LSN per name)."""
        best: dict[str, ReplicationPeer] = {}
        with LogStoreClient(self.logstore_addrs) as client:
            for addr in self.logstore_addrs:
                try:
                    status = client.log_status(addr, self.tenant, self.timeline)
                except LogstoreError as exc:
                    log.debug("log_status from %s: %s", addr, exc)
                    continue
                for sub in status.subscribers:
                    if not sub.name or sub.name == self.node_name or sub.name.startswith("pageserver"):
                        continue
                    if sub.name not in best or best[sub.name].sent_lsn < sub.sent_lsn:
                        best[sub.name] = ReplicationPeer(sub.name, sub.peer, sub.sent_lsn)
        return sorted(best.values(), key=lambda p: p.name)

    def _settle_commit_lsn(self, timeout_s: float) -> None:
        """Before a clean stop: wait (bounded) until an acceptor knows our durable LSN as
        committed, so the page server and replicas get the last commits without waiting
        for the next primary. The proposer sends the commit LSN when it goes idle."""
        sink = self.sink
        if sink is None or sink.state != "writable":
            return
        target = sink.durable_lsn
        deadline = time.monotonic() + timeout_s
        with LogStoreClient(self.logstore_addrs, timeout_s=timeout_s) as client:
            while time.monotonic() < deadline:
                try:
                    if client.commit_lsn(self.tenant, self.timeline) >= target:
                        return
                except LogstoreError:
                    return
                time.sleep(0.01)

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        keeper = getattr(self, "floor_keeper", None)
        if keeper is not None:
            keeper.stop()
        prewarm = getattr(self, "_prewarm_thread", None)
        if prewarm is not None:
            self._prewarm_stop.set()
            prewarm.join(PREWARM_JOIN_S)
        if self.follower is not None:
            self.follower.close()
        if self.sink is not None:
            self._settle_commit_lsn(SETTLE_TIMEOUT_S)
            if self.watchdog is not None:
                self.watchdog.stop()
            self.sink.close()
        leases = getattr(self, "leases", None)
        if leases is not None:
            leases.close()
        self.client.close()

