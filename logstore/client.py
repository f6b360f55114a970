"""Blocking administration client of the log store: create, delete and inspect logs, and
report the page server's remote consistent LSN per log.

Thread-safe (gRPC channels are). Every error is a ``logstore.errors`` exception whose
message names the acceptor and the log.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, TypeVar

import grpc

from logstore.errors import (
    InvalidRequestError,
    LogExistsError,
    LogNotFoundError,
    LogstoreError,
    QuorumLostError,
    TooManyLogsError,
    TransportError,
)
from logstore.fastappend import unix_socket_path as unix_socket_path  # for control/
from logstore.ids import check_id, log_name
from logstore.transport import CHANNEL_OPTIONS, map_rpc_error
from logstore.transport import UNIX_SOCKETS_ENV as UNIX_SOCKETS_ENV  # for control/
from strata.proto import logstore_pb2 as pb
from strata.proto import logstore_pb2_grpc as pb_grpc
from strata.tls import TlsFiles, channel

log = logging.getLogger("logstore.client")

T = TypeVar("T")
REPORT_TIMEOUT_S = 2.0
MAX_REPORTED_LOGS = 100_000
"""Logs whose remote consistent LSN the reporter remembers; beyond it, reports are dropped
(retention then waits for the next report)."""


@dataclass(frozen=True)
class LogInfo:
    tenant: str
    timeline: str
    start_lsn: int
    promised_term: int
    flush_lsn: int
    commit_lsn: int


@dataclass(frozen=True)
class Subscriber:
    name: str
    peer: str
    sent_lsn: int


@dataclass(frozen=True)
class LogStatus:
    promised_term: int
    flush_lsn: int
    commit_lsn: int
    first_lsn: int
    subscribers: list[Subscriber] = field(default_factory=list)
    start_lsn: int = 0
    remote_consistent_lsn: int = 0


def _info(m: pb.LogInfo) -> LogInfo:
    return LogInfo(m.tenant, m.timeline, m.start_lsn, m.promised_term, m.flush_lsn, m.commit_lsn)


class LogStoreClient:
    def __init__(self, addrs: Sequence[str], timeout_s: float = 5.0, tls: TlsFiles | None = None) -> None:
        """``tls``: this client's certificate (default: the process's, ``strata.tls``)."""
        assert addrs, "need at least one acceptor"
        self.addrs = list(addrs)
        self.timeout_s = timeout_s
        self.majority = len(self.addrs) // 2 + 1
        self.tls = tls
        self._channels = {a: channel(a, CHANNEL_OPTIONS, tls) for a in self.addrs}
        self._stubs = {a: pb_grpc.LogStoreStub(ch) for a, ch in self._channels.items()}

    def close(self) -> None:
        for ch in self._channels.values():
            ch.close()

    def __enter__(self) -> LogStoreClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _stub(self, addr: str) -> pb_grpc.LogStoreStub:
        stub = self._stubs.get(addr)
        if stub is None:
            raise InvalidRequestError(f"{addr} is not one of this client's acceptors {self.addrs}")
        return stub

    def _one(self, addr: str, call: Callable[[pb_grpc.LogStoreStub], T]) -> T:
        try:
            return call(self._stub(addr))
        except grpc.RpcError as exc:
            raise map_rpc_error(exc, addr) from None  # type: ignore[arg-type]

    def _all(self, method: str, req: Any) -> dict[str, Any]:
        """Call ``method`` on every acceptor in parallel: addr -> response or LogstoreError."""
        futures = {a: getattr(self._stubs[a], method).future(req, timeout=self.timeout_s) for a in self.addrs}
        out: dict[str, Any] = {}
        for addr, fut in futures.items():
            try:
                out[addr] = fut.result()
            except grpc.RpcError as exc:
                out[addr] = map_rpc_error(exc, addr)  # type: ignore[arg-type]
        return out

    # ---- logs --------------------------------------------------------------------------

    def create_log(self, tenant: str, timeline: str, start_lsn: int = 0) -> LogInfo:
        """Create the log on every acceptor; succeeds once a majority has it (an acceptor
        that was down is missing it: create again later, it is idempotent)."""
        check_id("tenant", tenant)
        check_id("timeline", timeline)
        results = self._all("CreateLog", pb.CreateLogRequest(tenant=tenant, timeline=timeline, start_lsn=start_lsn))
        errors = [r for r in results.values() if isinstance(r, LogstoreError)]
        for kind in (InvalidRequestError, LogExistsError):
            for err in errors:
                if isinstance(err, kind):
                    raise err
        ok = [r for r in results.values() if isinstance(r, pb.LogInfo)]
        if len(ok) >= self.majority:
            for addr, r in results.items():
                if isinstance(r, LogstoreError):
                    log.warning("log %s not created on %s: %s", log_name(tenant, timeline), addr, r)
            return _info(ok[0])
        detail = "; ".join(str(e) for e in errors)
        if any(isinstance(e, TooManyLogsError) for e in errors):
            raise TooManyLogsError(f"log {log_name(tenant, timeline)} created on {len(ok)} of {len(self.addrs)} acceptors: {detail}")
        raise QuorumLostError(
            f"log {log_name(tenant, timeline)} created on only {len(ok)} of {len(self.addrs)} acceptors: {detail}"
        )

    def delete_log(self, tenant: str, timeline: str) -> None:
        """Delete the log everywhere. Done when a majority no longer has it; LogNotFoundError
        if no acceptor had it."""
        check_id("tenant", tenant)
        check_id("timeline", timeline)
        results = self._all("DeleteLog", pb.DeleteLogRequest(tenant=tenant, timeline=timeline))
        deleted = [a for a, r in results.items() if isinstance(r, pb.DeleteLogResponse)]
        missing = [a for a, r in results.items() if isinstance(r, LogNotFoundError)]
        errors = [r for r in results.values() if isinstance(r, LogstoreError) and not isinstance(r, LogNotFoundError)]
        if not deleted and len(missing) == len(self.addrs):
            raise LogNotFoundError(f"no acceptor has log {log_name(tenant, timeline)}")
        if len(deleted) + len(missing) < self.majority:
            raise QuorumLostError(
                f"log {log_name(tenant, timeline)} deleted on only {len(deleted)} of {len(self.addrs)} "
                f"acceptors: {'; '.join(str(e) for e in errors)}"
            )

    def list_logs(self, addr: str) -> list[LogInfo]:
        resp = self._one(addr, lambda s: s.ListLogs(pb.ListLogsRequest(), timeout=self.timeout_s))
        return [_info(m) for m in resp.logs]

    def log_status(self, addr: str, tenant: str, timeline: str) -> LogStatus:
        check_id("tenant", tenant)
        check_id("timeline", timeline)
        req = pb.StatusRequest(tenant=tenant, timeline=timeline)
        r = self._one(addr, lambda s: s.Status(req, timeout=self.timeout_s))
        return LogStatus(
            promised_term=r.promised_term,
            flush_lsn=r.flush_lsn,
            commit_lsn=r.commit_lsn,
            first_lsn=r.first_lsn,
            subscribers=[Subscriber(x.name, x.peer, x.sent_lsn) for x in r.subscribers],
            start_lsn=r.start_lsn,
            remote_consistent_lsn=r.remote_consistent_lsn,
        )

    def commit_lsn(self, tenant: str, timeline: str) -> int:
        """The highest commit LSN any reachable acceptor knows for the log."""
        check_id("tenant", tenant)
        check_id("timeline", timeline)
        results = self._all("Status", pb.StatusRequest(tenant=tenant, timeline=timeline))
        ok = [r.commit_lsn for r in results.values() if isinstance(r, pb.StatusResponse)]
        if ok:
            return int(max(ok))
        errors = list(results.values())
        if all(isinstance(e, LogNotFoundError) for e in errors):
            raise LogNotFoundError(f"no acceptor has log {log_name(tenant, timeline)}")
        raise TransportError(
            f"no acceptor answered for log {log_name(tenant, timeline)}: {'; '.join(str(e) for e in errors)}"
        )

    def reporter(self) -> RemoteConsistentLsnReporter:
        return RemoteConsistentLsnReporter(self.addrs, tls=self.tls)


class RemoteConsistentLsnReporter:
    """Tells every acceptor a log's remote consistent LSN (everything below it is durable
    in object storage, so acceptors may trim segments below it). Best effort, in one
    background thread, latest value per log wins; ``report`` never blocks."""

    def __init__(self, addrs: Sequence[str], timeout_s: float = REPORT_TIMEOUT_S, tls: TlsFiles | None = None) -> None:
        self.addrs = list(addrs)
        self.timeout_s = timeout_s
        self._stubs = {a: pb_grpc.LogStoreStub(channel(a, CHANNEL_OPTIONS, tls)) for a in self.addrs}
        self._latest: dict[tuple[str, str], int] = {}
        self._sent: dict[tuple[str, str], int] = {}
        self._cond = threading.Condition()
        self._stop = False
        self._thread = threading.Thread(target=self._run, name="rcl-report", daemon=True)
        self._thread.start()

    def report(self, tenant: str, timeline: str, lsn: int) -> None:
        key = (tenant, timeline)
        with self._cond:
            if key not in self._latest and len(self._latest) >= MAX_REPORTED_LOGS:
                log.warning("remote consistent LSN of %s dropped: %d logs tracked", log_name(*key), len(self._latest))
                return
            if lsn > self._latest.get(key, 0):
                self._latest[key] = lsn
                self._cond.notify()

    def forget(self, tenant: str, timeline: str) -> None:
        with self._cond:
            self._latest.pop((tenant, timeline), None)
            self._sent.pop((tenant, timeline), None)

    def close(self) -> None:
        with self._cond:
            self._stop = True
            self._cond.notify()
        self._thread.join(timeout=5)

    def _due(self) -> list[tuple[tuple[str, str], int]]:
        return [(k, v) for k, v in self._latest.items() if v > self._sent.get(k, 0)]

    def _run(self) -> None:
        while True:
            with self._cond:
                self._cond.wait_for(lambda: self._stop or bool(self._due()))
                if self._stop:
                    return
                due = self._due()
            for (tenant, timeline), lsn in due:
                req = pb.RetentionRequest(tenant=tenant, timeline=timeline, remote_consistent_lsn=lsn)
                for addr, stub in self._stubs.items():
                    try:
                        stub.SetRemoteConsistentLsn(req, timeout=self.timeout_s)
                    except grpc.RpcError as exc:
                        log.warning(
                            "reporting remote consistent LSN %d of %s to %s: %s",
                            lsn, log_name(tenant, timeline), addr, map_rpc_error(exc, addr),  # type: ignore[arg-type]
                        )  # fmt: skip
                with self._cond:
                    self._sent[(tenant, timeline)] = max(lsn, self._sent.get((tenant, timeline), 0))
