"""A synchronous page server client for computes (safe to share across SQLite VFS threads).

``PageServerClient(addr)`` wraps one gRPC channel. ``client.page_store(tenant, timeline)``
gives a ``strata.storage.PageStore`` bound to one timeline, whose pins are LSN leases kept
alive by a ``LeaseKeeper``.
"""

from __future__ import annotations

import json
import logging
import threading
from dataclasses import dataclass
from typing import Any

import grpc

from strata.proto import pageserver_pb2 as pb
from strata.proto import pageserver_pb2_grpc as pb_grpc
from strata.storage import PageUnavailableError, StorageError
from strata.tls import TlsFiles, channel
from strata.wal import Lsn

log = logging.getLogger("strata.pageserver.client")

MAX_PAGES_PER_BATCH = 256
"""The server's limit on pages per GetPages call (``pageserver.server``); ``get_pages``
splits longer lists into calls of at most this many."""
DEFAULT_LEASE_TTL_S = 30.0
"""Lease length a ``LeaseKeeper`` asks for; it renews every third of it."""
PIN_RETRIES = 3
"""Attempts of a non-exact pin racing with GC moving the cutoff."""


class PageServerError(StorageError):
    """A page server call failed; ``code`` is the gRPC status code."""

    def __init__(self, code: grpc.StatusCode, message: str) -> None:
        super().__init__(f"{code.name}: {message}")
        self.code = code
        self.details = message


class PageNotFound(PageServerError):
    """Unknown tenant or timeline."""


class LsnNotReached(PageServerError, PageUnavailableError):
    """The page server did not ingest the LSN within the wait bound."""


class ServerUnavailable(PageServerError, PageUnavailableError):
    """The page server cannot be reached."""


class LsnInFuture(PageServerError):
    """CreateTimeline: the ancestor had not ingested the branch LSN within the wait bound."""


class HasChildren(PageServerError):
    """DeleteTimeline: the timeline has child timelines (branches) to delete first."""


class TooManyLeases(PageServerError):
    """The timeline holds the maximum number of LSN leases."""


class InvalidRequest(PageServerError):
    """The server refused the arguments (bad ids, too many pages, malformed message)."""


class PagePastEnd(PageServerError):
    """The page number is at or past the end of the database at that LSN."""


class LsnBelowGc(PageServerError):
    """The LSN is older than the timeline's retention window."""


_ERRORS: dict[grpc.StatusCode, type[PageServerError]] = {
    grpc.StatusCode.NOT_FOUND: PageNotFound,
    grpc.StatusCode.DEADLINE_EXCEEDED: LsnNotReached,
    grpc.StatusCode.OUT_OF_RANGE: PagePastEnd,
    grpc.StatusCode.FAILED_PRECONDITION: LsnBelowGc,
    grpc.StatusCode.UNAVAILABLE: ServerUnavailable,
    grpc.StatusCode.RESOURCE_EXHAUSTED: TooManyLeases,
    grpc.StatusCode.INVALID_ARGUMENT: InvalidRequest,
}


def _wrap(exc: grpc.RpcError) -> PageServerError:
    code = exc.code()  # type: ignore[attr-defined]
    details = exc.details() or ""  # type: ignore[attr-defined]
    return _ERRORS.get(code, PageServerError)(code, details)


@dataclass(frozen=True)
class TimelineInfo:
    tenant: str
    timeline: str
    ancestor_timeline: str
    ancestor_lsn: int
    last_record_lsn: int
    remote_consistent_lsn: int
    gc_cutoff_lsn: int
    wal_source: str
    log_timeline: str
    layers_delta: int
    layers_image: int
    received_lsn: int
    last_commit_ts_us: int
    ingest_state: str = ""
    consistent_lsn: int = 0
    """No transaction half-ingested at or below it; == last_record_lsn: a transaction
    boundary (0 from a page server that predates the field)."""

    @classmethod
    def from_pb(cls, m: pb.TimelineInfo) -> TimelineInfo:
        return cls(**{f: getattr(m, f) for f in cls.__dataclass_fields__})


class PageServerClient:
    """Blocking calls over one channel; gRPC channels are thread-safe."""

    def __init__(self, addr: str, timeout_s: float = 30.0, tls: TlsFiles | None = None) -> None:
        """``tls``: this client's certificate (default: the process's, ``strata.tls``)."""
        self.addr = addr
        self.timeout_s = timeout_s
        self._channel = channel(
            addr,
            [
                ("grpc.max_receive_message_length", 64 * 1024 * 1024),
                ("grpc.max_send_message_length", 64 * 1024 * 1024),
            ],
            tls,
        )
        self._stub = pb_grpc.PageServerStub(self._channel)

    def close(self) -> None:
        self._channel.close()

    def __enter__(self) -> PageServerClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _call(self, method: Any, request: Any, timeout: float | None = None) -> Any:
        try:
            return method(request, timeout=timeout or self.timeout_s)
        except grpc.RpcError as exc:
            raise _wrap(exc) from None

    def get_page(
        self, tenant: str, timeline: str, db_id: int, page_no: int, lsn: Lsn, wait_ms: int = 0
    ) -> bytes | None:
        """The page as of ``lsn``; None if it was never written (within the db size)."""
        resp = self._call(
            self._stub.GetPage,
            pb.GetPageRequest(
                tenant=tenant, timeline=timeline, db_id=db_id, page_no=page_no, lsn=lsn,
                wait_ms=wait_ms,
            ),
        )  # fmt: skip
        return bytes(resp.data) if resp.exists else None

    def get_pages(
        self,
        tenant: str,
        timeline: str,
        db_id: int,
        page_nos: list[int],
        lsn: Lsn,
        wait_ms: int = 0,
    ) -> list[bytes | None]:
        """Pages as of ``lsn`` in the order asked; None for a page never written or past
        the end of the database. One GetPages call per ``MAX_PAGES_PER_BATCH`` pages."""
        out: list[bytes | None] = []
        for i in range(0, len(page_nos), MAX_PAGES_PER_BATCH):
            resp = self._call(
                self._stub.GetPages,
                pb.GetPagesRequest(
                    tenant=tenant, timeline=timeline, db_id=db_id,
                    page_nos=page_nos[i : i + MAX_PAGES_PER_BATCH], lsn=lsn, wait_ms=wait_ms,
                ),
            )  # fmt: skip
            out.extend(bytes(p.data) if p.exists else None for p in resp.pages)
        return out

    def db_size(self, tenant: str, timeline: str, db_id: int, lsn: Lsn, wait_ms: int = 0) -> int:
        resp = self._call(
            self._stub.DbSize,
            pb.DbSizeRequest(
                tenant=tenant, timeline=timeline, db_id=db_id, lsn=lsn, wait_ms=wait_ms
            ),
        )
        return int(resp.pages)

    def create_timeline(
        self,
        tenant: str,
        timeline: str = "",
        *,
        ancestor: str = "",
        ancestor_lsn: Lsn = 0,
        ancestor_timestamp_us: int = 0,
        wal_source: str = "push",
        log_timeline: str = "",
        wait_ms: int = 0,
    ) -> TimelineInfo:
        """Raises ``LsnInFuture`` if the ancestor has not ingested ``ancestor_lsn`` within
        ``wait_ms`` (0 = the server's default wait)."""
        req = pb.CreateTimelineRequest(
            tenant=tenant, timeline=timeline, ancestor_timeline=ancestor,
            ancestor_lsn=ancestor_lsn, ancestor_timestamp_us=ancestor_timestamp_us,
            wal_source=wal_source, log_timeline=log_timeline, wait_ms=wait_ms,
        )  # fmt: skip
        try:
            resp = self._call(self._stub.CreateTimeline, req, timeout=self.timeout_s + 60)
        except PagePastEnd as exc:
            raise LsnInFuture(exc.code, exc.details) from None
        return TimelineInfo.from_pb(resp)

    def delete_timeline(self, tenant: str, timeline: str) -> None:
        """Remove a timeline: ``HasChildren`` if it has branches, ``PageNotFound`` if
        unknown."""
        try:
            self._call(
                self._stub.DeleteTimeline,
                pb.DeleteTimelineRequest(tenant=tenant, timeline=timeline),
                timeout=max(self.timeout_s, 150.0),
            )
        except LsnBelowGc as exc:  # FAILED_PRECONDITION here means children
            raise HasChildren(exc.code, exc.details) from None

    def lease_lsn(self, tenant: str, timeline: str, lsn: Lsn, ttl_s: float) -> float:
        """Keep ``lsn`` readable (GC stays below it) for ``ttl_s``; returns the expiry in
        unix seconds. ``LsnBelowGc`` if it is already below the GC cutoff."""
        resp = self._call(
            self._stub.LeaseLsn,
            pb.LeaseLsnRequest(
                tenant=tenant, timeline=timeline, lsn=lsn, ttl_ms=max(1, int(ttl_s * 1000))
            ),
        )
        return int(resp.valid_until_ms) / 1000.0

    def list_timelines(self, tenant: str = "") -> list[TimelineInfo]:
        resp = self._call(self._stub.ListTimelines, pb.ListTimelinesRequest(tenant=tenant))
        return [TimelineInfo.from_pb(t) for t in resp.timelines]

    def timeline(self, tenant: str, timeline: str) -> TimelineInfo:
        """One timeline's info (``last_record_lsn``: how far it has ingested)."""
        resp = self._call(
            self._stub.GetTimeline, pb.GetTimelineRequest(tenant=tenant, timeline=timeline)
        )
        return TimelineInfo.from_pb(resp)

    def status(self) -> dict[str, Any]:
        resp = self._call(self._stub.Status, pb.StatusRequest())
        return {f.name: getattr(resp, f.name) for f in resp.DESCRIPTOR.fields}

    def ingest(self, tenant: str, timeline: str, records: list[tuple[Lsn, bytes]]) -> Lsn:
        """Push WAL records (start LSN, payload) to a push-fed timeline; returns the applied
        (readable) LSN, which is not durable: see ``ingest_wal``."""
        return self.ingest_wal(tenant, timeline, records)[0]

    def ingest_wal(
        self, tenant: str, timeline: str, records: list[tuple[Lsn, bytes]]
    ) -> tuple[Lsn, Lsn]:
        """Push WAL records; returns (applied LSN, durable LSN). Only WAL at or below the
        durable LSN (in uploaded layers) survives a page server restart: keep the rest."""
        resp = self._call(
            self._stub.IngestWal,
            pb.IngestWalRequest(
                tenant=tenant,
                timeline=timeline,
                records=[pb.WalRecordMsg(start_lsn=s, payload=p) for s, p in records],
            ),
        )
        return int(resp.last_record_lsn), int(resp.durable_lsn)

    def maintenance(self, tenant: str, timeline: str, op: str) -> dict[str, Any]:
        resp = self._call(
            self._stub.Maintenance,
            pb.MaintenanceRequest(tenant=tenant, timeline=timeline, op=op),
            timeout=300,
        )
        result: dict[str, Any] = json.loads(resp.result)
        return result

    def page_store(
        self, tenant: str, timeline: str, lease_ttl_s: float = DEFAULT_LEASE_TTL_S
    ) -> TimelinePageStore:
        return TimelinePageStore(self, tenant, timeline, lease_ttl_s)


class LeaseKeeper:
    """Counted pins of LSNs on one timeline, each backed by a page server lease.

    The first pin of an LSN leases it at once (so a pin below the GC cutoff fails right
    there); one background thread renews the leases of every pinned LSN each ``ttl_s / 3``.
    The last unpin just stops renewing: the lease runs out by itself. Thread-safe.
    """

    def __init__(
        self,
        client: PageServerClient,
        tenant: str,
        timeline: str,
        ttl_s: float = DEFAULT_LEASE_TTL_S,
    ) -> None:
        self.client = client
        self.tenant = tenant
        self.timeline = timeline
        self.ttl_s = ttl_s
        self._pins: dict[Lsn, int] = {}
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def pin(self, lsn: Lsn) -> None:
        """Pin ``lsn``; raises ``LsnBelowGc`` (a ``StorageError``) if it is not readable."""
        with self._lock:
            if lsn in self._pins:
                self._pins[lsn] += 1
                return
        self.client.lease_lsn(self.tenant, self.timeline, lsn, self.ttl_s)
        with self._lock:
            self._pins[lsn] = self._pins.get(lsn, 0) + 1
            if self._thread is None and not self._stop.is_set():
                self._thread = threading.Thread(
                    target=self._renew, name=f"leases-{self.timeline}", daemon=True
                )
                self._thread.start()

    def unpin(self, lsn: Lsn) -> None:
        with self._lock:
            n = self._pins.get(lsn, 0)
            if n == 0:
                raise ValueError(f"LSN {lsn} is not pinned")
            if n == 1:
                del self._pins[lsn]
            else:
                self._pins[lsn] = n - 1

    def pinned(self) -> dict[Lsn, int]:
        with self._lock:
            return dict(self._pins)

    def close(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)

    def _renew(self) -> None:
        while not self._stop.wait(self.ttl_s / 3):
            for lsn in self.pinned():
                try:
                    self.client.lease_lsn(self.tenant, self.timeline, lsn, self.ttl_s)
                except StorageError as exc:  # keep trying; reads will report the real error
                    log.warning("renewing lease of LSN %d on %s: %s", lsn, self.timeline, exc)
                except ValueError:  # grpc: the client's channel was closed
                    return


class TimelinePageStore:
    """``strata.storage.PageStore`` over one timeline of a page server; pins are leases."""

    def __init__(
        self,
        client: PageServerClient,
        tenant: str,
        timeline: str,
        lease_ttl_s: float = DEFAULT_LEASE_TTL_S,
    ) -> None:
        self.client = client
        self.tenant = tenant
        self.timeline = timeline
        self.leases = LeaseKeeper(client, tenant, timeline, lease_ttl_s)

    def get_page(self, db_id: int, page_no: int, lsn: Lsn) -> bytes | None:
        return self.client.get_page(self.tenant, self.timeline, db_id, page_no, lsn)

    def get_pages(self, db_id: int, page_nos: list[int], lsn: Lsn) -> list[bytes | None]:
        return self.client.get_pages(self.tenant, self.timeline, db_id, page_nos, lsn)

    def db_size(self, db_id: int, lsn: Lsn) -> int:
        return self.client.db_size(self.tenant, self.timeline, db_id, lsn)

    def pin(self, lsn: Lsn, exact: bool = True) -> Lsn:
        """Lease ``lsn``; with ``exact=False`` an LSN below the GC cutoff pins the cutoff
        instead (the oldest readable LSN at or above ``lsn``)."""
        if exact:
            self.leases.pin(lsn)
            return lsn
        at = lsn
        for _ in range(PIN_RETRIES):
            try:
                self.leases.pin(at)
                return at
            except LsnBelowGc:  # GC moved on; retry at the current cutoff
                at = max(lsn, self.client.timeline(self.tenant, self.timeline).gc_cutoff_lsn)
        self.leases.pin(at)
        return at

    def unpin(self, lsn: Lsn) -> None:
        self.leases.unpin(lsn)

    def close(self) -> None:
        self.leases.close()
