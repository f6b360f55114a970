"""Liveness of the processes without a status poll: log store nodes, the page server, the proxy.

A frozen process (SIGSTOP, a paused container, a loop that never yields) keeps its pid and
its listening socket: the kernel still completes TCP handshakes, so "alive" and "accepts
connections" both say yes forever. Computes are covered by their status poll
(``Policy.status_hang_s``); the other kinds get a cheap call of their own here, each
answered by the code that serves real requests:

- log store node: gRPC ``Status`` with no log (the node's summary), on its event loop;
- page server: gRPC ``Status``, on one of its worker threads;
- proxy: a PostgreSQL ``GSSENCRequest``, answered ``N`` by its event loop (no TLS, no
  authentication, nothing logged; the connection is then closed).

Any gRPC answer counts, an error status included (the server's code ran): only a missed
deadline or no connection is "no answer". A probe runs on this module's own threads with a
deadline (``liveness_timeout_s``), so a frozen component never stalls the reconciler's
step, which only looks at finished probes. A component is **hung** when

1. its probes have gone unanswered for ``liveness_hang_s``, counted from the sending of the
   first unanswered one,
2. its latest probe, too, went unanswered for its whole deadline (a probe still within its
   deadline may yet answer: no verdict while one is pending), and
3. another component answered a probe sent after the first unanswered one (a witness that
   probing works: when nothing answers at all, the machine or this daemon stalled, and
   killing everything would turn a stall into an outage).

The reconciler then SIGKILLs it and restarts it through its usual restart path; log store
nodes one at a time (``QUORUM_KINDS``).
"""

from __future__ import annotations

import concurrent.futures
import socket
import struct
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

KINDS = ("logstore", "pageserver", "proxy")
"""Component kinds with a liveness probe (computes have their status poll)."""
QUORUM_KINDS = ("logstore",)
"""Kinds whose members serve together by majority: at most one is killed for liveness at a
time, and none while another member is not running. Several silent at once may share a
cause (one disk stalled under all of them); killing them one by one, each back before the
next, never takes down more of the quorum than one node, and truly frozen ones are still
all replaced, a restart apart."""
PROBE_WORKERS = 8
"""Threads running probes (their own: a hung compute's status poll holds a thread of the
reconciler's pool until the compute is killed, and must not delay these)."""
GSSENC_REQUEST = struct.pack("!ii", 8, 80877104)
"""PostgreSQL's GSSENCRequest: the proxy answers one byte, ``N``, and waits for the startup."""
PROBE_CHANNEL_OPTIONS = [
    ("grpc.initial_reconnect_backoff_ms", 50),
    ("grpc.min_reconnect_backoff_ms", 50),
    ("grpc.max_reconnect_backoff_ms", 500),
]


class ProbeFailed(Exception):
    """The component gave no answer (deadline, refused connection, closed socket)."""


class ProbeFn(Protocol):
    def __call__(self, kind: str, address: str, timeout_s: float) -> None:
        """Return once the component at ``address`` answered; ProbeFailed if it did not
        within ``timeout_s``."""
        ...


@dataclass(frozen=True)
class Target:
    """One running component to watch; ``incarnation`` (its start time) changes when the
    process is restarted, which starts its record afresh."""

    name: str
    kind: str
    address: str
    incarnation: float


@dataclass
class _Record:
    incarnation: float
    future: concurrent.futures.Future[None] | None = None
    sent_at: float = 0.0
    next_at: float = 0.0
    unanswered_since: float | None = None
    """When the first probe of the current unanswered run was sent."""
    latest_failed: bool = False
    """The latest probe went unanswered for its whole deadline (no probe pending)."""
    late_checks: int = 0
    """Checks that saw the pending probe still running past its deadline (+ one interval)."""
    overdue: bool = False
    """The pending probe's thread was still running past its deadline at two checks (a probe
    that ignores its deadline: counted as unanswered, and no second one is sent meanwhile).
    Two, so that a probe whose thread had not yet run when the clock jumped is not counted."""
    answered_at: float | None = None
    """When the latest answered probe was sent."""


class Liveness:
    """Per-component probe records; ``check`` is called once per reconciler step."""

    def __init__(self, probe: ProbeFn, clock: Callable[[], float], *, interval_s: float,
                 timeout_s: float, hang_s: float) -> None:
        self.probe = probe
        self.clock = clock
        self.interval_s = interval_s
        self.timeout_s = timeout_s
        self.hang_s = hang_s
        self._records: dict[str, _Record] = {}
        self._pool = concurrent.futures.ThreadPoolExecutor(
            max_workers=PROBE_WORKERS, thread_name_prefix="liveness")

    @property
    def enabled(self) -> bool:
        return self.hang_s > 0

    def check(self, targets: list[Target], recovering: set[str] | frozenset[str] = frozenset(),
              ) -> list[tuple[str, str]]:
        """Collect finished probes, judge, send the probes that are due. Never waits.
        Returns (name, why) of each hung component to kill (its record is dropped: its next
        incarnation starts afresh). ``recovering``: kinds with a member not running now;
        a hung member of such a kind in QUORUM_KINDS waits (is returned by a later call)."""
        if not self.enabled:
            return []
        now = self.clock()
        names = {t.name for t in targets}
        for name in [n for n in self._records if n not in names]:
            del self._records[name]  # stopped, restarting, removed: a new start, a new record
        for t in targets:
            rec = self._records.get(t.name)
            if rec is None or rec.incarnation != t.incarnation:
                self._records[t.name] = _Record(incarnation=t.incarnation, next_at=now)
            else:
                self._collect(rec, now)
        hung: list[tuple[str, str]] = []
        held = {k for k in recovering if k in QUORUM_KINDS}
        for t in targets:
            why = self._verdict(t.name, now)
            if not why or t.kind in held:
                continue
            hung.append((t.name, why))
            del self._records[t.name]
            if t.kind in QUORUM_KINDS:
                held.add(t.kind)
        for t in targets:
            rec = self._records.get(t.name)
            if rec is not None and rec.future is None and now >= rec.next_at:
                rec.future = self._pool.submit(self.probe, t.kind, t.address, self.timeout_s)
                rec.sent_at = now
                rec.overdue = False
                rec.late_checks = 0
        return hung

    def _collect(self, rec: _Record, now: float) -> None:
        fut = rec.future
        if fut is None:
            return
        if not fut.done():
            if not rec.overdue and now - rec.sent_at >= self.timeout_s + self.interval_s:
                rec.late_checks += 1
                if rec.late_checks >= 2:
                    rec.overdue = True
                    self._unanswered(rec)
            return
        rec.future = None
        rec.next_at = rec.sent_at + self.interval_s
        try:
            fut.result()
        except Exception:  # noqa: BLE001 - ProbeFailed or anything else: no answer
            if not rec.overdue:
                self._unanswered(rec)
            rec.latest_failed = True
            return
        rec.unanswered_since = None
        rec.latest_failed = False
        rec.answered_at = rec.sent_at

    def _unanswered(self, rec: _Record) -> None:
        rec.latest_failed = True
        if rec.unanswered_since is None:
            rec.unanswered_since = rec.sent_at

    def _verdict(self, name: str, now: float) -> str:
        rec = self._records[name]
        since = rec.unanswered_since
        if since is None or not rec.latest_failed or now - since < self.hang_s:
            return ""
        if rec.future is not None and not rec.overdue:
            return ""  # a probe within its deadline: it may yet answer
        witness = any(other.answered_at is not None and other.answered_at >= since
                      for n, other in self._records.items() if n != name)
        if not witness:
            return ""
        return f"hung: no answer to liveness probes for {now - since:.1f}s"

    def unanswered_s(self, name: str) -> float | None:
        """Seconds the component's probes have gone unanswered; None if it answers (or is
        not watched)."""
        rec = self._records.get(name)
        if rec is None or rec.unanswered_since is None:
            return None
        return max(0.0, self.clock() - rec.unanswered_since)

    def pending(self) -> list[concurrent.futures.Future[None]]:
        """The probes sent and not yet collected (for tests)."""
        return [r.future for r in self._records.values() if r.future is not None]

    def close(self) -> None:
        self._pool.shutdown(wait=False, cancel_futures=True)


# -- the real probes ---------------------------------------------------------------------


class Prober:
    """The probes over the network (``RealServices.probe``). gRPC channels are kept per
    address (mutual TLS with the control plane's certificate when ``tls``) and dropped after
    a failed probe, so a restarted node is reached on a fresh connection."""

    def __init__(self, tls: Any = None) -> None:
        self.tls = tls
        self._lock = threading.Lock()
        self._channels: dict[tuple[str, str], Any] = {}

    def __call__(self, kind: str, address: str, timeout_s: float) -> None:
        if kind == "proxy":
            probe_postgres(address, timeout_s)
        elif kind in ("logstore", "pageserver"):
            self._grpc_status(kind, address, timeout_s)
        else:
            raise ValueError(f"no liveness probe for {kind!r}")

    def _grpc_status(self, kind: str, address: str, timeout_s: float) -> None:
        import grpc

        key = (kind, address)
        from strata.tls import channel as make_channel

        with self._lock:
            channel: Any = self._channels.get(key)
            if channel is None:
                channel = make_channel(address, PROBE_CHANNEL_OPTIONS, self.tls)
                self._channels[key] = channel
        if kind == "logstore":
            from strata.proto import logstore_pb2 as lpb
            from strata.proto import logstore_pb2_grpc as lgrpc

            call = lambda: lgrpc.LogStoreStub(channel).Status(  # noqa: E731
                lpb.StatusRequest(), timeout=timeout_s)
        else:
            from strata.proto import pageserver_pb2 as ppb
            from strata.proto import pageserver_pb2_grpc as pgrpc

            call = lambda: pgrpc.PageServerStub(channel).Status(  # noqa: E731
                ppb.StatusRequest(), timeout=timeout_s)
        try:
            call()
        except grpc.RpcError as exc:
            code = exc.code() if hasattr(exc, "code") else None
            if code in (grpc.StatusCode.DEADLINE_EXCEEDED, grpc.StatusCode.UNAVAILABLE, None):
                with self._lock:
                    if self._channels.get(key) is channel:
                        del self._channels[key]
                channel.close()
                raise ProbeFailed(f"{kind} {address}: {code}") from exc
            # any other status is an answer from the server's own code (e.g. a refused role)

    def close(self) -> None:
        with self._lock:
            channels, self._channels = list(self._channels.values()), {}
        for ch in channels:
            ch.close()


def probe_postgres(address: str, timeout_s: float) -> None:
    """A PostgreSQL front end's answer to GSSENCRequest (``N`` or ``G``) within ``timeout_s``."""
    host, _, port = address.rpartition(":")
    deadline = time.monotonic() + timeout_s
    try:
        with socket.create_connection((host, int(port)), timeout_s) as sock:
            sock.settimeout(max(0.001, deadline - time.monotonic()))
            sock.sendall(GSSENC_REQUEST)
            answer = sock.recv(1)
    except OSError as exc:
        raise ProbeFailed(f"{address}: {exc}") from exc
    if answer not in (b"N", b"G"):
        raise ProbeFailed(f"{address}: answered {answer!r} to GSSENCRequest")
