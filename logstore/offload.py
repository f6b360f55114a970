"""Offload: sealed segments go to object storage; local copies go once the page server has
made everything below them durable (its remote consistent LSN).

Only fully committed, sealed segments are uploaded, so an uploaded segment never changes
(truncation only ever cuts uncommitted records). Keys are
``logstore/node-<id>/<tenant>/<timeline>/<start LSN hex>-<end LSN hex>.seg``; the object is
the segment file byte for byte, so the same frame CRCs protect it. Reads below the first
local segment fetch the object back (one cached at a time per node). One offloader task
serves every log of the node.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re
from collections.abc import Callable

from logstore.acceptor import Acceptor
from logstore.errors import CorruptionError, InvalidRequestError
from logstore.segments import Frame, Segment, parse_segment_object, read_file_range, seg_name
from strata.objectstore import ObjectStore

log = logging.getLogger("logstore.offload")

_KEY = re.compile(r"^([0-9A-F]{16})-([0-9A-F]{16})\.seg$")


def key_prefix(node_id: int, tenant: str, timeline: str) -> str:
    return f"logstore/node-{node_id}/{tenant}/{timeline}/"


def segment_key(acc: Acceptor, seg: Segment) -> str:
    return f"{key_prefix(acc.node_id, acc.tenant, acc.timeline)}{seg.start_lsn:016X}-{seg.end_lsn:016X}.seg"


def list_remote(store: ObjectStore, node_id: int, tenant: str, timeline: str) -> list[Segment]:
    """One log's uploaded segments, sorted and checked for gaps (blocking)."""
    prefix = key_prefix(node_id, tenant, timeline)
    out: list[Segment] = []
    for key in store.list(prefix):
        m = _KEY.match(key[len(prefix) :])
        if not m:
            continue
        start, end = int(m.group(1), 16), int(m.group(2), 16)
        out.append(Segment(start, end, local=False, uploaded=True))
    out.sort(key=lambda s: s.start_lsn)
    for a, b in zip(out, out[1:], strict=False):
        if a.end_lsn != b.start_lsn:
            raise CorruptionError(
                f"object storage is missing log range {a.end_lsn:#x}..{b.start_lsn:#x} of {prefix}"
            )
    return out


def delete_remote(store: ObjectStore, node_id: int, tenant: str, timeline: str) -> int:
    """Remove one log's objects (blocking); returns how many."""
    keys = store.list(key_prefix(node_id, tenant, timeline))
    for key in keys:
        store.delete(key)
    return len(keys)


class Offloader:
    def __init__(
        self, logs: Callable[[], list[Acceptor]], store: ObjectStore, interval_s: float = 0.5
    ) -> None:
        self.logs = logs
        self.store = store
        self.interval_s = interval_s
        self._cache: tuple[tuple[str, str, int], list[Frame]] | None = None
        self._task: asyncio.Task[None] | None = None
        self.lock = asyncio.Lock()
        """Held while one log is processed; deleting a log takes it so that no upload of
        that log is in flight when its objects are removed."""

    def attach(self, acc: Acceptor) -> None:
        acc.offload = self

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="offloader")

    async def close(self) -> None:
        if self._task:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    async def _run(self) -> None:
        while True:
            try:
                await self.step()
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("offload step failed; retrying")
            await asyncio.sleep(self.interval_s)

    async def step(self) -> None:
        for acc in self.logs():
            async with self.lock:
                if not acc.closed:
                    await self.step_log(acc)

    async def step_log(self, acc: Acceptor) -> None:
        """Upload sealed committed segments of one log, then delete local ones the page
        server no longer needs. The active (last) segment is never touched."""
        segs = acc.store.segments
        for seg in list(segs[:-1]):
            if seg.local and not seg.uploaded and seg.end_lsn <= acc.servable_lsn():
                path = acc.store.dir / seg_name(seg.start_lsn)
                data = await asyncio.to_thread(read_file_range, path, 0, seg.size)
                assert len(data) == seg.size, (path, len(data), seg.size)
                await asyncio.to_thread(self.store.put, segment_key(acc, seg), data)
                seg.uploaded = True
                acc.metrics.uploads.inc()
                log.info(
                    "uploaded segment",
                    extra={"log": acc.name, "start_lsn": seg.start_lsn, "end_lsn": seg.end_lsn},
                )
        rcl = acc.ctl.remote_consistent_lsn
        for seg in list(acc.store.segments[:-1]):
            if seg.local and seg.uploaded and seg.end_lsn <= rcl:
                seg.local = False
                path = acc.store.dir / seg_name(seg.start_lsn)
                await asyncio.to_thread(path.unlink)
                acc.metrics.deletes.inc()
                log.info(
                    "deleted local segment",
                    extra={"log": acc.name, "start_lsn": seg.start_lsn, "end_lsn": seg.end_lsn},
                )
        acc._update_gauges()

    async def read_remote(
        self, acc: Acceptor, seg: Segment, from_lsn: int, up_to: int, max_bytes: int
    ) -> list[Frame]:
        key = (acc.tenant, acc.timeline, seg.start_lsn)
        if self._cache is None or self._cache[0] != key:
            data = await asyncio.to_thread(self.store.get, segment_key(acc, seg))
            self._cache = (key, parse_segment_object(data, seg))
        frames = self._cache[1]
        out: list[Frame] = []
        total = 0
        started = False
        for f in frames:
            if f.lsn == from_lsn:
                started = True
            if not started:
                continue
            if f.end_lsn > up_to:
                break
            out.append(f)
            total += len(f.payload)
            if total >= max_bytes:
                break
        if not started:
            raise InvalidRequestError(f"LSN {from_lsn:#x} is not a record boundary")
        return out
