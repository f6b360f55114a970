"""The logs of one acceptor process: one ``Acceptor`` per (tenant, timeline).

On disk each log lives in ``DATA_DIR/logs/<tenant>/<timeline>/`` (its control file and
``segments/``). Logs are found again at startup by scanning that tree. Creating writes the
control file (with the start LSN) before answering; a directory without one is a create
that never finished and is removed at startup. Deleting renames the directory to a
tombstone (``<timeline>.deleted-<hex>``, which is never a valid id) and fsyncs, then removes
it: a crash in between leaves a tombstone that startup removes, never half a log.

Finding a request's log is one dict lookup; ids are validated only when that misses (a
valid log's key is valid by construction).

A log that is damaged on disk (corruption that is not a torn tail, a missing or failing
control file) is not opened: it is kept as *broken* with the reason, every request for it
is answered DATA_LOSS with that reason, and the other logs of the node serve normally.
Nothing of a broken log is changed on disk except by DeleteLog.
"""

from __future__ import annotations

import asyncio
import logging
import os
import shutil
import uuid
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from logstore import control
from logstore.acceptor import Acceptor, _fatal
from logstore.errors import CorruptionError, LogExistsError, LogNotFoundError, TooManyLogsError
from logstore.ids import check_id, log_name
from logstore.metrics import AcceptorMetrics
from logstore.segments import SUFFIX, fsync_dir

log = logging.getLogger("logstore.registry")

DEFAULT_MAX_LOGS = 1000
IO_WORKERS = 4
"""Worker threads shared by every log for control-file writes, truncation and (with
``--fsync thread``) group-commit fdatasyncs; each log keeps its own writes in order."""
TOMBSTONE = ".deleted-"
LOGS_DIR = "logs"

Key = tuple[str, str]


def _first_local_start(seg_dir: Path) -> int | None:
    if not seg_dir.is_dir():
        return None
    starts: list[int] = []
    for p in seg_dir.iterdir():
        if p.name.endswith(SUFFIX):
            try:
                starts.append(int(p.name[: -len(SUFFIX)], 16))
            except ValueError:  # SegmentStore.open refuses the log with a clear message
                continue
    return min(starts) if starts else None


def _has_segments(seg_dir: Path) -> bool:
    return seg_dir.is_dir() and any(p.name.endswith(SUFFIX) for p in seg_dir.iterdir())


class LogRegistry:
    def __init__(
        self,
        node_id: int,
        data_dir: Path,
        *,
        segment_bytes: int = 16 << 20,
        metrics: AcceptorMetrics | None = None,
        inline_fsync: bool = True,
        max_logs: int = DEFAULT_MAX_LOGS,
        object_store: Any = None,
        on_fatal: Callable[[BaseException], None] = _fatal,
    ) -> None:
        self.node_id = node_id
        self.data_dir = data_dir
        self.root = data_dir / LOGS_DIR
        self.segment_bytes = segment_bytes
        self.metrics = metrics or AcceptorMetrics()
        self.inline_fsync = inline_fsync
        self.max_logs = max_logs
        self.object_store = object_store
        self.on_fatal = on_fatal
        self.logs: dict[Key, Acceptor] = {}
        self.broken: dict[Key, str] = {}
        """Logs that refused to open, with the reason (see the module docstring)."""
        self.offloader: Any = None  # logstore.offload.Offloader when an object store is set
        self._io = ThreadPoolExecutor(max_workers=IO_WORKERS, thread_name_prefix=f"logio-{node_id}")
        self._admin = asyncio.Lock()  # create/delete one at a time
        self._started = False

    # ---- lookup ------------------------------------------------------------------------

    def get(self, tenant: str, timeline: str) -> Acceptor:
        acc = self.logs.get((tenant, timeline))
        if acc is not None:
            return acc
        check_id("tenant", tenant)
        check_id("timeline", timeline)
        self._check_broken(tenant, timeline)
        raise LogNotFoundError(f"no log for {log_name(tenant, timeline)} on node {self.node_id}")

    def _check_broken(self, tenant: str, timeline: str) -> None:
        reason = self.broken.get((tenant, timeline))
        if reason is not None:
            raise CorruptionError(
                f"log {log_name(tenant, timeline)} is damaged on node {self.node_id} and was not "
                f"opened: {reason}"
            )

    def all(self) -> list[Acceptor]:
        return list(self.logs.values())

    # ---- startup and shutdown ----------------------------------------------------------

    def _new(self, tenant: str, timeline: str, start_lsn: int) -> Acceptor:
        acc = Acceptor(
            self.node_id,
            self.root / tenant / timeline,
            self.segment_bytes,
            self.metrics,
            self.on_fatal,
            self.inline_fsync,
            tenant=tenant,
            timeline=timeline,
            start_lsn=start_lsn,
            io=self._io,
        )
        if self.offloader is not None:
            self.offloader.attach(acc)
        return acc

    def _remote_for(self, acc: Acceptor) -> tuple[list[Any], set[tuple[int, int]]]:
        if self.object_store is None:
            return [], set()
        from logstore.offload import list_remote

        all_remote = list_remote(self.object_store, self.node_id, acc.tenant, acc.timeline)
        first_local = _first_local_start(acc.store.dir)
        remote = [s for s in all_remote if first_local is None or s.end_lsn <= first_local]
        return remote, {(s.start_lsn, s.end_lsn) for s in all_remote}

    def open_all(self) -> list[str]:
        """Find every log under ``logs/`` (blocking; at startup). Removes tombstones and
        unfinished creates; raises CorruptionError for a damaged log."""
        self.root.mkdir(parents=True, exist_ok=True)
        if (self.data_dir / control.NAME).exists():
            log.warning("%s holds a single-log (pre multi-log) layout; it is ignored", self.data_dir)
        notes: list[str] = []
        for tdir in sorted(self.root.iterdir()):
            if not tdir.is_dir():
                continue
            for ldir in sorted(tdir.iterdir()):
                if not ldir.is_dir():
                    log.warning("unexpected file %s in the logs directory; ignored", ldir)
                    continue
                unfinished = not control.exists(ldir) and not _has_segments(ldir / "segments")
                if TOMBSTONE in ldir.name or unfinished:
                    shutil.rmtree(ldir)
                    fsync_dir(tdir)
                    notes.append(f"removed {ldir} (a deleted log or an unfinished create)")
                    continue
                try:
                    acc = self._open_one(tdir.name, ldir)
                except CorruptionError as exc:
                    self.broken[(tdir.name, ldir.name)] = str(exc)
                    log.error(
                        "log %s is damaged and was not opened (the other logs serve): %s",
                        log_name(tdir.name, ldir.name), exc,
                    )  # fmt: skip
                    continue
                notes += acc.open_notes
                self.logs[(acc.tenant, acc.timeline)] = acc
            if not any(tdir.iterdir()):
                tdir.rmdir()
                fsync_dir(self.root)
        self.metrics.logs.set(len(self.logs))
        return notes

    def _open_one(self, tenant: str, ldir: Path) -> Acceptor:
        acc = self._new(tenant, ldir.name, 0)
        try:
            if (acc.tenant, acc.timeline) != (tenant, ldir.name) and not acc.fresh:
                raise CorruptionError(f"{ldir}: control file names {log_name(acc.tenant, acc.timeline)}")
            remote, uploaded = self._remote_for(acc)
            acc.open_notes = [f"{acc.name}: {n}" for n in acc.open(remote)]
        except BaseException:
            acc.store.close()
            raise
        for seg in acc.store.segments:
            if seg.local and (seg.start_lsn, seg.end_lsn) in uploaded:
                seg.uploaded = True
        return acc

    def start_background(self) -> None:
        self._started = True
        for acc in self.logs.values():
            acc.start_background()

    async def close(self) -> None:
        for acc in list(self.logs.values()):
            await acc.close()
        self._io.shutdown(wait=True)

    # ---- create and delete -------------------------------------------------------------

    async def create(self, tenant: str, timeline: str, start_lsn: int) -> Acceptor:
        """Create an empty log starting at ``start_lsn``; the existing one if it has the same
        start LSN (LogExistsError otherwise)."""
        check_id("tenant", tenant)
        check_id("timeline", timeline)
        async with self._admin:
            self._check_broken(tenant, timeline)
            acc = self.logs.get((tenant, timeline))
            if acc is not None:
                if acc.start_lsn != start_lsn:
                    raise LogExistsError(
                        f"log {acc.name} already exists on node {self.node_id} with start LSN "
                        f"{acc.start_lsn:#x}, not {start_lsn:#x}"
                    )
                return acc
            if len(self.logs) >= self.max_logs:
                self.metrics.refused.labels("max_logs").inc()
                raise TooManyLogsError(
                    f"node {self.node_id} already hosts {len(self.logs)} logs (--max-logs {self.max_logs})"
                )
            if self.object_store is not None:  # leftovers of an earlier log of that name
                from logstore.offload import delete_remote

                await asyncio.to_thread(delete_remote, self.object_store, self.node_id, tenant, timeline)
            await self._run(self._create_files, tenant, timeline, start_lsn)
            acc = self._new(tenant, timeline, start_lsn)
            acc.open([])
            if self._started:
                acc.start_background()
            self.logs[(tenant, timeline)] = acc
            self.metrics.logs.set(len(self.logs))
            log.info("created log", extra={"tenant": tenant, "timeline": timeline, "start_lsn": start_lsn})
            return acc

    def _create_files(self, tenant: str, timeline: str, start_lsn: int) -> None:
        tdir = self.root / tenant
        new_tenant = not tdir.exists()
        tdir.mkdir(exist_ok=True)
        ldir = tdir / timeline
        if ldir.exists():  # a directory without control file: an unfinished create
            shutil.rmtree(ldir)
        ldir.mkdir()
        (ldir / "segments").mkdir()
        state = control.ControlState(
            self.node_id, commit_lsn=start_lsn, tenant=tenant, timeline=timeline, start_lsn=start_lsn
        )
        control.save(ldir, state)  # fsyncs the log directory
        fsync_dir(tdir)
        if new_tenant:
            fsync_dir(self.root)

    async def delete(self, tenant: str, timeline: str) -> None:
        """Remove a log: refuse new requests, stop it, remove its files (tombstone first)
        and its offloaded objects."""
        async with self._admin:
            if (tenant, timeline) in self.broken:  # nothing to keep: remove the damaged files
                await self._run(self._delete_files, self.root / tenant / timeline)
                del self.broken[(tenant, timeline)]
                log.info("deleted damaged log", extra={"tenant": tenant, "timeline": timeline})
                return
            acc = self.get(tenant, timeline)
            del self.logs[(tenant, timeline)]
            self.metrics.logs.set(len(self.logs))
            lock = self.offloader.lock if self.offloader is not None else asyncio.Lock()
            async with lock:
                await acc.close(discard=True)
                self.metrics.forget_log(tenant, timeline)
                await self._run(self._delete_files, acc.dir)
                if self.object_store is not None:
                    from logstore.offload import delete_remote

                    try:
                        await asyncio.to_thread(delete_remote, self.object_store, self.node_id, tenant, timeline)
                    except Exception:  # the files are gone; a later create removes leftovers
                        log.exception("removing offloaded segments of %s failed", acc.name)
            log.info("deleted log", extra={"tenant": tenant, "timeline": timeline})

    def _delete_files(self, ldir: Path) -> None:
        tdir = ldir.parent
        tomb = tdir / f"{ldir.name}{TOMBSTONE}{uuid.uuid4().hex[:12]}"
        os.rename(ldir, tomb)
        fsync_dir(tdir)  # from here on the log is gone, even after a crash
        shutil.rmtree(tomb)
        try:
            tdir.rmdir()
            fsync_dir(self.root)
        except OSError:  # other logs of the tenant remain
            fsync_dir(tdir)

    async def _run(self, fn: Callable[..., None], *args: object) -> None:
        try:
            await asyncio.get_running_loop().run_in_executor(self._io, fn, *args)
        except OSError as exc:
            self.on_fatal(exc)
            raise
