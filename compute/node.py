"""What a compute node is (standalone, primary or replica) and what it reports about itself.

The engine's ``ConnectionFactory`` (``compute.engine``) is also the node: the SQL layer asks
it for its role (a replica opens databases read-only and rejects writes with 25006), its
LSNs and term (``pg_current_wal_lsn()``, ``pg_last_wal_replay_lsn()``, the control plane's
``strata_node_status()``), the replicas following it (``pg_stat_replication``), and to
promote a replica (``pg_promote()``). The storage behind it (``compute.standalone`` or
``compute.remote``) answers; the SQL layer never looks at storage types.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
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
        return asdict(self)


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
