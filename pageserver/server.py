"""The page server process: timelines, background work, and the gRPC service.

Threads: gRPC workers (reads, push ingest), one ingest thread per log-store-fed timeline
(each running its own asyncio loop over the WAL source), one upload worker (FIFO, so
manifests follow their layers), and one housekeeping thread (time-based flush,
compaction, GC, metrics).
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import re
import shutil
import threading
import time
import uuid
from collections.abc import Callable
from concurrent import futures
from dataclasses import dataclass, field
from typing import Any

import grpc

from pageserver import metrics
from pageserver.layers import LayerDesc
from pageserver.source import WalSourceFactory, logstore_reporter, logstore_source
from pageserver.storage import LayerStore, LayerUnavailable, UploadQueue, layer_key, timeline_prefix
from pageserver.timeline import (
    AlreadyExists,
    DataLoss,
    FailedPrecondition,
    InvalidArgument,
    NotFound,
    PageServerError,
    Timeline,
    TimelineConf,
)
from strata.objectstore import ObjectNotFound, open_object_store
from strata.proto import pageserver_pb2 as pb
from strata.proto import pageserver_pb2_grpc as pb_grpc

log = logging.getLogger("strata.pageserver")

_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")
MAX_WAIT_S = 60.0


def check_id(what: str, value: str) -> str:
    if not _ID.match(value or ""):
        raise InvalidArgument(f"invalid {what} id {value!r} (want [A-Za-z0-9_.-], 1-64 chars)")
    return value


@dataclass
class ServerConf:
    data_dir: str
    object_store: str
    logstore: list[str] = field(default_factory=list)
    timeline: TimelineConf = field(default_factory=TimelineConf)
    layer_cache_bytes: int = 256 * 1024 * 1024
    upload_queue: int = 64
    housekeeping_interval_s: float = 0.5
    gc_interval_s: float = 30.0
    auto_compact: bool = True


class PageServer:
    """All tenants' timelines plus the shared layer store and upload queue."""

    def __init__(self, conf: ServerConf, source_factory: WalSourceFactory | None = None) -> None:
        self.conf = conf
        os.makedirs(conf.data_dir, exist_ok=True)
        self.remote = open_object_store(conf.object_store)
        self.layer_store = LayerStore(conf.data_dir, self.remote, conf.layer_cache_bytes)
        self.uploads = UploadQueue(conf.upload_queue)
        self.timelines: dict[tuple[str, str], Timeline] = {}
        self.lock = threading.RLock()
        self.stopping = threading.Event()
        self.started = time.monotonic()
        self.node_id = uuid.uuid4().hex[:8]
        self.source_factory = source_factory or (
            logstore_source(conf.logstore) if conf.logstore else None
        )
        self._report: Callable[[int], None] | None = (
            logstore_reporter(conf.logstore) if conf.logstore else None
        )
        self._threads: list[threading.Thread] = []
        self._local_bytes = 0
        self._remote_bytes = 0

    # ------------------------------------------------------------------ lifecycle

    def start(self) -> None:
        self.load_from_remote()
        for tl in list(self.timelines.values()):
            self._start_ingest(tl)
        t = threading.Thread(target=self._housekeeping, name="housekeeping", daemon=True)
        t.start()
        self._threads.append(t)

    def stop(self) -> None:
        self.stopping.set()
        self.uploads.stop()

    def load_from_remote(self) -> None:
        """Rebuild every timeline from its manifest; object storage is the truth, the local
        disk a cache (files no manifest names are deleted, as are orphaned objects)."""
        manifests: dict[tuple[str, str], dict[str, Any]] = {}
        all_keys = self.remote.list("tenants/")
        for key in all_keys:
            if key.endswith("/index.json"):
                m = json.loads(self.remote.get(key))
                manifests[(m["tenant"], m["timeline"])] = m
        pending = dict(manifests)
        while pending:
            progressed = False
            for (tenant, tid), m in list(pending.items()):
                anc_id = m["ancestor_timeline"]
                if anc_id and (tenant, anc_id) not in self.timelines:
                    if (tenant, anc_id) not in pending:
                        log.error("timeline %s/%s: ancestor %s missing", tenant, tid, anc_id)
                        del pending[(tenant, tid)]
                    continue
                anc = self.timelines[(tenant, anc_id)] if anc_id else None
                layers = [LayerDesc.from_json(d) for d in m["layers"]]
                tl = Timeline(
                    tenant,
                    tid,
                    ancestor=anc,
                    ancestor_lsn=int(m["ancestor_lsn"]),
                    conf=self.conf.timeline,
                    layer_store=self.layer_store,
                    uploads=self.uploads,
                    wal_source=m.get("wal_source", "push"),
                    log_timeline=m.get("log_timeline", ""),
                    layers=layers,
                    remote_consistent_lsn=int(m["remote_consistent_lsn"]),
                    gc_cutoff_lsn=int(m["gc_cutoff_lsn"]),
                    last_commit_ts=int(m.get("last_commit_ts", 0)),
                )
                self._register(tl)
                self._cleanup(tl, {d.name for d in layers}, all_keys)
                del pending[(tenant, tid)]
                progressed = True
            if not progressed:
                log.error("timelines with unresolvable ancestors: %s", sorted(pending))
                break
        # local directories of timelines no manifest knows about
        root = os.path.join(self.conf.data_dir, "tenants")
        if os.path.isdir(root):
            for tenant in os.listdir(root):
                tdir = os.path.join(root, tenant, "timelines")
                for tid in os.listdir(tdir) if os.path.isdir(tdir) else []:
                    if (tenant, tid) not in self.timelines:
                        shutil.rmtree(os.path.join(tdir, tid), ignore_errors=True)
        log.info("loaded %d timelines from object storage", len(self.timelines))

    def _cleanup(self, tl: Timeline, named: set[str], all_keys: list[str]) -> None:
        prefix = timeline_prefix(tl.tenant, tl.timeline_id) + "layers/"
        for key in all_keys:
            if key.startswith(prefix) and key[len(prefix) :] not in named:
                log.info("deleting orphaned object %s", key)
                self.remote.delete(key)
        ldir = self.layer_store.local_dir(tl.tenant, tl.timeline_id)
        if os.path.isdir(ldir):
            for name in os.listdir(ldir):
                if name not in named:
                    os.unlink(os.path.join(ldir, name))

    def _register(self, tl: Timeline) -> None:
        with self.lock:
            self.timelines[(tl.tenant, tl.timeline_id)] = tl
            if tl.ancestor is not None:
                tl.ancestor.children.append(tl)
        if self._report is not None and tl.wal_source == "logstore":
            tl.on_remote_consistent = self._report

    def _start_ingest(self, tl: Timeline) -> None:
        if tl.wal_source != "logstore":
            return
        if self.source_factory is None:
            log.error("timeline %s wants the log store but no --logstore given", tl.timeline_id)
            return
        t = threading.Thread(
            target=self._ingest_loop, args=(tl,), name=f"ingest-{tl.timeline_id}", daemon=True
        )
        t.start()
        self._threads.append(t)

    def _ingest_loop(self, tl: Timeline) -> None:
        assert self.source_factory is not None
        factory = self.source_factory
        delay = 0.1
        while not self.stopping.is_set():
            try:
                asyncio.run(self._consume(tl, factory))
                delay = 0.1
            except Exception:
                log.exception("ingest of %s failed; resuming in %.1fs", tl.timeline_id, delay)
            self.stopping.wait(delay)
            delay = min(delay * 2, 5.0)

    async def _consume(self, tl: Timeline, factory: WalSourceFactory) -> None:
        source = factory(tl.log_timeline or tl.timeline_id, tl.last_record_lsn)
        async for start, end, payload in source:
            if self.stopping.is_set():
                return
            assert end == start + len(payload), (start, end, len(payload))
            tl.note_received(end)
            tl.ingest(start, payload)

    def _housekeeping(self) -> None:
        last_gc = time.monotonic()
        last_metrics = 0.0
        while not self.stopping.wait(self.conf.housekeeping_interval_s):
            now = time.monotonic()
            do_gc = now - last_gc >= self.conf.gc_interval_s
            for tl in list(self.timelines.values()):
                try:
                    if tl.flush_due():
                        tl.flush()
                    if self.conf.auto_compact:
                        tl.compact()
                    if do_gc:
                        tl.gc()
                except Exception:
                    log.exception("housekeeping of %s failed", tl.timeline_id)
            if do_gc:
                last_gc = now
            if now - last_metrics >= 5.0:
                self.update_layer_metrics()
                last_metrics = now

    def update_layer_metrics(self) -> None:
        counts: dict[tuple[str, str], int] = {}
        local_bytes = remote_bytes = 0
        for tl in list(self.timelines.values()):
            with tl.lock:
                layers = list(tl.layers)
            for d in layers:
                if d.remote:
                    counts[(d.kind, "remote")] = counts.get((d.kind, "remote"), 0) + 1
                    remote_bytes += d.size
                if os.path.exists(self.layer_store.local_path(tl.tenant, tl.timeline_id, d.name)):
                    counts[(d.kind, "local")] = counts.get((d.kind, "local"), 0) + 1
                    local_bytes += d.size
        for kind in ("delta", "image"):
            for loc in ("local", "remote"):
                metrics.LAYERS.labels(kind, loc).set(counts.get((kind, loc), 0))
        metrics.LAYER_BYTES.labels("local").set(local_bytes)
        metrics.LAYER_BYTES.labels("remote").set(remote_bytes)
        self._local_bytes, self._remote_bytes = local_bytes, remote_bytes

    # ------------------------------------------------------------------ operations

    def get(self, tenant: str, timeline: str) -> Timeline:
        tl = self.timelines.get((tenant, timeline))
        if tl is None:
            if not any(t == tenant for t, _ in self.timelines):
                raise NotFound(f"unknown tenant {tenant!r}")
            raise NotFound(f"unknown timeline {timeline!r} of tenant {tenant!r}")
        return tl

    def create_timeline(
        self,
        tenant: str,
        timeline: str,
        ancestor_timeline: str = "",
        ancestor_lsn: int = 0,
        ancestor_timestamp_us: int = 0,
        wal_source: str = "push",
        log_timeline: str = "",
    ) -> Timeline:
        check_id("tenant", tenant)
        timeline = check_id("timeline", timeline or uuid.uuid4().hex[:16])
        wal_source = wal_source or "push"
        if wal_source not in ("push", "logstore"):
            raise InvalidArgument(f"wal_source must be 'push' or 'logstore', not {wal_source!r}")
        anc: Timeline | None = None
        lsn = 0
        if ancestor_timeline:
            anc = self.get(tenant, ancestor_timeline)
            if ancestor_timestamp_us:
                found = anc.lsn_for_timestamp(ancestor_timestamp_us)
                if found is None:
                    raise FailedPrecondition(
                        f"no commit at or before timestamp {ancestor_timestamp_us} on "
                        f"timeline {ancestor_timeline}"
                    )
                lsn = found
            elif ancestor_lsn:
                anc.wait_for_lsn(ancestor_lsn, self.conf.timeline.wait_lsn_timeout_s)
                lsn = ancestor_lsn
            else:
                lsn = anc.last_record_lsn
            if lsn < anc.ancestor_lsn:
                raise InvalidArgument(
                    f"branch point {lsn} is below the start {anc.ancestor_lsn} of timeline "
                    f"{ancestor_timeline}; branch from its ancestor instead"
                )
        elif ancestor_lsn or ancestor_timestamp_us:
            raise InvalidArgument("ancestor_lsn/timestamp given without ancestor_timeline")
        with self.lock:
            if (tenant, timeline) in self.timelines:
                raise AlreadyExists(f"timeline {timeline!r} of tenant {tenant!r} exists")
            tl = Timeline(
                tenant,
                timeline,
                ancestor=anc,
                ancestor_lsn=lsn,
                conf=self.conf.timeline,
                layer_store=self.layer_store,
                uploads=self.uploads,
                wal_source=wal_source,
                log_timeline=log_timeline,
            )
            if anc is not None:
                with anc.lock:  # atomic with GC: the branch point is protected from now on
                    anc.check_readable(lsn)
                    self._register(tl)
            else:
                self._register(tl)
        try:
            tl.upload_manifest()  # creation is durable before we answer
        except Exception:
            with self.lock:
                del self.timelines[(tenant, timeline)]
                if anc is not None:
                    anc.children.remove(tl)
            raise
        self._start_ingest(tl)
        log.info(
            "created timeline %s/%s (ancestor %s@%d)", tenant, timeline, ancestor_timeline, lsn
        )
        return tl

    def maintenance(self, tenant: str, timeline: str, op: str) -> dict[str, Any]:
        if op == "drop_caches":
            return {"dropped": self.layer_store.drop_cache()}
        if op == "wait_uploads":
            return {"ok": self.uploads.wait(timeout=120)}
        tl = self.get(tenant, timeline)
        if op == "flush":
            seq = tl.flush()
            ok = self.uploads.wait(seq, timeout=120)
            return {"ok": ok, "remote_consistent_lsn": tl.remote_consistent_lsn}
        if op == "compact":
            name = tl.compact(force=True)
            return {"image": name, "ok": self.uploads.wait(timeout=120)}
        if op == "gc":
            res = tl.gc()
            res["ok"] = self.uploads.wait(timeout=120)
            return res
        raise InvalidArgument(f"unknown maintenance op {op!r}")

    def status(self) -> dict[str, Any]:
        self.update_layer_metrics()
        return {
            "node_id": self.node_id,
            "object_store": repr(self.remote),
            "upload_queue": self.uploads.depth,
            "tenants": len({t for t, _ in self.timelines}),
            "timelines": len(self.timelines),
            "local_layer_bytes": self._local_bytes,
            "remote_layer_bytes": self._remote_bytes,
            "cached_layer_bytes": self.layer_store.cached_bytes,
            "uptime_s": time.monotonic() - self.started,
        }


# ---------------------------------------------------------------------- gRPC


def _info(tl: Timeline) -> pb.TimelineInfo:
    return pb.TimelineInfo(**tl.info())


class PageServerService(pb_grpc.PageServerServicer):
    def __init__(self, ps: PageServer) -> None:
        self.ps = ps

    def _wait(self, wait_ms: int) -> float:
        return (
            min(wait_ms / 1000.0, MAX_WAIT_S)
            if wait_ms
            else self.ps.conf.timeline.wait_lsn_timeout_s
        )

    def _fail(self, context: grpc.ServicerContext, exc: Exception) -> None:
        if isinstance(exc, LayerUnavailable):
            exc = DataLoss(str(exc))
        if isinstance(exc, ObjectNotFound):
            exc = DataLoss(f"object missing: {exc}")
        if isinstance(exc, PageServerError):
            code = getattr(grpc.StatusCode, exc.code)
            context.abort(code, str(exc))
        log.exception("internal error")
        context.abort(grpc.StatusCode.INTERNAL, f"internal error: {exc!r}")

    def GetPage(
        self, request: pb.GetPageRequest, context: grpc.ServicerContext
    ) -> pb.GetPageResponse:
        t0 = time.perf_counter()
        try:
            tl = self.ps.get(request.tenant, request.timeline)
            if tl.last_record_lsn < request.lsn:
                tl.wait_for_lsn(request.lsn, self._wait(request.wait_ms))
            v = tl.get_page(request.db_id, request.page_no, request.lsn)
        except Exception as exc:
            metrics.GETPAGE_ERRORS.labels(getattr(exc, "code", "INTERNAL")).inc()
            self._fail(context, exc)
            raise AssertionError("unreachable") from exc
        metrics.GETPAGE_SECONDS.observe(time.perf_counter() - t0)
        if v is None:
            return pb.GetPageResponse(exists=False)
        return pb.GetPageResponse(exists=True, data=v[1], page_lsn=v[0])

    def DbSize(self, request: pb.DbSizeRequest, context: grpc.ServicerContext) -> pb.DbSizeResponse:
        try:
            tl = self.ps.get(request.tenant, request.timeline)
            if tl.last_record_lsn < request.lsn:
                tl.wait_for_lsn(request.lsn, self._wait(request.wait_ms))
            n = tl.db_size(request.db_id, request.lsn)
        except Exception as exc:
            self._fail(context, exc)
            raise AssertionError("unreachable") from exc
        return pb.DbSizeResponse(pages=n or 0)

    def CreateTimeline(
        self, request: pb.CreateTimelineRequest, context: grpc.ServicerContext
    ) -> pb.TimelineInfo:
        try:
            tl = self.ps.create_timeline(
                request.tenant,
                request.timeline,
                request.ancestor_timeline,
                request.ancestor_lsn,
                request.ancestor_timestamp_us,
                request.wal_source,
                request.log_timeline,
            )
        except Exception as exc:
            self._fail(context, exc)
            raise AssertionError("unreachable") from exc
        return _info(tl)

    def ListTimelines(
        self, request: pb.ListTimelinesRequest, context: grpc.ServicerContext
    ) -> pb.ListTimelinesResponse:
        tls = sorted(self.ps.timelines.items())
        return pb.ListTimelinesResponse(
            timelines=[_info(tl) for (t, _), tl in tls if not request.tenant or t == request.tenant]
        )

    def Status(self, request: pb.StatusRequest, context: grpc.ServicerContext) -> pb.StatusResponse:
        return pb.StatusResponse(**self.ps.status())

    def IngestWal(
        self, request: pb.IngestWalRequest, context: grpc.ServicerContext
    ) -> pb.IngestWalResponse:
        applied = skipped = 0
        try:
            tl = self.ps.get(request.tenant, request.timeline)
            if tl.wal_source != "push":
                raise FailedPrecondition(
                    f"timeline {tl.timeline_id} ingests from the log store, not IngestWal"
                )
            for rec in request.records:
                tl.note_received(rec.start_lsn + len(rec.payload))
                if tl.ingest(rec.start_lsn, rec.payload):
                    applied += 1
                else:
                    skipped += 1
        except Exception as exc:
            self._fail(context, exc)
            raise AssertionError("unreachable") from exc
        return pb.IngestWalResponse(
            last_record_lsn=tl.last_record_lsn, applied=applied, skipped=skipped
        )

    def Maintenance(
        self, request: pb.MaintenanceRequest, context: grpc.ServicerContext
    ) -> pb.MaintenanceResponse:
        try:
            res = self.ps.maintenance(request.tenant, request.timeline, request.op)
        except Exception as exc:
            self._fail(context, exc)
            raise AssertionError("unreachable") from exc
        return pb.MaintenanceResponse(result=json.dumps(res))


def serve(ps: PageServer, listen: str, workers: int = 16) -> grpc.Server:
    opts = [
        ("grpc.max_receive_message_length", 64 * 1024 * 1024),
        ("grpc.max_send_message_length", 64 * 1024 * 1024),
    ]
    server = grpc.server(futures.ThreadPoolExecutor(max_workers=workers), options=opts)
    pb_grpc.add_PageServerServicer_to_server(PageServerService(ps), server)
    port = server.add_insecure_port(listen)
    if port == 0:
        raise RuntimeError(f"cannot listen on {listen}")
    server.start()
    return server


__all__ = ["PageServer", "ServerConf", "serve", "layer_key"]
