"""A synchronous page server client for computes (safe to share across SQLite VFS threads).

``PageServerClient(addr)`` wraps one gRPC channel. ``client.page_store(tenant, timeline)``
gives a ``strata.storage.PageStore`` bound to one timeline.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import grpc

from strata.proto import pageserver_pb2 as pb
from strata.proto import pageserver_pb2_grpc as pb_grpc
from strata.storage import StorageError
from strata.wal import Lsn


class PageServerError(StorageError):
    """A page server call failed; ``code`` is the gRPC status code."""

    def __init__(self, code: grpc.StatusCode, message: str) -> None:
        super().__init__(f"{code.name}: {message}")
        self.code = code
        self.details = message


class PageNotFound(PageServerError):
    """Unknown tenant or timeline."""


class LsnNotReached(PageServerError):
    """The page server did not ingest the LSN within the wait bound."""


class PagePastEnd(PageServerError):
    """The page number is at or past the end of the database at that LSN."""


class LsnBelowGc(PageServerError):
    """The LSN is older than the timeline's retention window."""


_ERRORS: dict[grpc.StatusCode, type[PageServerError]] = {
    grpc.StatusCode.NOT_FOUND: PageNotFound,
    grpc.StatusCode.DEADLINE_EXCEEDED: LsnNotReached,
    grpc.StatusCode.OUT_OF_RANGE: PagePastEnd,
    grpc.StatusCode.FAILED_PRECONDITION: LsnBelowGc,
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

    @classmethod
    def from_pb(cls, m: pb.TimelineInfo) -> TimelineInfo:
        return cls(**{f: getattr(m, f) for f in cls.__dataclass_fields__})


class PageServerClient:
    """Blocking calls over one channel; gRPC channels are thread-safe."""

    def __init__(self, addr: str, timeout_s: float = 30.0) -> None:
        self.addr = addr
        self.timeout_s = timeout_s
        self._channel = grpc.insecure_channel(
            addr,
            options=[
                ("grpc.max_receive_message_length", 64 * 1024 * 1024),
                ("grpc.max_send_message_length", 64 * 1024 * 1024),
            ],
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
    ) -> TimelineInfo:
        resp = self._call(
            self._stub.CreateTimeline,
            pb.CreateTimelineRequest(
                tenant=tenant, timeline=timeline, ancestor_timeline=ancestor,
                ancestor_lsn=ancestor_lsn, ancestor_timestamp_us=ancestor_timestamp_us,
                wal_source=wal_source, log_timeline=log_timeline,
            ),
        )  # fmt: skip
        return TimelineInfo.from_pb(resp)

    def list_timelines(self, tenant: str = "") -> list[TimelineInfo]:
        resp = self._call(self._stub.ListTimelines, pb.ListTimelinesRequest(tenant=tenant))
        return [TimelineInfo.from_pb(t) for t in resp.timelines]

    def timeline(self, tenant: str, timeline: str) -> TimelineInfo:
        for t in self.list_timelines(tenant):
            if t.timeline == timeline:
                return t
        raise PageNotFound(grpc.StatusCode.NOT_FOUND, f"unknown timeline {timeline!r}")

    def status(self) -> dict[str, Any]:
        resp = self._call(self._stub.Status, pb.StatusRequest())
        return {f.name: getattr(resp, f.name) for f in resp.DESCRIPTOR.fields}

    def ingest(self, tenant: str, timeline: str, records: list[tuple[Lsn, bytes]]) -> Lsn:
        """Push WAL records (start LSN, payload) to a push-fed timeline."""
        resp = self._call(
            self._stub.IngestWal,
            pb.IngestWalRequest(
                tenant=tenant,
                timeline=timeline,
                records=[pb.WalRecordMsg(start_lsn=s, payload=p) for s, p in records],
            ),
        )
        return int(resp.last_record_lsn)

    def maintenance(self, tenant: str, timeline: str, op: str) -> dict[str, Any]:
        resp = self._call(
            self._stub.Maintenance,
            pb.MaintenanceRequest(tenant=tenant, timeline=timeline, op=op),
            timeout=300,
        )
        result: dict[str, Any] = json.loads(resp.result)
        return result

    def page_store(self, tenant: str, timeline: str) -> TimelinePageStore:
        return TimelinePageStore(self, tenant, timeline)


class TimelinePageStore:
    """``strata.storage.PageStore`` over one timeline of a page server."""

    def __init__(self, client: PageServerClient, tenant: str, timeline: str) -> None:
        self.client = client
        self.tenant = tenant
        self.timeline = timeline

    def get_page(self, db_id: int, page_no: int, lsn: Lsn) -> bytes | None:
        return self.client.get_page(self.tenant, self.timeline, db_id, page_no, lsn)

    def db_size(self, db_id: int, lsn: Lsn) -> int:
        return self.client.db_size(self.tenant, self.timeline, db_id, lsn)
