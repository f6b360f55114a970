"""The replicated write-ahead log: acceptor processes and the proposer library.

"The log is the data": a record is durable once a majority of acceptors fdatasync'ed it.
See docs/logstore.md for the protocol and the on-disk format.
"""

from __future__ import annotations

from logstore.errors import (
    CorruptionError,
    FencedError,
    LogExistsError,
    LogNotFoundError,
    LogstoreError,
    QuorumLostError,
    TooManyLogsError,
)

__all__ = [
    "CorruptionError",
    "FencedError",
    "LogExistsError",
    "LogNotFoundError",
    "LogStoreClient",
    "LogstoreError",
    "QuorumLostError",
    "TooManyLogsError",
    "Proposer",
    "SyncProposer",
    "stream_committed",
]


def __getattr__(name: str) -> object:
    # Lazy: importing the package for its errors must not pull in grpc.
    if name in ("Proposer", "SyncProposer"):
        from logstore import proposer

        return getattr(proposer, name)
    if name == "LogStoreClient":
        from logstore.client import LogStoreClient

        return LogStoreClient
    if name == "stream_committed":
        from logstore.stream import stream_committed

        return stream_committed
    raise AttributeError(name)
