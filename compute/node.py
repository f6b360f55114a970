"""What a compute node is (standalone, primary or replica) and what it reports about itself.

The engine's ``ConnectionFactory`` (``compute.engine``) is also the node: the SQL layer asks
it for its role (a replica opens databases read-only and rejects writes with 25006), its
LSNs and term (``pg_current_wal_lsn()``, ``pg_last_wal_replay_lsn()``, the control plane's
``strata_node_status()``), the replicas following it (``pg_stat_replication``), and to
promote a replica (``pg_promote()``). The storage behind it (``compute.standalone`` or
``compute.remote``) answers; the SQL layer never looks at storage types.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any, Literal

Role = Literal["standalone", "primary", "replica"]

WRITABLE = "writable"
"""``NodeStatus.state`` of a node that accepts writes (standalone or a healthy primary)."""
READ_ONLY = "read-only"
"""A replica serving snapshot reads at its replay LSN."""
FENCED = "fenced"
"""A primary deposed by a newer term: it accepts no writes ever again (25006)."""
NO_QUORUM = "no-quorum"
"""A primary that cannot reach a majority of log store nodes: writes fail (57P03) until
a quorum is back."""
PROMOTING = "promoting"
"""A replica taking the next term; writes wait for it."""


@dataclass(frozen=True)
class NodeStatus:
    """A snapshot of the node, for SQL functions, ``strata status`` and the control plane.

    LSNs are byte positions in the timeline's log. ``written_lsn``: end of the last commit
    handed to the log (primary); ``durable_lsn``: end of the last commit a majority has (what
    new snapshots read on a primary); ``replay_lsn``: end of the last commit a replica
    applied (what its snapshots read). On a primary ``replay_lsn == durable_lsn``.
    """

    role: Role
    state: str
    term: int = 0
    written_lsn: int = 0
    durable_lsn: int = 0
    replay_lsn: int = 0
    last_replay_ts_us: int = 0
    """Commit timestamp (µs since the epoch) of the last commit replayed (0: none yet)."""
    tenant: str = ""
    timeline: str = ""
    detail: str = ""
    """Why the node is in ``state`` (e.g. the term that fenced it), for humans."""
    extra: dict[str, Any] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        """The fields by name, in declaration order (``extra`` copied: it holds plain values)."""
        return {"role": self.role, "state": self.state, "term": self.term,
                "written_lsn": self.written_lsn, "durable_lsn": self.durable_lsn,
                "replay_lsn": self.replay_lsn, "last_replay_ts_us": self.last_replay_ts_us,
                "tenant": self.tenant, "timeline": self.timeline, "detail": self.detail,
                "extra": dict(self.extra)}

    def key(self) -> tuple[Any, ...]:
        """Every field's value, for telling whether two statuses answer alike (compared
        with ``==``, never hashed: ``extra`` values need not be hashable)."""
        return (self.role, self.state, self.term, self.written_lsn, self.durable_lsn,
                self.replay_lsn, self.last_replay_ts_us, self.tenant, self.timeline,
                self.detail, tuple(self.extra.items()))


class StatusText:
    """The JSON text of the last status seen, rebuilt only when a field changed.

    ``strata_node_status()`` is polled 50 times a second per compute by the proxy's health
    monitor (and by the control plane); between two polls an idle node's status rarely
    changes, and building the JSON (a dict of 11 fields, ``json.dumps``) cost several times
    what comparing the field values does. The text is a pure function of ``key()``, so it
    is never stale: any changed field (role, state, term, an LSN, ``extra``) rebuilds it
    (each field keeps one type, so values that compare equal serialize alike). One entry:
    bounded by construction.
    """

    __slots__ = ("_key", "_text")

    def __init__(self) -> None:
        self._key: tuple[Any, ...] | None = None
        self._text = ""

    def of(self, status: NodeStatus) -> str:
        key = status.key()
        if key != self._key:
            self._text = json.dumps(status.as_dict(), default=str)
            self._key = key
        return self._text


@dataclass(frozen=True)
class ReplicationPeer:
    """One reader of the timeline's log, as ``pg_stat_replication`` shows it.

    ``name`` is the subscriber's name (a replica's ``application_name``); ``sent_lsn`` is
    the highest LSN the log store streamed to it.
    """

    name: str
    address: str
    sent_lsn: int
    state: str = "streaming"
