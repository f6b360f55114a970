"""Errors of the log store, shared by the acceptor, the proposer and the stream client.

Each maps to one gRPC status (see strata/proto/logstore.proto) so that a remote caller can
tell "deposed" from "retry elsewhere" from "your request is wrong".
"""

from __future__ import annotations


class LogstoreError(Exception):
    """Base class of log store errors."""


class FencedError(LogstoreError):
    """A higher term owns the log: this proposer is deposed and must stop writing."""

    def __init__(self, message: str, promised_term: int = 0) -> None:
        super().__init__(message)
        self.promised_term = promised_term


class QuorumLostError(LogstoreError):
    """No majority of acceptors answered within the deadline. The outcome is unknown."""


class CorruptionError(LogstoreError):
    """On-disk data is damaged somewhere other than a torn tail; the node must stop."""


class InvalidRequestError(LogstoreError):
    """A malformed request (bad CRC, empty or oversized record, inconsistent history)."""


class LsnGapError(LogstoreError):
    """An append does not start at the acceptor's end of log, or an LSN is not available."""


class NotSyncedError(LogstoreError):
    """The acceptor has not started the request's term (vote and StartTerm come first)."""


class TransportError(LogstoreError):
    """An acceptor could not be reached or the call failed in transit."""


class LogNotFoundError(LogstoreError):
    """No log for this (tenant, timeline) on the acceptor (never created, or deleted)."""


class LogExistsError(LogstoreError):
    """CreateLog of a log that already exists with another start LSN."""


class TooManyLogsError(LogstoreError):
    """CreateLog beyond the acceptor's limit on logs (--max-logs)."""
