"""A log's control file: promised term, term history and a few LSN hints.

It is small and replaced atomically (write a temp file, fsync, rename, fsync the directory),
so a crash leaves either the old or the new version. A CRC32C guards against a damaged file:
a control file that fails its check stops the node (the promise is what makes fencing safe,
so guessing it would be wrong).
"""

from __future__ import annotations

import json
import os
import struct
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import crc32c

from logstore.errors import CorruptionError
from logstore.segments import fsync_dir

MAGIC = b"STRATA-LOGSTORE-CONTROL-1\n"
NAME = "control"
_CRC = struct.Struct("<I")


@dataclass
class ControlState:
    node_id: int
    promised_term: int = 0
    term_history: list[tuple[int, int]] = field(default_factory=list)
    """(term, start LSN) in increasing term order: records from start LSN on were written by
    the proposer of that term (until the next entry's start)."""
    commit_lsn: int = 0
    """A lower bound of the commit LSN, saved lazily; never above ``durable_lsn``."""
    remote_consistent_lsn: int = 0
    tenant: str = ""
    timeline: str = ""
    start_lsn: int = 0
    """The log's first LSN (its branch point); fixed when the log is created."""
    durable_lsn: int = 0
    """Every record below it was fdatasync'ed before this file was written: the log must
    reach it on open, and damage below it is never a torn write (0 in files written before
    it existed: no floor)."""

    def encode(self) -> bytes:
        body = json.dumps(
            {
                "node_id": self.node_id,
                "promised_term": self.promised_term,
                "term_history": self.term_history,
                "commit_lsn": self.commit_lsn,
                "remote_consistent_lsn": self.remote_consistent_lsn,
                "tenant": self.tenant,
                "timeline": self.timeline,
                "start_lsn": self.start_lsn,
                "durable_lsn": self.durable_lsn,
            },
            sort_keys=True,
        ).encode()
        return MAGIC + _CRC.pack(crc32c.crc32c(body)) + body


def exists(directory: Path) -> bool:
    return (directory / NAME).is_file()


def load(directory: Path, node_id: int) -> ControlState:
    """Read the control file; a missing one means a fresh log (the caller decides whether
    a log may be fresh: one with segments may not)."""
    path = directory / NAME
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        return ControlState(node_id)
    if not data.startswith(MAGIC) or len(data) < len(MAGIC) + _CRC.size:
        raise CorruptionError(f"{path}: not a log store control file")
    (crc,) = _CRC.unpack_from(data, len(MAGIC))
    body = data[len(MAGIC) + _CRC.size :]
    if crc32c.crc32c(body) != crc:
        raise CorruptionError(f"{path}: control file fails its CRC32C check")
    try:
        raw = json.loads(body)
        state = _state(raw)
    except (ValueError, TypeError, KeyError) as exc:  # a CRC collision, or a bug: never guess
        raise CorruptionError(f"{path}: control file does not parse: {exc}") from None
    if state.node_id != node_id:
        raise CorruptionError(f"{path}: belongs to node {state.node_id}, this is node {node_id}")
    return state


def _state(raw: Any) -> ControlState:
    return ControlState(
        node_id=int(raw["node_id"]),
        promised_term=int(raw["promised_term"]),
        term_history=[(int(t), int(s)) for t, s in raw["term_history"]],
        commit_lsn=int(raw["commit_lsn"]),
        remote_consistent_lsn=int(raw.get("remote_consistent_lsn", 0)),
        tenant=str(raw.get("tenant", "")),
        timeline=str(raw.get("timeline", "")),
        start_lsn=int(raw.get("start_lsn", 0)),
        durable_lsn=int(raw.get("durable_lsn", 0)),
    )


def save(directory: Path, state: ControlState) -> None:
    """Atomically replace the control file (blocking; run it off the event loop)."""
    tmp = directory / (NAME + ".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
    try:
        data = memoryview(state.encode())
        while data:
            data = data[os.write(fd, data) :]
        os.fsync(fd)
    finally:
        os.close(fd)
    os.replace(tmp, directory / NAME)
    fsync_dir(directory)
