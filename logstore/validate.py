"""Limits on request fields, checked at the RPC boundary.

Every field of every request is checked here before it reaches an ``Acceptor``, so a bad
value is answered INVALID_ARGUMENT and never becomes a ValueError (or an overflow) later:
a term is written into 8-byte frame headers and incremented by every later election, and
an LSN has payload lengths added to it.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from logstore.errors import InvalidRequestError

MAX_TERM = 1 << 62
"""Largest term accepted: far above any real term, yet ``term + 1`` and the proposer's
retries (a few increments each) stay inside u64 and i64."""
MAX_LSN = 1 << 62
"""Largest LSN accepted anywhere: adding a message's payload bytes stays inside i64."""
MAX_HISTORY_ENTRIES = 65536
"""A term history gains one entry per election that wrote records."""
MAX_NAME_CHARS = 256
"""Free-form names (a subscriber, a proposer) only label logs and status."""


def term(value: int, what: str = "term") -> int:
    if value < 1:
        raise InvalidRequestError(f"{what} must be positive")
    if value > MAX_TERM:
        raise InvalidRequestError(f"{what} {value} out of range: must be 1..{MAX_TERM}")
    return value


def lsn(value: int, what: str) -> int:
    if value > MAX_LSN:
        raise InvalidRequestError(f"{what} {value:#x} out of range: must be at most {MAX_LSN:#x}")
    return value


def name(value: str, what: str) -> str:
    if len(value) > MAX_NAME_CHARS:
        raise InvalidRequestError(f"{what} has {len(value)} characters, limit {MAX_NAME_CHARS}")
    return value


def history_entries(entries: Iterable[Any]) -> list[tuple[int, int]]:
    """A request's term history as (term, start LSN) pairs, each field in range."""
    out: list[tuple[int, int]] = []
    for e in entries:
        if len(out) >= MAX_HISTORY_ENTRIES:
            raise InvalidRequestError(f"term history has more than {MAX_HISTORY_ENTRIES} entries")
        out.append((term(int(e.term), "term history term"), lsn(int(e.start_lsn), "term history start LSN")))
    return out
