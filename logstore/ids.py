"""Tenant and timeline ids name a log and its directory, so they are checked strictly."""

from __future__ import annotations

import re

from logstore.errors import InvalidRequestError

MAX_ID_CHARS = 64
_ID = re.compile(r"[A-Za-z0-9_-]{1,64}")


def check_id(kind: str, value: str) -> str:
    """``value`` if it is a valid id (1..64 of [A-Za-z0-9_-]); else InvalidRequestError."""
    if not _ID.fullmatch(value):
        shown = value if len(value) <= MAX_ID_CHARS else value[:MAX_ID_CHARS] + "..."
        raise InvalidRequestError(
            f"invalid {kind} id {shown!r}: must be 1..{MAX_ID_CHARS} characters of [A-Za-z0-9_-]"
        )
    return value


def log_name(tenant: str, timeline: str) -> str:
    """How a log is named in messages."""
    return f"tenant {tenant!r} timeline {timeline!r}"
