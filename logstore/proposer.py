"""The proposer: the primary compute's side of the replicated log.

``elect()`` takes term T+1 from a majority, adopts the most advanced log among the voters
(highest (last term, flush LSN)), and brings a majority of acceptors to it (truncating
divergent tails) before returning. ``append()`` assigns consecutive LSNs and returns once a
majority fdatasync'ed the records in this term. Each acceptor has a peer task that keeps
it in sync over a pipelined append stream and re-syncs it after any failure, so one
acceptor down or slow never blocks commits.

Why commits are safe: an acceptor in term T (its history ends with T) holds a prefix of this
proposer's log, so its acked flush LSN counts; the commit LSN is the majority-th highest of
those. A record committed in T is on a majority; any later election's majority includes one
of them, and choosing the highest (last term, flush) keeps it (docs/logstore.md).
"""

from __future__ import annotations

import asyncio
import bisect
import concurrent.futures
import contextlib
import logging
import math
import os
import random
import threading
from collections import deque
from collections.abc import Awaitable, Callable, Coroutine, Sequence
from typing import Any, NoReturn, TypeVar

from logstore import history
from logstore.acceptor import MAX_RECORDS_PER_APPEND
from logstore.errors import (
    FencedError,
    InvalidRequestError,
    LogNotFoundError,
    LogstoreError,
    QuorumLostError,
    TransportError,
)
from logstore.fastappend import encode_append
from logstore.ids import check_id, log_name
from logstore.segments import MAX_PAYLOAD, payload_crc
from logstore.transport import AcceptorTransport, AppendChannel, GrpcTransport
from strata.proto import logstore_pb2 as pb

log = logging.getLogger("logstore.proposer")

T = TypeVar("T")
Waiter = asyncio.Future[int] | concurrent.futures.Future[int]
"""What a submit resolves with its end LSN once committed: the Proposer's own asyncio future,
or a caller's concurrent future (SyncProposer's: resolved straight from the ack, with no
extra callback and loop pass per commit)."""
COMMIT_NOTIFY_DELAY_S = 0.01
"""How long an idle peer waits before a message that carries only the commit LSN (for the
acceptors' subscribers). Under load the next append carries it for free; a separate message
after every commit doubled the acceptors' messages per commit. Bounds the extra replica lag
when the primary goes idle."""
TransportFactory = Callable[[str], AcceptorTransport]
CLOSE_FLUSH_S = 0.5
"""How long ``close`` waits for every acceptor to have the whole log (best effort: an
acceptor that is down catches up from the next proposer)."""


DIRECT_SENDS_ENV = "STRATA_PROPOSER_DIRECT"
"""``on`` (default) | ``off``: replicate over the fast append stream in direct mode (a
commit written to each acceptor from ``submit``, acks handled in the stream's callback)
instead of a sender and a receiver task per acceptor."""


def direct_sends_enabled() -> bool:
    return os.environ.get(DIRECT_SENDS_ENV, "on").strip().lower() != "off"


LAZY_ENV = "STRATA_PROPOSER_LAZY_MS"
"""Direct mode: how long (ms) the acceptors beyond the first majority of healthy ones (by
their order in the address list) may wait before they get new records (0: never wait). See
``Proposer._is_lazy``."""
LAZY_DEFAULT_MS = 20.0
"""On by default since issue 16 session 12: in a `strata up` cluster under TPC-B the third
log store node then gets one message (one fdatasync, one ack) per 20 ms instead of one per
commit: its CPU per transaction fell 55-65% (docs/performance.md, "Log store CPU per
transaction in the cluster (session 12)"). Costs: that node's copy of the log and its
subscribers lag up to this long, and a commit whose majority loses an acceptor that is
stalled (not disconnected) waits up to this long before the lazy one is asked."""


LAZY_MAX_BYTES = 64 << 10
"""Lazy acceptors are not held back for ``lazy_s`` after a loop pass submitted at least
this many bytes (one message per acceptor): such a batch amortizes a message's fixed cost
(the wake-ups, the fdatasync, the ack) by itself, and holding it back only made the commits
wait for the two slowest of three acceptors instead of the two fastest, and sent the third
one 1-2 MiB bursts every window that stalled the others' rounds (bench/logstore_append sync
16 writers, 128 KiB a pass: p99 7-8 ms vs 2.5-3 ms; docs/performance.md, "Log store: 16
sync writers (session 13)"). One writer's commits (8 KiB) and a cluster's (a few KiB per
commit, a few commits per pass) stay below it: their third acceptor stays lazy. (Counting
the bytes waiting for the lazy acceptor instead sent it a message every 8 commits of one
writer, +10 us of CPU per commit on each side.)"""


def lazy_seconds() -> float:
    """``STRATA_PROPOSER_LAZY_MS`` in seconds (unset or empty: LAZY_DEFAULT_MS; capped at
    100 ms). Raises ValueError naming the variable for a value that is not a finite number
    of milliseconds >= 0: a typo must not silently run with another setting."""
    raw = os.environ.get(LAZY_ENV, "").strip()
    if not raw:
        return LAZY_DEFAULT_MS / 1000
    try:
        ms = float(raw)
    except ValueError:
        ms = float("nan")
    if not math.isfinite(ms) or ms < 0:
        raise ValueError(f"{LAZY_ENV}={raw!r}: must be a number of milliseconds >= 0 (0 turns lazy acceptors off)")
    return min(ms, 100.0) / 1000


def _hist(entries: Any) -> history.History:
    return [(int(e.term), int(e.start_lsn)) for e in entries]


class _Peer:
    """The proposer's view of one acceptor in the current term."""

    def __init__(self, idx: int, transport: AcceptorTransport) -> None:
        self.idx = idx
        self.t = transport
        self.synced = False  # StartTerm done in our term; flush counts toward commit
        self.flush = 0
        self.next = 0
        self.sent_commit = 0
        self.wake = asyncio.Event()
        self.task: asyncio.Task[None] | None = None
        self.last_error = ""
        # Direct mode (a channel with ``send_now``, logstore/fastappend.py): the channel and
        # the (end LSN, sent at) of each message in flight; ``busy`` while the sender task
        # is between taking p.next and sending (a catch-up read): nothing else sends then.
        self.direct: Any = None
        self.inflight: deque[tuple[int, float]] = deque()
        self.busy = False
        self.messages = 0  # direct mode: messages written to this acceptor (tests, stats)
        self.path = ""
        """How appends reach it now: unix, tls, tcp (the fast append stream) or grpc; "": down."""

    def describe(self) -> str:
        state = f"synced flush={self.flush:#x}" if self.synced else f"down ({self.last_error or 'connecting'})"
        return f"{self.t.addr}: {state}"


class Proposer:
    """See the module docstring. Use from one asyncio loop. One Proposer writes one log,
    (``tenant``, ``timeline``), which must have been created on the acceptors
    (``logstore.client.LogStoreClient.create_log``)."""

    def __init__(
        self,
        acceptor_addrs: Sequence[str],
        deadline_s: float = 5.0,
        *,
        tenant: str,
        timeline: str,
        name: str = "proposer",
        transport_factory: TransportFactory | None = None,
        rpc_timeout_s: float | None = None,
        max_batch_bytes: int = 1 << 20,
        max_inflight_bytes: int = 8 << 20,
        max_buffer_bytes: int = 64 << 20,
        max_inflight_msgs: int = 2,
        direct_sends: bool | None = None,
        lazy_s: float | None = None,
        lazy_max_bytes: int = LAZY_MAX_BYTES,
    ) -> None:
        assert acceptor_addrs, "need at least one acceptor"
        assert len(set(acceptor_addrs)) == len(acceptor_addrs), "duplicate acceptor address"
        # A message always carries at least one record, however big (_buffered, catch-up reads).
        assert max_batch_bytes > 0 and max_buffer_bytes >= max_inflight_bytes >= max_batch_bytes
        factory = transport_factory or GrpcTransport
        check_id("tenant", tenant)
        check_id("timeline", timeline)
        self.tenant = tenant
        self.timeline = timeline
        self.name = name
        self.deadline_s = deadline_s
        self.rpc_timeout_s = rpc_timeout_s or max(0.2, min(2.0, deadline_s / 2))
        self.ack_timeout_s = max(1.0, self.rpc_timeout_s)
        self.max_batch_bytes = max_batch_bytes
        self.max_inflight_bytes = max_inflight_bytes
        self.max_buffer_bytes = max_buffer_bytes
        self._room_wanted = 0  # submits waiting for buffer room (``_make_room``)
        # Few messages in flight per acceptor: records queued meanwhile travel as one batch
        # (one message, one group-commit fsync) instead of one message each.
        self.max_inflight_msgs = max_inflight_msgs
        # Direct mode on channels that offer it (the fast append stream): see _replicate_direct.
        self.direct_sends = direct_sends_enabled() if direct_sends is None else direct_sends
        # Direct mode: acceptors past the first healthy majority get records in batches,
        # at most this long after they were submitted (_is_lazy); 0: every one at once.
        self.lazy_s = lazy_seconds() if lazy_s is None else lazy_s
        self.lazy_max_bytes = lazy_max_bytes
        self._lazy_timer: asyncio.TimerHandle | None = None
        self._pump_pending = False  # a _pump_all is scheduled for this loop pass
        self._pass_bytes = 0  # bytes submitted since the last _pump_all
        self._eager_until = 0.0  # loop time until which lazy acceptors are not held back
        # The loop this proposer runs on, known once it is built or elected there: on the hot
        # path instead of asyncio.get_running_loop(), which makes a getpid() system call in
        # Python 3.11 (~40 per round of 16 sync commits).
        self._loop: asyncio.AbstractEventLoop | None = asyncio._get_running_loop()
        # append(): (deadline, end LSN, future) in submit order, and the one timer for them.
        self._deadlines: deque[tuple[float, int, asyncio.Future[int]]] = deque()
        self._deadline_timer: asyncio.TimerHandle | None = None
        self.majority = len(acceptor_addrs) // 2 + 1
        self._peers = [_Peer(i, factory(a)) for i, a in enumerate(acceptor_addrs)]
        self.term = 0
        self.history: history.History = []
        self._end = 0  # next LSN to assign
        self._commit = 0
        self._elected = False
        self._fenced: FencedError | None = None
        # Records not yet known flushed everywhere: parallel lists from _head on.
        self._lsns: list[int] = []
        self._payloads: list[bytes] = []
        self._head = 0
        self._buf_start = 0
        self._buf_bytes = 0
        self._pending: deque[tuple[int, Waiter]] = deque()
        self._progress = asyncio.Event()
        self._space = asyncio.Event()
        # The last AppendRequest built, keyed by (term, start, end, commit): peers in step
        # send the same message, so it is built (and its records CRC'ed) once, not per peer.
        self._last_req: tuple[tuple[int, int, int, int], pb.AppendRequest] | None = None
        self._last_body: tuple[tuple[int, int, int, int], bytes] | None = None  # direct mode's
        # One timer wakes the idle senders to tell the acceptors the commit LSN, instead of
        # every sender waking (and arming its own timeout) after every commit.
        self._commit_at = 0.0  # loop time the commit LSN last moved
        self._notify_timer: asyncio.TimerHandle | None = None

    # ---- public ------------------------------------------------------------------------

    @property
    def commit_lsn(self) -> int:
        """Highest LSN known flushed on a majority (in this proposer's terms)."""
        return self._commit

    @property
    def end_lsn(self) -> int:
        """End of the last submitted record (committed or not)."""
        return self._end

    @property
    def fenced(self) -> bool:
        return self._fenced is not None

    def peer_states(self) -> list[str]:
        return [p.describe() for p in self._peers]

    def append_paths(self) -> list[str]:
        """Per acceptor (in address order), how appends reach it now: unix, tls, tcp, grpc,
        or "" while it is out of sync (compute status, tests)."""
        return [p.path if p.synced else "" for p in self._peers]

    async def elect(self) -> int:
        """Become the proposer of a fresh term; return it. Raises QuorumLostError if no
        majority voted and synced within the deadline, FencedError if already deposed."""
        if self._fenced:
            raise self._fenced
        await self._stop_peers()
        self._elected = False
        self._fail_pending(QuorumLostError("re-election; the outcome of this append is unknown"))
        loop = self._loop = asyncio.get_running_loop()
        deadline = loop.time() + self.deadline_s
        floor = self.term
        while True:
            if loop.time() >= deadline:
                raise QuorumLostError(f"no majority voted within {self.deadline_s}s: {self.peer_states()}")
            sreq = pb.StatusRequest(tenant=self.tenant, timeline=self.timeline)
            statuses = await self._gather([p.t.status(sreq, self.rpc_timeout_s) for p in self._peers])
            ok = [s for s in statuses if isinstance(s, pb.StatusResponse)]
            self._note_errors(statuses)
            missing = [s for s in statuses if isinstance(s, LogNotFoundError)]
            if len(missing) >= self.majority:
                raise LogNotFoundError(
                    f"log {log_name(self.tenant, self.timeline)} does not exist on a majority of "
                    f"acceptors (create it first): {self.peer_states()}"
                )
            if len(ok) < self.majority:
                await asyncio.sleep(0.05)
                continue
            term = max(floor, *(s.promised_term for s in ok)) + 1
            req = pb.VoteRequest(term=term, proposer=self.name, tenant=self.tenant, timeline=self.timeline)
            votes = await self._gather([p.t.vote(req, self.rpc_timeout_s) for p in self._peers])
            self._note_errors(votes)
            granted = [
                (p, v) for p, v in zip(self._peers, votes, strict=True) if isinstance(v, pb.VoteResponse) and v.granted
            ]
            if len(granted) >= self.majority:
                break
            floor = max([term] + [v.promised_term for v in votes if isinstance(v, pb.VoteResponse)])
            await asyncio.sleep(random.uniform(0.005, 0.05))  # let a racing proposer finish
        donor_peer, donor = max(granted, key=lambda pv: (history.last_term(_hist(pv[1].term_history)), pv[1].flush_lsn))
        dh = _hist(donor.term_history)
        assert history.last_term(dh) < term, (dh, term)
        self.term = term
        self.history = dh + [(term, donor.flush_lsn)]
        history.validate(self.history)
        known_commit = max(v.commit_lsn for _, v in granted)
        assert known_commit <= donor.flush_lsn, (known_commit, donor.flush_lsn)
        self._end = donor.flush_lsn
        self._commit = min(max(self._commit, known_commit), self._end)
        self._lsns, self._payloads, self._head = [], [], 0
        self._buf_start, self._buf_bytes = self._end, 0
        log.info(
            "elected",
            extra={
                "proposer": self.name,
                "term": term,
                "donor": donor_peer.t.addr,
                "end_lsn": self._end,
                "voters": [p.t.addr for p, _ in granted],
            },
        )
        votes_by_peer = {p.idx: v for p, v in granted}
        for p in self._peers:
            p.synced, p.flush, p.next, p.sent_commit, p.last_error = False, 0, 0, 0, ""
            p.task = asyncio.create_task(self._peer_main(p, votes_by_peer.get(p.idx)), name=f"peer-{p.t.addr}")
        target = self._end
        try:
            await self._wait_for(lambda: self._synced_at(target) >= self.majority, deadline)
        except QuorumLostError:
            await self._stop_peers()
            raise
        self._update_commit()
        self._elected = True
        return term

    def submit(self, payloads: list[bytes]) -> tuple[int, asyncio.Future[int]]:
        """Queue records at the next LSNs; return (end LSN, a future resolved with the end LSN
        once a majority has the records)."""
        fut: asyncio.Future[int] = (self._loop or asyncio.get_running_loop()).create_future()
        return self.submit_with(payloads, fut), fut

    def submit_with(self, payloads: list[bytes], fut: Waiter, send: bool = True) -> int:
        """``submit`` resolving the caller's future (asyncio or concurrent) instead of a new
        one; on the loop's thread. Returns the end LSN. ``send=False``: the caller submits
        more at once and calls ``send_queued`` after the last (one message for all)."""
        self.check_submit(payloads)
        end0 = self._end
        for payload in payloads:
            self._lsns.append(self._end)
            self._payloads.append(payload)
            self._end += len(payload)
            self._buf_bytes += len(payload)
        self._pass_bytes += self._end - end0
        self._pending.append((self._end, fut))
        if send:
            self.send_queued()
        return self._end

    def send_queued(self) -> None:
        """Send what was submitted: written now to peers in direct mode (no sender task
        step per commit), else their senders are woken."""
        direct = False
        for p in self._peers:
            if p.direct is None:
                p.wake.set()
            else:
                direct = True
        if direct:
            self._pump_soon()

    def _pump_soon(self) -> None:
        """Direct mode: send what waits, once, at the end of this loop pass (as a woken
        sender task would): commits submitted and acks read in the same pass share one
        message per acceptor instead of one message each."""
        if not self._pump_pending:
            self._pump_pending = True
            (self._loop or asyncio.get_running_loop()).call_soon(self._pump_all)

    def _pump_all(self) -> None:
        self._pump_pending = False
        if self._pass_bytes >= self.lazy_max_bytes and self.lazy_s:
            # Big batches: every acceptor gets each one at once for a while (_hold_back).
            self._eager_until = (self._loop or asyncio.get_running_loop()).time() + self.lazy_s
        self._pass_bytes = 0
        for p in self._peers:
            if p.direct is None:
                continue
            if self._hold_back(p):
                self._arm_lazy()
            else:
                self._pump(p)

    def _hold_back(self, p: _Peer) -> bool:
        """Whether the records waiting for ``p`` wait for the lazy timer: lazy acceptors on,
        ``p`` lazy (``_is_lazy``), and no loop pass in the last ``lazy_s`` submitted
        ``lazy_max_bytes`` or more (``_pump_all``). Big batches amortize a message by
        themselves, and holding them back from the third acceptor made every commit wait
        for the two slowest of three, then sent it 1-2 MiB bursts that stalled the others."""
        if p.idx < self.majority:
            return False  # fewer than a majority before it: never lazy (``_is_lazy``), no clock read
        return (bool(self.lazy_s) and (self._loop or asyncio.get_running_loop()).time() >= self._eager_until
                and self._is_lazy(p))

    def _is_lazy(self, p: _Peer) -> bool:
        """Whether ``p`` may get new records later (direct mode, ``lazy_s``): a majority of
        acceptors before it in the address list are in sync, in direct mode, and have no
        ack outstanding for longer than ``lazy_s``. The commit then needs none of the lazy
        ones, which get the records in one message (one fdatasync) per ``lazy_s`` instead
        of one per commit; should one of the majority stop answering, the next submit
        finds it overdue and sends to the rest at once, and the lazy timer has sent them
        the records already waiting within ``lazy_s``. Subscribers start at the first
        acceptor, which is never lazy while it is healthy."""
        now = asyncio.get_running_loop().time()
        ahead = 0
        for q in self._peers:
            if q is p:
                return ahead >= self.majority
            if (q.synced and q.direct is not None and q.direct.failed is None
                    and (not q.inflight or now - q.inflight[0][1] < self.lazy_s)):
                ahead += 1
        return False

    def _arm_lazy(self) -> None:
        if self._lazy_timer is None:
            self._lazy_timer = asyncio.get_running_loop().call_later(self.lazy_s, self._send_lazy)

    def _send_lazy(self) -> None:
        """The lazy timer: every acceptor in direct mode gets what waits for it."""
        self._lazy_timer = None
        for p in self._peers:
            if p.direct is not None:
                self._pump(p)

    def check_submit(self, payloads: list[bytes]) -> None:
        """Raise what ``submit`` would for these payloads now (deposed, not elected, bad size)."""
        if self._fenced:
            raise self._fenced
        if not self._elected:
            raise QuorumLostError("not elected: call elect() first")
        if not payloads:
            raise InvalidRequestError("nothing to append")
        for payload in payloads:
            if not payload or len(payload) > MAX_PAYLOAD:
                raise InvalidRequestError(f"record of {len(payload)} bytes (must be 1..{MAX_PAYLOAD})")

    async def append(self, payloads: list[bytes]) -> int:
        """Append records and wait until a majority has them; return their end LSN."""
        n = sum(len(p) for p in payloads)
        if self._buf_bytes > 0 and self._buf_bytes + n > self.max_buffer_bytes:
            await self._wait_space(n)
        end, fut = self.submit(payloads)
        # The future is this call's alone, so the deadline fails it directly: one timer for
        # every append waiting (deadlines come in submit order), not wait_for + shield (two
        # futures and a callback chain per commit) nor a timer armed and cancelled per call.
        loop = self._loop or asyncio.get_running_loop()
        deadlines = self._deadlines
        while deadlines and deadlines[0][2].done():  # commits come in order: the head first
            deadlines.popleft()
        deadlines.append((loop.time() + self.deadline_s, end, fut))
        if self._deadline_timer is None:
            self._deadline_timer = loop.call_at(deadlines[0][0], self._expire_due)
        return await fut

    def _expire_due(self) -> None:
        """The appends whose deadline passed fail; the timer is armed for the next one."""
        self._deadline_timer = None
        loop = asyncio.get_running_loop()
        now = loop.time()
        deadlines = self._deadlines
        try:
            while deadlines and (deadlines[0][2].done() or deadlines[0][0] <= now):
                _, end, fut = deadlines.popleft()
                self._expire(end, fut)
        finally:  # whatever happened, the later deadlines still get their timer
            if deadlines:
                self._deadline_timer = loop.call_at(deadlines[0][0], self._expire_due)

    def _expire(self, end: int, fut: asyncio.Future[int]) -> None:
        if not fut.done():
            fut.set_exception(QuorumLostError(
                f"LSN {end:#x} not acknowledged by a majority within {self.deadline_s}s "
                f"(commit LSN {self._commit:#x}): {self.peer_states()}"))

    async def wait_commit(self, end: int, fut: asyncio.Future[int]) -> int:
        try:
            return await asyncio.wait_for(asyncio.shield(fut), self.deadline_s)
        except TimeoutError:
            raise QuorumLostError(
                f"LSN {end:#x} not acknowledged by a majority within {self.deadline_s}s "
                f"(commit LSN {self._commit:#x}): {self.peer_states()}"
            ) from None

    async def close(self) -> None:
        """Stop, after giving the acceptors up to CLOSE_FLUSH_S to receive the whole log (a
        majority has every commit already; this spares a lagging acceptor the catch-up)."""
        if self._elected and not self._fenced and self._peers:
            deadline = asyncio.get_running_loop().time() + CLOSE_FLUSH_S
            with contextlib.suppress(LogstoreError):
                await self._wait_for(lambda: all(p.synced and p.flush >= self._end for p in self._peers), deadline)
        await self._stop_peers()
        self._fail_pending(QuorumLostError("proposer closed"))
        if self._deadline_timer is not None:
            self._deadline_timer.cancel()
            self._deadline_timer = None
        self._deadlines.clear()
        for p in self._peers:
            await p.t.close()

    # ---- internals ---------------------------------------------------------------------

    async def _gather(self, coros: list[Awaitable[T]]) -> list[T | BaseException]:
        return list(await asyncio.gather(*coros, return_exceptions=True))

    def _note_errors(self, results: Sequence[object]) -> None:
        for p, r in zip(self._peers, results, strict=True):
            if isinstance(r, BaseException):
                p.last_error = str(r)

    async def _wait_for(self, cond: Callable[[], bool], deadline: float) -> None:
        loop = asyncio.get_running_loop()
        while not cond():
            if self._fenced:
                raise self._fenced
            remaining = deadline - loop.time()
            if remaining <= 0:
                raise QuorumLostError(f"no majority in sync within {self.deadline_s}s: {self.peer_states()}")
            self._progress.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._progress.wait(), remaining)

    def _make_room(self, nbytes: int) -> bool:
        """Whether ``nbytes`` more fit the buffer (or it is empty: one submit may be bigger
        than the whole buffer), after dropping the committed records kept only for an acceptor
        that lacks them. Without that drop, a down acceptor kept the last commits buffered
        (below half the budget, ``_trim`` keeps what not every acceptor has) and a
        transaction bigger than the buffer waited for an empty one until its deadline."""
        if self._buf_bytes == 0 or self._buf_bytes + nbytes <= self.max_buffer_bytes:
            return True
        self._room_wanted += 1
        try:
            self._trim()
        finally:
            self._room_wanted -= 1
        return self._buf_bytes == 0 or self._buf_bytes + nbytes <= self.max_buffer_bytes

    async def _wait_space(self, nbytes: int) -> None:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.deadline_s
        if self._make_room(nbytes):
            return
        self._room_wanted += 1  # every trim meanwhile drops what is committed
        try:
            while not self._make_room(nbytes):
                if self._fenced:
                    raise self._fenced
                remaining = deadline - loop.time()
                if remaining <= 0:
                    raise QuorumLostError(f"append buffer full for {self.deadline_s}s: {self.peer_states()}")
                self._space.clear()
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._space.wait(), remaining)
        finally:
            self._room_wanted -= 1

    def _synced_at(self, lsn: int) -> int:
        return sum(1 for p in self._peers if p.synced and p.flush >= lsn)

    async def _stop_peers(self) -> None:
        tasks = [p.task for p in self._peers if p.task and p.task is not asyncio.current_task()]
        for t in tasks:
            t.cancel()
        for t in tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await t
        for p in self._peers:
            p.task = None
            p.synced = False

    def _fail_pending(self, exc: LogstoreError) -> None:
        while self._pending:
            _, fut = self._pending.popleft()
            if not fut.done():
                fut.set_exception(exc)
                fut.exception()  # mark retrieved: a caller may have given up on it

    def _fence(self, exc: FencedError) -> None:
        if self._fenced:
            return
        self._fenced = FencedError(
            f"not primary any more: term {self.term} was superseded ({exc})", exc.promised_term
        )
        log.warning("fenced", extra={"proposer": self.name, "term": self.term, "reason": str(exc)})
        self._elected = False
        self._fail_pending(self._fenced)
        self._progress.set()
        self._space.set()
        for p in self._peers:
            if p.task and p.task is not asyncio.current_task():
                p.task.cancel()

    def _update_commit(self) -> None:
        flushes = sorted((p.flush for p in self._peers if p.synced), reverse=True)
        if len(flushes) >= self.majority:
            c = flushes[self.majority - 1]
            if c > self._commit:
                assert c <= self._end, (c, self._end)
                self._commit = c
                while self._pending and self._pending[0][0] <= c:
                    end, fut = self._pending.popleft()
                    if not fut.done():
                        fut.set_result(end)
                self._commit_at = (self._loop or asyncio.get_running_loop()).time()
                self._arm_notify()
        self._trim()
        self._progress.set()

    def _arm_notify(self) -> None:
        """Wake the senders COMMIT_NOTIFY_DELAY_S from now (once, however many commits)."""
        if self._notify_timer is None:
            self._notify_timer = (self._loop or asyncio.get_running_loop()).call_later(
                COMMIT_NOTIFY_DELAY_S, self._notify_idle)

    def _notify_idle(self) -> None:
        self._notify_timer = None
        for p in self._peers:
            p.wake.set()

    def _trim(self) -> None:
        """Drop buffered records every acceptor has (or, over budget or while a submit waits
        for room, that are committed: an acceptor that lacks them reads them from another,
        ``_records_for``)."""
        low = min(p.flush for p in self._peers)
        limit = min(low, self._commit)
        if self._buf_bytes > self.max_buffer_bytes // 2 or self._room_wanted:
            limit = self._commit
        i = self._head
        while i < len(self._lsns) and self._lsns[i] + len(self._payloads[i]) <= limit:
            self._buf_bytes -= len(self._payloads[i])
            i += 1
        if i == self._head:
            return
        self._head = i
        self._buf_start = self._lsns[i] if i < len(self._lsns) else self._end
        if self._head > 1024 and self._head * 2 > len(self._lsns):
            del self._lsns[: self._head]
            del self._payloads[: self._head]
            self._head = 0
        self._space.set()

    async def _peer_main(self, p: _Peer, vote: pb.VoteResponse | None) -> None:
        """Keep one acceptor in sync for this term, forever (until cancelled or fenced)."""
        term = self.term
        backoff = 0.02
        while True:
            try:
                if vote is None:
                    vote = await p.t.vote(
                        pb.VoteRequest(
                            term=term, rejoin=True, proposer=self.name, tenant=self.tenant, timeline=self.timeline
                        ),
                        self.rpc_timeout_s,
                    )
                    if not vote.granted:
                        raise FencedError(f"{p.t.addr} promised term {vote.promised_term}", vote.promised_term)
                cut = history.common_end(_hist(vote.term_history), vote.flush_lsn, self.history, self._end)
                req = pb.StartTermRequest(
                    tenant=self.tenant,
                    timeline=self.timeline,
                    term=term,
                    term_history=[pb.TermEntry(term=t, start_lsn=s) for t, s in self.history],
                    truncate_lsn=cut,
                )
                resp = await p.t.start_term(req, self.rpc_timeout_s)
                assert resp.flush_lsn <= self._end, (resp.flush_lsn, self._end)
                p.flush = p.next = resp.flush_lsn
                p.sent_commit = 0
                p.synced = True
                p.last_error = ""
                backoff = 0.02
                self._update_commit()
                await self._replicate(p)
            except FencedError as exc:
                self._fence(exc)
                return
            except asyncio.CancelledError:
                raise
            except (LogstoreError, AssertionError) as exc:
                if isinstance(exc, AssertionError):
                    log.error("peer %s: invariant violated: %s", p.t.addr, exc)
                p.last_error = str(exc) or type(exc).__name__
                log.debug("peer %s: %s", p.t.addr, p.last_error)
            except Exception as exc:  # a transport bug must not kill the peer for good
                p.last_error = f"{type(exc).__name__}: {exc}"
                log.exception("peer %s failed", p.t.addr)
            p.synced = False
            p.path = ""
            vote = None
            self._progress.set()
            await asyncio.sleep(backoff * random.uniform(0.5, 1.0))
            backoff = min(backoff * 2, 0.5)

    async def _replicate(self, p: _Peer) -> None:
        ch = p.t.append_stream()
        if self.direct_sends and hasattr(ch, "open_direct"):
            await self._replicate_direct(p, ch)
            return
        p.path = getattr(ch, "kind", "")
        inflight: deque[tuple[int, float]] = deque()
        tasks = [
            asyncio.create_task(self._sender(p, ch, inflight)),
            asyncio.create_task(self._receiver(p, ch, inflight)),
            asyncio.create_task(self._watchdog(p, inflight)),
        ]
        await _until_one_ends(p.t.addr, tasks, on_stop=ch.cancel)

    async def _watchdog(self, p: _Peer, inflight: deque[tuple[int, float]]) -> None:
        """An ack overdue means a lost message or a stuck acceptor: start over with it."""
        loop = asyncio.get_running_loop()
        while True:
            await asyncio.sleep(self.ack_timeout_s / 4)
            if inflight and loop.time() - inflight[0][1] > self.ack_timeout_s:
                raise TransportError(f"{p.t.addr}: no ack for {self.ack_timeout_s}s")

    async def _receiver(self, p: _Peer, ch: AppendChannel, inflight: deque[tuple[int, float]]) -> None:
        while True:
            self._on_ack(p, inflight, await ch.recv())

    def _on_ack(self, p: _Peer, inflight: deque[tuple[int, float]], resp: pb.AppendResponse) -> None:
        """One acknowledgement from ``p``'s stream (the receiver task's, or in direct mode
        the channel's callback): raises TransportError if it is not the one expected."""
        if not inflight or resp.end_lsn != inflight[0][0] or resp.term != self.term:
            raise TransportError(f"{p.t.addr}: unexpected ack for {resp.end_lsn:#x}")
        inflight.popleft()
        flushed = min(resp.flush_lsn, p.next)
        if flushed > p.flush:
            p.flush = flushed
            self._update_commit()
        if self._end > p.next:
            if p.direct is None:
                p.wake.set()  # the window has room again for records waiting to go
            else:
                self._pump_soon()
        elif not inflight and self._commit > p.sent_commit:
            self._arm_notify()  # idle now: the commit LSN goes out after a quiet moment

    # ---- direct mode: sends from submit and acks from the channel's callback ------------

    async def _replicate_direct(self, p: _Peer, ch: Any) -> None:
        """``_replicate`` over a channel with ``open_direct``/``send_now``: records are
        written by ``_pump`` at the end of the loop pass in which they became sendable (a
        submit, an ack that frees the window: ``_pump_soon``, one callback for all peers
        and all commits of that pass, so they share a message as with a woken sender task)
        and acks are handled in the channel's callback, so a commit costs no task step on
        this side; a task remains for what waits (catch-up reads from another acceptor, the
        idle commit-LSN message) and the ack watchdog."""
        loop = asyncio.get_running_loop()
        failed: asyncio.Future[None] = loop.create_future()
        inflight = p.inflight = deque()

        def on_ack(resp: pb.AppendResponse) -> None:
            if p.direct is ch:
                self._on_ack(p, inflight, resp)

        def on_error(exc: LogstoreError) -> None:
            if not failed.done():
                failed.set_exception(exc)

        try:
            await ch.open_direct(on_ack, on_error)
            p.direct = ch
            p.path = getattr(ch, "kind", "")
            p.busy = False
            self._pump(p)  # before the tasks exist: they first run at the next await anyway
            tasks = [asyncio.create_task(self._direct_sender(p, ch, inflight)),
                     asyncio.create_task(self._watchdog(p, inflight))]
            await _until_one_ends(p.t.addr, tasks, also=(failed,))
        finally:
            p.direct = None
            ch.cancel()
            if failed.done() and not failed.cancelled():
                failed.exception()  # retrieved

    def _pump(self, p: _Peer) -> None:
        """Direct mode: write what ``p`` can take now from the buffer (the sender's
        ``has_data`` branch, without awaiting). Records older than the buffer need a
        catch-up read: the sender task does that."""
        ch = p.direct
        if ch is None or p.busy or ch.failed is not None:
            return
        inflight = p.inflight
        while (self._end > p.next and p.next - p.flush < self.max_inflight_bytes
               and len(inflight) < self.max_inflight_msgs):
            if p.next < self._buf_start:
                p.wake.set()
                return
            payloads = self._buffered(p.next)
            start = p.next
            p.next += sum(len(x) for x in payloads)
            inflight.append((p.next, (self._loop or asyncio.get_running_loop()).time()))
            p.sent_commit = self._commit
            p.messages += 1
            ch.send_now(self._append_body(start, p.next, payloads))

    async def _direct_sender(self, p: _Peer, ch: Any, inflight: deque[tuple[int, float]]) -> None:
        """Direct mode's task: catch-up reads and the idle commit-LSN message."""
        loop = asyncio.get_running_loop()
        while True:
            if self._hold_back(p):
                # Woken (the idle commit notice wakes every sender): a lazy acceptor still
                # gets its records from the lazy timer only, not every COMMIT_NOTIFY_DELAY_S.
                self._arm_lazy()
            else:
                self._pump(p)
            if (self._end > p.next and p.next < self._buf_start
                    and p.next - p.flush < self.max_inflight_bytes and len(inflight) < self.max_inflight_msgs):
                p.busy = True  # nobody else sends while the read is out
                try:
                    payloads = await self._records_for(p, p.next)
                finally:
                    p.busy = False
                start = p.next
                p.next += sum(len(x) for x in payloads)
                inflight.append((p.next, loop.time()))
                p.sent_commit = self._commit
                ch.send_now(self._append_request(start, p.next, payloads))
                continue
            if self._commit > p.sent_commit and not inflight and p.flush == p.next == self._end:
                if loop.time() - self._commit_at < COMMIT_NOTIFY_DELAY_S:
                    self._arm_notify()
                else:
                    p.sent_commit = self._commit
                    inflight.append((p.next, loop.time()))
                    ch.send_now(pb.AppendRequest(tenant=self.tenant, timeline=self.timeline, term=self.term,
                                                 start_lsn=p.next, commit_lsn=self._commit))
                    continue
            p.wake.clear()
            await p.wake.wait()

    async def _sender(self, p: _Peer, ch: AppendChannel, inflight: deque[tuple[int, float]]) -> None:
        loop = asyncio.get_running_loop()
        while True:
            has_data = (
                self._end > p.next
                and p.next - p.flush < self.max_inflight_bytes
                and len(inflight) < self.max_inflight_msgs
            )
            if has_data:
                payloads = await self._records_for(p, p.next)
                start = p.next
                p.next += sum(len(x) for x in payloads)
                inflight.append((p.next, loop.time()))
                p.sent_commit = self._commit
                await ch.send(self._append_request(start, p.next, payloads))
                continue
            if self._commit > p.sent_commit and not inflight and p.flush == p.next:
                # Tell the acceptor the commit LSN so subscribers can read the last records,
                # once the commit LSN stood still for a moment (else the next append carries
                # it); _notify_idle wakes this sender then.
                if loop.time() - self._commit_at < COMMIT_NOTIFY_DELAY_S:
                    self._arm_notify()
                    p.wake.clear()
                    await p.wake.wait()
                    continue
                p.sent_commit = self._commit
                inflight.append((p.next, loop.time()))
                await ch.send(
                    pb.AppendRequest(
                        tenant=self.tenant,
                        timeline=self.timeline,
                        term=self.term,
                        start_lsn=p.next,
                        commit_lsn=self._commit,
                    )
                )
                continue
            p.wake.clear()
            await p.wake.wait()

    def _append_request(self, start: int, end: int, payloads: list[bytes]) -> pb.AppendRequest:
        key = (self.term, start, end, self._commit)
        if self._last_req is not None and self._last_req[0] == key:
            return self._last_req[1]
        req = pb.AppendRequest(
            tenant=self.tenant,
            timeline=self.timeline,
            term=self.term,
            start_lsn=start,
            records=[pb.Record(payload=x, crc32c=payload_crc(x)) for x in payloads],
            commit_lsn=self._commit,
        )
        self._last_req = (key, req)
        return req

    def _append_body(self, start: int, end: int, payloads: list[bytes]) -> bytes:
        """``_append_request`` serialized (direct mode): encoded by hand
        (``fastappend.encode_append``, the same bytes), once for the peers in step."""
        key = (self.term, start, end, self._commit)
        if self._last_body is not None and self._last_body[0] == key:
            return self._last_body[1]
        body = encode_append(self.tenant, self.timeline, self.term, start, payloads,
                             [payload_crc(x) for x in payloads], self._commit)
        self._last_body = (key, body)
        return body

    def _buffered(self, start: int) -> list[bytes]:
        """Payloads from ``start`` (>= the buffer's start), at most a batch."""
        out: list[bytes] = []
        i = bisect.bisect_left(self._lsns, start, lo=self._head)
        assert i < len(self._lsns) and self._lsns[i] == start, (start, self._buf_start)
        total = 0
        while i < len(self._lsns) and total < self.max_batch_bytes and len(out) < MAX_RECORDS_PER_APPEND:
            nxt = self._payloads[i]
            if out and total + len(nxt) > self.max_batch_bytes:
                break
            out.append(nxt)
            total += len(nxt)
            i += 1
        return out

    async def _records_for(self, p: _Peer, start: int) -> list[bytes]:
        """Payloads from ``start`` (at most a batch): from the buffer, or older ones from an
        acceptor already in sync in this term (whose log up to its flush LSN is ours)."""
        if start >= self._buf_start:
            return self._buffered(start)
        out: list[bytes] = []
        sources = [q for q in self._peers if q is not p and q.synced and q.flush > start]
        random.shuffle(sources)
        for q in sources:
            try:
                resp = await q.t.read(
                    pb.ReadRequest(
                        tenant=self.tenant,
                        timeline=self.timeline,
                        from_lsn=start,
                        up_to_lsn=min(q.flush, self._buf_start),
                        max_bytes=self.max_batch_bytes,
                    ),
                    self.rpc_timeout_s,
                )
            except LogstoreError as exc:
                q.last_error = str(exc)
                continue
            lsn = start
            for rec in resp.records[:MAX_RECORDS_PER_APPEND]:
                if rec.lsn != lsn or payload_crc(rec.payload) != rec.crc32c or not rec.payload:
                    raise TransportError(f"{q.t.addr}: bad record at {rec.lsn:#x} in catch-up read")
                out.append(rec.payload)
                lsn += len(rec.payload)
            if out:
                return out
        raise TransportError(f"no acceptor in sync can serve LSN {start:#x} yet")


def new_event_loop() -> asyncio.AbstractEventLoop:
    """A uvloop loop when available (less overhead per gRPC message), else asyncio's."""
    try:
        import uvloop
    except ImportError:  # pragma: no cover - uvloop is a dependency
        return asyncio.new_event_loop()
    return uvloop.new_event_loop()


SUBMIT_WATCHDOG_S = 0.05
"""How often the SyncProposer fails submitted commits older than its deadline (seconds)."""
LOOP_OVERDRAFT_BYTES = 16 << 20
"""How far past ``max_buffer_bytes`` a submit made on the proposer's loop thread may fill the
append buffer: that thread cannot wait for room (the wait needs the loop it is running on).
Each session has at most one commit waiting for durability, so the overdraft stays small;
beyond it the submit fails like a buffer that stayed full for the whole deadline."""


class SyncProposer:
    """A Proposer for synchronous callers (the compute's writer): on its own event loop
    thread, or with ``loop=`` on a loop another thread already runs (the compute's serving
    loop: no second thread, no hop per commit). ``submit`` returns the end LSN at once and a
    concurrent future for durability.

    ``submit`` never waits for the loop thread: it reserves the LSNs under a lock (the
    Proposer assigns the same ones, in the same order) and queues the records; on the loop's
    own thread it hands them to the Proposer at once, from any other thread it wakes the loop
    (``call_soon_threadsafe``) only when the queue was empty. ``elect`` and ``close`` block
    until the loop ran them, so they are called from another thread (``close`` on the loop
    thread stops without the flush wait).
    """

    def __init__(
        self,
        acceptor_addrs: Sequence[str],
        deadline_s: float = 5.0,
        *,
        tenant: str,
        timeline: str,
        loop: asyncio.AbstractEventLoop | None = None,
        **kwargs: Any,
    ) -> None:
        check_id("tenant", tenant)
        check_id("timeline", timeline)
        if kwargs.get("lazy_s") is None:
            kwargs["lazy_s"] = lazy_seconds()  # a bad setting raises here, before a thread starts
        self.deadline_s = deadline_s
        self.shared_loop = loop is not None
        if loop is None:
            self._loop = new_event_loop()
            self._thread = threading.Thread(target=self._loop.run_forever, name="proposer", daemon=True)
            self._thread.start()
        else:
            if asyncio._get_running_loop() is loop:
                raise RuntimeError("SyncProposer(loop=...) must be built from another thread "
                                   "than the loop's (elect and close wait for the loop)")
            self._loop = loop
        self._loop_tid: int | None = None  # known once the loop ran make() below
        self._lock = threading.Lock()
        # Submitted, not yet handed to the Proposer: (payloads, reserved end LSN, future).
        self._queue: deque[tuple[list[bytes], int, concurrent.futures.Future[int]]] = deque()
        self._draining = False
        self._next = 0  # next LSN to reserve (the Proposer's end once the queue is drained)
        # Handed to the Proposer, maybe not durable yet: (deadline, end LSN, future); loop only.
        self._waiting: deque[tuple[float, int, concurrent.futures.Future[int]]] = deque()
        self._watchdog: asyncio.Task[None] | None = None
        self._closing: asyncio.Task[None] | None = None  # close() on the shared loop's thread
        # The last time (loop clock) the commit LSN moved: a commit fails only once its
        # deadline passed AND the log made no progress for a whole deadline, so a big
        # transaction (pgbench -i loads ~100 MB in one COPY) is not failed while a majority
        # is still busy acknowledging it.
        self._progress_at = 0.0
        self._seen_commit = 0
        # Set when a reserved record could not be handed over (fenced, closed): the LSNs
        # after it are void, so every later submit fails with this (the overlay must never
        # see an LSN twice).
        self._broken: LogstoreError | None = None

        async def make() -> tuple[Proposer, threading.Thread]:
            made = Proposer(acceptor_addrs, deadline_s, tenant=tenant, timeline=timeline, **kwargs)
            return made, threading.current_thread()

        self.proposer, self._thread = self._call(make())
        self._loop_tid = self._thread.ident

    def _on_loop_thread(self) -> bool:
        return threading.get_ident() == self._loop_tid

    def _call(self, coro: Coroutine[Any, Any, T]) -> T:
        if self._on_loop_thread():
            coro.close()
            raise RuntimeError("SyncProposer: a blocking call on its own loop thread would deadlock")
        return asyncio.run_coroutine_threadsafe(coro, self._loop).result()

    @property
    def commit_lsn(self) -> int:
        return self.proposer.commit_lsn

    @property
    def term(self) -> int:
        return self.proposer.term

    def elect(self) -> int:
        async def go() -> int:
            term = await self.proposer.elect()
            self._seen_commit = self.proposer.commit_lsn
            self._progress_at = self._loop.time()
            with self._lock:
                self._next = self.proposer.end_lsn
            if self._watchdog is None:
                self._watchdog = asyncio.create_task(self._expire_loop(), name="submit-watchdog")
            return term

        return self._call(go())

    def submit(self, payloads: list[bytes], fut: concurrent.futures.Future[int] | None = None
               ) -> tuple[int, concurrent.futures.Future[int]]:
        """Reserve the next LSNs for ``payloads`` and queue them; return (end LSN, a future
        resolved with it once a majority has the records, or failed after the deadline).
        ``fut``: the caller's own future to resolve (a subclass that acts on the outcome)
        instead of a new one."""
        inner = self.proposer
        if self._broken is not None:
            raise self._broken
        inner.check_submit(payloads)
        n = sum(len(p) for p in payloads)
        on_loop = self._on_loop_thread()
        if inner._buf_bytes > 0 and inner._buf_bytes + n > inner.max_buffer_bytes:
            # Buffer full (acceptors behind): wait here, before reserving anything, so that
            # running out of time fails this call and leaves the LSNs untouched.
            if not on_loop:
                self._call(inner._wait_space(n))
            elif (not inner._make_room(n)
                  and inner._buf_bytes + n > inner.max_buffer_bytes + LOOP_OVERDRAFT_BYTES):
                raise QuorumLostError(f"append buffer full ({inner._buf_bytes} bytes not yet on "
                                      f"a majority): {inner.peer_states()}")
        if fut is None:
            fut = concurrent.futures.Future()
        with self._lock:
            if self._broken is not None:
                raise self._broken
            end = self._next + n
            self._next = end
            self._queue.append((payloads, end, fut))
            wake = not self._draining
            self._draining = True
        if on_loop:
            self._drain()  # in order: records queued by other threads first, then these
        elif wake:
            self._loop.call_soon_threadsafe(self._drain)
        return end, fut

    def _drain(self) -> None:
        """Hand queued records to the Proposer in order (on the loop; a plain callback, not
        a task per wake-up: nothing here waits)."""
        inner = self.proposer
        while True:
            with self._lock:
                if not self._queue:
                    self._draining = False
                    return
                items = list(self._queue)
                self._queue.clear()
            deadline = self._loop.time() + self.deadline_s
            for i, (payloads, end, fut) in enumerate(items):
                try:
                    if self._broken is not None:
                        raise self._broken
                    if inner.end_lsn + sum(len(p) for p in payloads) != end:
                        raise QuorumLostError(
                            f"LSN reservation out of step (end {inner.end_lsn:#x}, reserved {end:#x})")
                    inner.submit_with(payloads, fut, send=False)  # the ack resolves fut directly
                except LogstoreError as exc:
                    self._fail_from(items[i:], exc)  # also empties the queue
                    break
                self._waiting.append((deadline, end, fut))
            inner.send_queued()  # one message per acceptor for all of them

    def _fail_from(self, items: list[tuple[list[bytes], int, concurrent.futures.Future[int]]],
                   exc: LogstoreError) -> None:
        """A reserved record could not be handed over: it, everything reserved after it and
        every later submit fail (its LSN range is never reused)."""
        with self._lock:
            if self._broken is None:
                self._broken = exc
            items = items + list(self._queue)
            self._queue.clear()
        for _, _, fut in items:
            _fail(fut, exc)

    async def _expire_loop(self) -> None:
        """Fail commits not acknowledged by a majority within the deadline while the commit
        LSN stood still for a whole deadline (their records stay queued in the Proposer: a
        later majority may still take them)."""
        while True:
            await asyncio.sleep(SUBMIT_WATCHDOG_S)
            now = self._loop.time()
            commit = self.proposer.commit_lsn
            if commit != self._seen_commit:
                self._seen_commit = commit
                self._progress_at = now
            stalled = now - self._progress_at >= self.deadline_s
            waiting = self._waiting
            while waiting and (waiting[0][2].done() or (stalled and waiting[0][0] <= now)):
                _, end, fut = waiting.popleft()
                if fut.done():  # acknowledged: no error to build (peer_states() per commit)
                    continue
                _fail(fut, QuorumLostError(
                    f"LSN {end:#x} not acknowledged by a majority within {self.deadline_s}s, "
                    f"no progress for {now - self._progress_at:.1f}s "
                    f"(commit LSN {self.proposer.commit_lsn:#x}): {self.proposer.peer_states()}"))

    def append(self, payloads: list[bytes]) -> int:
        _, fut = self.submit(payloads)
        return fut.result()

    def close(self) -> None:
        if self.shared_loop and self._on_loop_thread():
            self._close_now()
            return

        async def go() -> None:
            with self._lock:
                if self._broken is None:
                    self._broken = QuorumLostError("proposer closed")
            if self._watchdog is not None:
                self._watchdog.cancel()
            await self.proposer.close()
            self._fail_waiting(QuorumLostError("proposer closed"))

        self._call(go())
        if not self.shared_loop:
            self._loop.call_soon_threadsafe(self._loop.stop)
            self._thread.join(timeout=5)

    def _close_now(self) -> None:
        """``close`` on the shared loop's own thread: it cannot wait for the loop, so the
        acceptors get no flush wait (a majority has every commit already); the peers and
        transports stop in a task."""
        with self._lock:
            if self._broken is None:
                self._broken = QuorumLostError("proposer closed")
        if self._watchdog is not None:
            self._watchdog.cancel()
        inner = self.proposer
        inner._elected = False  # no flush wait in close(): nothing may wait for this loop
        self._fail_waiting(QuorumLostError("proposer closed"))
        inner._fail_pending(QuorumLostError("proposer closed"))
        self._closing = self._loop.create_task(inner.close(), name="proposer-close")

    def _fail_waiting(self, exc: LogstoreError) -> None:
        self._fail_from([], exc)
        for _, _, fut in self._waiting:
            _fail(fut, exc)
        self._waiting.clear()


def _fail(fut: concurrent.futures.Future[int], exc: LogstoreError) -> None:
    if not fut.done():
        with contextlib.suppress(concurrent.futures.InvalidStateError):  # resolved meanwhile
            fut.set_exception(exc)


async def _until_one_ends(addr: str, tasks: list[asyncio.Task[None]],
                          also: tuple[asyncio.Future[None], ...] = (),
                          on_stop: Callable[[], None] | None = None) -> NoReturn:
    """Wait until one of a replication stream's ``tasks`` (or ``also``) ends and raise its
    error (TransportError if it ended without one); cancel and reap the tasks either way,
    calling ``on_stop`` between the cancel and the reaping."""
    try:
        done, _ = await asyncio.wait([*also, *tasks], return_when=asyncio.FIRST_COMPLETED)
        for t in done:
            t.result()
        raise TransportError(f"{addr}: append stream stopped")
    finally:
        for t in tasks:
            t.cancel()
        if on_stop is not None:
            on_stop()
        for t in tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await t
