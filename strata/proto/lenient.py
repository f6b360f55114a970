"""Request deserializers that turn an undecodable message into a value, not an exception.

gRPC's generated registration answers a request that is not a valid protobuf with a generic
INTERNAL/UNKNOWN status and logs a traceback per request. Both services (log store, page
server) register their methods with ``lenient(MessageType)`` instead and answer a
``BadRequest`` with INVALID_ARGUMENT naming the parse error.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class BadRequest:
    """What a request that does not parse as its message type deserializes to."""

    error: str


def lenient(cls: Any) -> Callable[[bytes], Any]:
    """A request deserializer for message type ``cls`` that returns ``BadRequest`` on failure."""

    def parse(data: bytes) -> Any:
        try:
            return cls.FromString(data)
        except Exception as exc:  # DecodeError, or invalid UTF-8 in a string field
            return BadRequest(f"{type(exc).__name__}: {exc}")

    return parse
