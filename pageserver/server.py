"""The page server process: timelines, background work, and the gRPC service.

Threads: gRPC workers (reads, push ingest), one ingest thread per log-store-fed timeline
(each running its own asyncio loop over the WAL source), one upload worker (FIFO, so
manifests follow their layers), and one housekeeping thread (time-based flush,
compaction, GC, metrics).

Reads take no lock of ours: a timeline's read view and the decoded-layer cache are read
lock-free. A GetPage costs ~250 µs of page server CPU, nearly all in grpc (our lookup is
~1%), so throughput comes from asking for many pages per call (GetPages).
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
from typing import Any, NoReturn

import grpc

from pageserver import metrics
from pageserver.layers import LayerDesc
from pageserver.source import WalSourceFactory, logstore_reporter, logstore_source
from pageserver.storage import (
    LayerStore,
    LayerUnavailable,
    UploadQueue,
    layer_key,
    timeline_prefix,
)
from pageserver.timeline import (
    DEFAULT_LEASE_TTL_S,
    MAX_LEASE_TTL_S,
    AlreadyExists,
    DataLoss,
    FailedPrecondition,
    InvalidArgument,
    LsnTimeout,
    NotFound,
    OutOfRange,
    PageServerError,
    Timeline,
    TimelineBroken,
    TimelineConf,
    fmt_lsn,
)
from strata.objectstore import ObjectNotFound, open_object_store
from strata.proto import pageserver_pb2 as pb
from strata.proto import pageserver_pb2_grpc as pb_grpc
from strata.proto.lenient import BadRequest, lenient
from strata.tls import RolePolicy, TlsFiles, add_listen_port, policy

log = logging.getLogger("strata.pageserver")

_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")
MAX_WAIT_S = 60.0
MAX_PAGES_PER_BATCH = 256
"""Pages one GetPages call may ask for (more: INVALID_ARGUMENT)."""
INGEST_POLL_S = 0.5
"""How often an ingest thread checks whether its timeline was deleted."""
DELETE_TIMEOUT_S = 120.0
"""DeleteTimeline waits this long for the uploads queued before it and its own deletes."""
INGEST_RETRY_FIRST_S = 0.1
"""First pause before re-opening a failed WAL source (then doubling)."""
INGEST_RETRY_MAX_S = 5.0
"""Longest pause between attempts to re-open a failed WAL source."""
MAX_STATE_CHARS = 500
"""Bound on the error text kept in a timeline's ingest state."""
MAX_LOGGED_ERRORS = 16
"""Distinct ingest errors logged per timeline until ingest works again (then: counted)."""
ROLE_TABLE: dict[str, tuple[str, ...]] = {
    # reads at an LSN: computes
    "GetPage": ("compute",),
    "GetPages": ("compute",),
    "DbSize": ("compute",),
    "LeaseLsn": ("compute",),
    # timeline metadata: computes, and the control plane (it checks what exists)
    "GetTimeline": ("compute", "control"),
    "ListTimelines": ("compute", "control"),
    "Status": ("compute", "control", "pageserver", "logstore"),
    # administration: only the control plane
    "CreateTimeline": ("control",),
    "DeleteTimeline": ("control",),
    "IngestWal": ("control",),
    "Maintenance": ("control",),
}
"""Which certificate roles may call each RPC when the page server runs with mutual TLS
(docs/operations.md, "Internal TLS")."""
INGESTING = "ingesting"
RETRYING = "retrying"
STOPPED = "stopped"


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


def _read_manifest(data: bytes, tenant: str, timeline: str) -> dict[str, Any]:
    """A manifest's fields, checked enough that loading it cannot fail half way."""
    m = json.loads(data)
    if not isinstance(m, dict) or m.get("tenant") != tenant or m.get("timeline") != timeline:
        raise ValueError("it does not describe this timeline")
    for k in ("ancestor_lsn", "remote_consistent_lsn", "gc_cutoff_lsn"):
        int(m[k])
    if not isinstance(m["ancestor_timeline"], str) or not isinstance(m["layers"], list):
        raise ValueError("bad ancestor or layer list")
    m["layers"] = [LayerDesc.from_json(d) for d in m["layers"]]
    return m


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
            logstore_source(conf.logstore, on_health=self._source_health) if conf.logstore else None
        )
        self._report: Callable[[str, str, int], None] | None = (
            logstore_reporter(conf.logstore) if conf.logstore else None
        )
        self.broken: dict[tuple[str, str], str] = {}
        """Timelines whose manifest could not be loaded, and why: they answer DATA_LOSS and
        their objects are left alone; every other timeline serves normally."""
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
            parts = key.split("/")
            if len(parts) == 5 and parts[2] == "timelines" and parts[4] == "index.json":
                try:
                    manifests[(parts[1], parts[3])] = _read_manifest(
                        self.remote.get(key), parts[1], parts[3]
                    )
                except Exception as exc:  # one bad manifest must not stop the server
                    self._mark_broken(parts[1], parts[3], f"{key} is unreadable: {exc}")
        pending = dict(manifests)
        while pending:
            progressed = False
            for (tenant, tid), m in list(pending.items()):
                anc_id = m["ancestor_timeline"]
                if anc_id and (tenant, anc_id) not in self.timelines:
                    if (tenant, anc_id) not in pending:
                        why = self.broken.get((tenant, anc_id), "missing")
                        self._mark_broken(tenant, tid, f"ancestor {anc_id} is {why}")
                        del pending[(tenant, tid)]
                        progressed = True
                    continue
                anc = self.timelines[(tenant, anc_id)] if anc_id else None
                layers = m["layers"]
                try:
                    tl = self._timeline_from(tenant, tid, anc, m)
                except Exception as exc:  # a manifest that parses but does not fit
                    self._mark_broken(tenant, tid, f"its manifest does not load: {exc!r}")
                    del pending[(tenant, tid)]
                    progressed = True
                    continue
                tl.gc_blocked_until = time.monotonic() + self.conf.timeline.lease_grace_s
                self._register(tl)
                self._cleanup(tl, {d.name for d in layers}, all_keys)
                del pending[(tenant, tid)]
                progressed = True
            if not progressed:
                for tenant, tid in pending:
                    self._mark_broken(tenant, tid, "its ancestors form a cycle")
                break
        # objects of timelines without a manifest: a deletion interrupted by a crash
        for key in all_keys:
            parts = key.split("/")
            if len(parts) <= 4 or parts[2] != "timelines":
                continue
            if (parts[1], parts[3]) not in manifests and (parts[1], parts[3]) not in self.broken:
                log.info("deleting object %s of a deleted timeline", key)
                self.remote.delete(key)
        # local directories of timelines no manifest knows about
        root = os.path.join(self.conf.data_dir, "tenants")
        if os.path.isdir(root):
            for tenant in os.listdir(root):
                tdir = os.path.join(root, tenant, "timelines")
                for tid in os.listdir(tdir) if os.path.isdir(tdir) else []:
                    if (tenant, tid) not in self.timelines and (tenant, tid) not in self.broken:
                        shutil.rmtree(os.path.join(tdir, tid), ignore_errors=True)
        log.info("loaded %d timelines from object storage", len(self.timelines))

    def _timeline_from(
        self, tenant: str, tid: str, anc: Timeline | None, m: dict[str, Any]
    ) -> Timeline:
        return Timeline(
            tenant,
            tid,
            ancestor=anc,
            ancestor_lsn=int(m["ancestor_lsn"]),
            conf=self.conf.timeline,
            layer_store=self.layer_store,
            uploads=self.uploads,
            wal_source=m.get("wal_source", "push"),
            log_timeline=m.get("log_timeline", ""),
            layers=m["layers"],
            remote_consistent_lsn=int(m["remote_consistent_lsn"]),
            gc_cutoff_lsn=int(m["gc_cutoff_lsn"]),
            last_commit_ts=int(m.get("last_commit_ts", 0)),
        )

    def _mark_broken(self, tenant: str, timeline: str, why: str) -> None:
        log.error("timeline %s/%s is broken and will not be served: %s", tenant, timeline, why)
        self.broken[(tenant, timeline)] = why[:MAX_STATE_CHARS]

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
            report, log_tl = self._report, tl.log_timeline or tl.timeline_id
            tl.on_remote_consistent = lambda lsn: report(tl.tenant, log_tl, lsn)

    def _start_ingest(self, tl: Timeline) -> None:
        if tl.wal_source != "logstore":
            return
        if self.source_factory is None:
            log.error("timeline %s wants the log store but no --logstore given", tl.timeline_id)
            return
        tl.ingest_state = INGESTING
        metrics.INGEST_HEALTHY.labels(tl.tenant, tl.timeline_id).set(1)
        t = threading.Thread(
            target=self._ingest_loop, args=(tl,), name=f"ingest-{tl.timeline_id}", daemon=True
        )
        t.start()
        self._threads.append(t)

    def _ingest_loop(self, tl: Timeline) -> None:
        """Ingest from the log store until the timeline is deleted or the server stops.

        Any failure of the source (stream error, gRPC failure, acceptors restarting, even a
        cancelled call) is retried after a pause that doubles from INGEST_RETRY_FIRST_S to
        INGEST_RETRY_MAX_S and starts over once an attempt made progress; each attempt
        resumes at the timeline's last ingested LSN. Nothing but stop/delete ends it."""
        assert self.source_factory is not None
        factory = self.source_factory
        delay = INGEST_RETRY_FIRST_S
        while not self.stopping.is_set() and not tl.deleted and not tl.broken:
            before = tl.last_record_lsn
            try:
                asyncio.run(self._consume_while_live(tl, factory))
                error = "the WAL source ended"
            except (Exception, asyncio.CancelledError) as exc:
                error = f"{type(exc).__name__}: {exc}"
            if self.stopping.is_set() or tl.deleted or tl.broken:
                break
            if tl.last_record_lsn > before:
                delay = INGEST_RETRY_FIRST_S
            self._ingest_failed(tl, error)
            self.stopping.wait(delay)
            delay = min(delay * 2, INGEST_RETRY_MAX_S)
        tl.ingest_state = STOPPED

    def _ingest_failed(self, tl: Timeline, error: str) -> None:
        """Record a failed ingest attempt: state, metric, and one log line per distinct
        error until ingest works again."""
        metrics.INGEST_FAILURES.labels(tl.tenant, tl.timeline_id).inc()
        tl.ingest_state = f"{RETRYING}: {error}"[:MAX_STATE_CHARS]
        metrics.INGEST_HEALTHY.labels(tl.tenant, tl.timeline_id).set(0)
        if error not in tl.ingest_errors_logged and len(tl.ingest_errors_logged) < MAX_LOGGED_ERRORS:
            tl.ingest_errors_logged.add(error)
            log.warning("ingest of %s/%s at LSN %s failed, retrying: %s",
                        tl.tenant, tl.timeline_id, fmt_lsn(tl.last_record_lsn), error)

    def _ingest_ok(self, tl: Timeline) -> None:
        if tl.ingest_state == INGESTING:
            return
        if tl.ingest_state.startswith(RETRYING):
            log.info("ingest of %s/%s works again at LSN %s",
                     tl.tenant, tl.timeline_id, fmt_lsn(tl.last_record_lsn))
        tl.ingest_state = INGESTING
        tl.ingest_errors_logged.clear()
        metrics.INGEST_HEALTHY.labels(tl.tenant, tl.timeline_id).set(1)

    def _source_health(self, tenant: str, log_timeline: str, error: str) -> None:
        """The log store stream's own retries (it fails over by itself), per log."""
        for tl in list(self.timelines.values()):
            if tl.tenant == tenant and (tl.log_timeline or tl.timeline_id) == log_timeline:
                if error:
                    self._ingest_failed(tl, error)
                else:
                    self._ingest_ok(tl)

    async def _consume_while_live(self, tl: Timeline, factory: WalSourceFactory) -> None:
        """``_consume``, cancelled once the timeline is deleted or the server stops (the
        source may be idle for a long time, so checking between records is not enough)."""
        task = asyncio.create_task(self._consume(tl, factory))
        while not task.done():
            if tl.deleted or tl.broken or self.stopping.is_set():
                task.cancel()
                try:
                    await task
                except asyncio.CancelledError:
                    pass
                return
            await asyncio.wait({task}, timeout=INGEST_POLL_S)
        await task

    async def _consume(self, tl: Timeline, factory: WalSourceFactory) -> None:
        source = factory(tl.tenant, tl.log_timeline or tl.timeline_id, tl.last_record_lsn)
        async for start, end, payload in source:
            if tl.ingest_state != INGESTING:
                self._ingest_ok(tl)
            if self.stopping.is_set() or tl.deleted:
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
        why = tl.broken if tl is not None else self.broken.get((tenant, timeline))
        if why:
            raise TimelineBroken(f"timeline {timeline!r} of tenant {tenant!r} is broken: {why}")
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
        wait_s: float | None = None,
    ) -> Timeline:
        """A root timeline or a branch; a branch point the ancestor has not ingested yet is
        waited for up to ``wait_s`` (default ``wait_lsn_timeout_s``), then OUT_OF_RANGE."""
        check_id("tenant", tenant)
        timeline = check_id("timeline", timeline or uuid.uuid4().hex[:16])
        wal_source = wal_source or "push"
        if wal_source not in ("push", "logstore"):
            raise InvalidArgument(f"wal_source must be 'push' or 'logstore', not {wal_source!r}")
        anc: Timeline | None = None
        lsn = 0
        if ancestor_timeline:
            anc = self.get(tenant, ancestor_timeline)
            if wal_source == "logstore" and (log_timeline or timeline) == (
                anc.log_timeline or anc.timeline_id
            ):
                raise InvalidArgument(
                    f"branch {timeline!r} would ingest the log of its ancestor "
                    f"{ancestor_timeline!r}; every timeline has its own log"
                )
            if ancestor_timestamp_us:
                found = anc.lsn_for_timestamp(ancestor_timestamp_us)
                if found is None:
                    raise FailedPrecondition(
                        f"no commit at or before timestamp {ancestor_timestamp_us} on "
                        f"timeline {ancestor_timeline}"
                    )
                lsn = found
            elif ancestor_lsn:
                wait = self.conf.timeline.wait_lsn_timeout_s if wait_s is None else wait_s
                try:
                    anc.wait_for_lsn(ancestor_lsn, wait)
                except LsnTimeout:
                    raise OutOfRange(
                        f"LSN {fmt_lsn(ancestor_lsn)} is in the future: timeline has ingested "
                        f"up to {fmt_lsn(anc.last_record_lsn)} (timeline {ancestor_timeline}, "
                        f"waited {wait:.1f}s)"
                    ) from None
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
            if (tenant, timeline) in self.timelines or (tenant, timeline) in self.broken:
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

    def delete_timeline(self, tenant: str, timeline: str) -> None:
        """Forget a childless timeline, then delete its manifest (first: a crash after it
        leaves only orphans, which the next start deletes), its layer objects and files.

        The deletion runs on the upload queue, after every upload queued for the timeline
        before it (those find it deleted and do nothing)."""
        with self.lock:
            tl = self.get(tenant, timeline)
            with tl.lock:
                if tl.children:
                    names = sorted(c.timeline_id for c in tl.children)
                    raise FailedPrecondition(
                        f"timeline {timeline!r} has child timelines {names}; delete them first"
                    )
                tl.deleted = True
                tl.cond.notify_all()
            del self.timelines[(tenant, timeline)]
            if tl.ancestor is not None:
                tl.ancestor.children.remove(tl)
        # wait for an in-progress flush/compaction to finish writing before removing files
        with tl.flush_lock, tl.compact_lock:
            pass

        def task() -> None:
            prefix = timeline_prefix(tenant, timeline)
            self.remote.delete(prefix + "index.json")
            for key in self.remote.list(prefix):
                self.remote.delete(key)
            self.layer_store.forget_timeline(tenant, timeline)

        seq = self.uploads.submit(f"delete timeline {tenant}/{timeline}", task)
        if not self.uploads.wait(seq, timeout=DELETE_TIMEOUT_S):
            raise LsnTimeout(
                f"timeline {timeline!r} is deleted but its objects are still being removed"
            )
        log.info("deleted timeline %s/%s", tenant, timeline)

    def lease_lsn(self, tenant: str, timeline: str, lsn: int, ttl_s: float) -> float:
        """Lease ``lsn`` on the timeline; returns the expiry as unix time (seconds)."""
        tl = self.get(tenant, timeline)
        if lsn == 0:
            raise InvalidArgument("cannot lease LSN 0")
        ttl_s = min(ttl_s or DEFAULT_LEASE_TTL_S, MAX_LEASE_TTL_S)
        expiry = tl.lease(lsn, ttl_s)
        return time.time() + (expiry - time.monotonic())

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
        if op in ("compact", "compact_auto"):  # compact_auto: the automatic policy's choice
            name = tl.compact(force=op == "compact")
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


class RpcFailed(Exception):
    """A call's gRPC status: raised by the service methods, turned into the status by the
    server (``_checked``)."""

    def __init__(self, code: grpc.StatusCode, message: str) -> None:
        super().__init__(f"{code.name}: {message}")
        self.code = code
        self.message = message


def _varint(n: int) -> bytes:
    out = bytearray()
    while n > 0x7F:
        out.append((n & 0x7F) | 0x80)
        n >>= 7
    out.append(n)
    return bytes(out)


def _page_parts(v: tuple[int, bytes] | None) -> list[bytes]:
    """A GetPageResponse's wire bytes as parts, the page bytes among them uncopied (fields:
    1 exists, 2 data, 3 page_lsn; see pageserver.proto)."""
    if v is None:
        return []  # exists=false, no data, page_lsn 0: the empty message
    lsn, data = v
    return [b"\x08\x01\x12", _varint(len(data)), data, b"\x18", _varint(lsn)]


def encode_page(v: tuple[int, bytes] | None) -> bytes:
    """GetPageResponse, serialized by hand: the page is copied once, into the message
    (building a protobuf object and serializing it copied it twice)."""
    return b"".join(_page_parts(v))


def encode_pages(got: list[tuple[int, bytes] | None]) -> bytes:
    """GetPagesResponse (field 1: repeated GetPageResponse), serialized by hand."""
    parts: list[bytes] = []
    for v in got:
        inner = _page_parts(v)
        parts.append(b"\x0a")
        parts.append(_varint(sum(len(p) for p in inner)))
        parts.extend(inner)
    return b"".join(parts)


class PageServerService(pb_grpc.PageServerServicer):
    def __init__(self, ps: PageServer) -> None:
        self.ps = ps

    def _wait(self, wait_ms: int) -> float:
        return (
            min(wait_ms / 1000.0, MAX_WAIT_S)
            if wait_ms
            else self.ps.conf.timeline.wait_lsn_timeout_s
        )

    def _fail(self, context: grpc.ServicerContext | None, exc: Exception) -> NoReturn:
        """Raise ``exc`` as an ``RpcFailed`` (the status the caller gets)."""
        if isinstance(exc, LayerUnavailable):
            exc = DataLoss(str(exc))
        if isinstance(exc, ObjectNotFound):
            exc = DataLoss(f"object missing: {exc}")
        if isinstance(exc, PageServerError):
            raise RpcFailed(getattr(grpc.StatusCode, exc.code), str(exc)) from exc
        log.exception("internal error")
        raise RpcFailed(grpc.StatusCode.INTERNAL, f"internal error: {exc!r}") from exc

    def _timeline_at(self, tenant: str, timeline: str, lsn: int, wait_ms: int) -> Timeline:
        """The timeline once it has ingested ``lsn`` (waiting, bounded)."""
        tl = self.ps.get(tenant, timeline)
        if tl.last_record_lsn < lsn:
            tl.wait_for_lsn(lsn, self._wait(wait_ms))
        return tl

    def GetPage(
        self, request: pb.GetPageRequest, context: grpc.ServicerContext | None
    ) -> bytes:
        """The serialized GetPageResponse (see ``encode_page``)."""
        t0 = time.perf_counter()
        try:
            tl = self._timeline_at(
                request.tenant, request.timeline, request.lsn, request.wait_ms
            )
            v = tl.get_page(request.db_id, request.page_no, request.lsn)
        except Exception as exc:
            metrics.GETPAGE_ERRORS.labels(getattr(exc, "code", "INTERNAL")).inc()
            self._fail(context, exc)
        metrics.GETPAGE_SECONDS.observe(time.perf_counter() - t0)
        return encode_page(v)

    def GetPages(
        self, request: pb.GetPagesRequest, context: grpc.ServicerContext | None
    ) -> bytes:
        """The serialized GetPagesResponse (see ``encode_pages``)."""
        t0 = time.perf_counter()
        try:
            n = len(request.page_nos)
            if not 0 < n <= MAX_PAGES_PER_BATCH:
                raise InvalidArgument(
                    f"GetPages takes 1 to {MAX_PAGES_PER_BATCH} pages "
                    f"(MAX_PAGES_PER_BATCH), not {n}"
                )
            tl = self._timeline_at(
                request.tenant, request.timeline, request.lsn, request.wait_ms
            )
            got = tl.get_pages(request.db_id, list(request.page_nos), request.lsn)
        except Exception as exc:
            metrics.GETPAGE_ERRORS.labels(getattr(exc, "code", "INTERNAL")).inc()
            self._fail(context, exc)
        metrics.GETPAGE_SECONDS.observe(time.perf_counter() - t0)
        return encode_pages(got)

    def DbSize(
        self, request: pb.DbSizeRequest, context: grpc.ServicerContext | None
    ) -> pb.DbSizeResponse:
        try:
            tl = self._timeline_at(
                request.tenant, request.timeline, request.lsn, request.wait_ms
            )
            n = tl.db_size(request.db_id, request.lsn)
        except Exception as exc:
            self._fail(context, exc)
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
                self._wait(request.wait_ms),
            )
        except Exception as exc:
            self._fail(context, exc)
        return _info(tl)

    def ListTimelines(
        self, request: pb.ListTimelinesRequest, context: grpc.ServicerContext | None,
    ) -> pb.ListTimelinesResponse:
        tls = sorted(self.ps.timelines.items())
        return pb.ListTimelinesResponse(
            timelines=[_info(tl) for (t, _), tl in tls if not request.tenant or t == request.tenant]
        )

    def GetTimeline(
        self, request: pb.GetTimelineRequest, context: grpc.ServicerContext | None,
    ) -> pb.TimelineInfo:
        try:
            return _info(self.ps.get(request.tenant, request.timeline))
        except Exception as exc:
            self._fail(context, exc)

    def DeleteTimeline(
        self, request: pb.DeleteTimelineRequest, context: grpc.ServicerContext
    ) -> pb.DeleteTimelineResponse:
        try:
            self.ps.delete_timeline(request.tenant, request.timeline)
        except Exception as exc:
            self._fail(context, exc)
        return pb.DeleteTimelineResponse()

    def LeaseLsn(
        self, request: pb.LeaseLsnRequest, context: grpc.ServicerContext
    ) -> pb.LeaseLsnResponse:
        try:
            until = self.ps.lease_lsn(
                request.tenant, request.timeline, request.lsn, request.ttl_ms / 1000.0
            )
        except Exception as exc:
            self._fail(context, exc)
        return pb.LeaseLsnResponse(lsn=request.lsn, valid_until_ms=int(until * 1000))

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
        # Applied is not durable: only what is in uploaded layers survives a restart of the
        # page server, so the pusher must keep its WAL until durable_lsn covers it.
        return pb.IngestWalResponse(
            last_record_lsn=tl.last_record_lsn, applied=applied, skipped=skipped,
            durable_lsn=tl.remote_consistent_lsn,
        )

    def Maintenance(
        self, request: pb.MaintenanceRequest, context: grpc.ServicerContext
    ) -> pb.MaintenanceResponse:
        try:
            res = self.ps.maintenance(request.tenant, request.timeline, request.op)
        except Exception as exc:
            self._fail(context, exc)
        return pb.MaintenanceResponse(result=json.dumps(res))


Method = Callable[..., Any]


def _checked(name: str, method: Method, pol: RolePolicy | None) -> Callable[..., Any]:
    """The handler of one RPC: role check, malformed request check, the method; an
    ``RpcFailed`` it raises becomes the call's status."""

    def handler(request: Any, context: grpc.ServicerContext) -> Any:
        refusal = pol.refusal(name, context) if pol is not None else None
        if refusal is not None:
            context.abort(grpc.StatusCode.PERMISSION_DENIED, refusal)
        if isinstance(request, BadRequest):
            context.abort(
                grpc.StatusCode.INVALID_ARGUMENT, f"malformed request message: {request.error}"
            )
        try:
            return method(request, context)
        except RpcFailed as failed:
            context.abort(failed.code, failed.message)

    return handler


def _serialize(msg: Any) -> bytes:
    """Responses are protobuf messages, or (GetPage, GetPages) already wire bytes."""
    return msg if isinstance(msg, bytes) else bytes(msg.SerializeToString())


def _handlers(service: PageServerService, pol: RolePolicy | None = None) -> grpc.GenericRpcHandler:
    """The generated registration, except that a request which is not a valid protobuf
    gets INVALID_ARGUMENT with the parse error instead of grpc's generic INTERNAL; with
    ``pol`` (mutual TLS) a caller whose role is not in ROLE_TABLE gets PERMISSION_DENIED."""
    desc = pb.DESCRIPTOR.services_by_name["PageServer"]
    handlers = {
        m.name: grpc.unary_unary_rpc_method_handler(
            _checked(m.name, getattr(service, m.name), pol),
            request_deserializer=lenient(getattr(pb, m.input_type.name)),
            response_serializer=_serialize,
        )
        for m in desc.methods
    }
    return grpc.method_handlers_generic_handler(desc.full_name, handlers)


def serve(ps: PageServer, listen: str, workers: int = 16, tls: TlsFiles | None = None) -> grpc.Server:
    """Serve on ``listen``: with ``tls``, mutual TLS only and each caller's role checked
    against ROLE_TABLE; else plaintext.

    grpc's thread-pool server, not grpc.aio: measured with 8 concurrent GetPage readers,
    the aio server with reads answered on its loop cost more CPU per call (~325 µs against
    ~255-295 µs; nearly all of it grpc core's syscalls and wake-ups, our lookup ~1%), so the
    way to more pages per second is fewer calls (GetPages batches), not a new server."""
    opts = [
        ("grpc.max_receive_message_length", 64 * 1024 * 1024),
        ("grpc.max_send_message_length", 64 * 1024 * 1024),
    ]
    server = grpc.server(futures.ThreadPoolExecutor(max_workers=workers), options=opts)
    pol = policy("PageServer", ROLE_TABLE, enforce=True) if tls is not None else None
    server.add_generic_rpc_handlers((_handlers(PageServerService(ps), pol),))
    add_listen_port(server, listen, tls, "pageserver")
    server.start()
    return server


__all__ = ["PageServer", "ServerConf", "serve", "layer_key"]
