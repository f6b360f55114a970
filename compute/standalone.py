"""Standalone storage: the local store and the page VFS in one process (`--standalone`)."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from pathlib import Path

from compute.localstore import LocalStore
from compute.node import WRITABLE, NodeStatus, ReplicationPeer, Role
from compute.vfs import StrataVFS, VfsConnections
from strata.storage import StorageError


class StandaloneFactory(VfsConnections):
    """The engine's ConnectionFactory over an embedded LocalStore in ``data_dir``."""

    def __init__(self, data_dir: Path, *, page_cache_mb: int = 256) -> None:
        self.store = LocalStore(data_dir)
        self.vfs = StrataVFS(self.store, self.store, cache_kib=page_cache_mb * 1024,
                             temp_dir=str(data_dir))

    def durable_lsn(self) -> int:
        return self.store.durable_lsn

    def role(self) -> Role:
        return "standalone"

    def status(self) -> NodeStatus:
        durable = self.store.durable_lsn
        return NodeStatus(role="standalone", state=WRITABLE, written_lsn=self.latest_lsn(),
                          durable_lsn=durable, replay_lsn=durable)

    def write_state(self) -> str:
        return WRITABLE

    def attach_loop(self, loop: asyncio.AbstractEventLoop) -> bool:
        """Acknowledge commits on the serving loop, group commit through Linux AIO
        (``LocalStore.attach_loop``); call it on that loop."""
        return self.store.attach_loop(loop)

    def prewarm(self, db_ids: Sequence[int]) -> None:
        """Nothing: pages are one ``pread`` away in the local store."""

    def promote(self, timeout_s: float) -> None:
        raise StorageError("a standalone compute has no replicas and cannot be promoted")

    def replication(self) -> list[ReplicationPeer]:
        return []

    def close(self) -> None:
        self.store.close()
