"""Frontend (client-side) messages and a bounded message reader, for the proxy's server side.

The compute only decodes frontend messages (``messages.py``); the proxy also writes them to
computes and rewrites statement names in the ones it relays, so their byte layout is here.
"""

from __future__ import annotations

import asyncio
import struct

from strata.pgwire.messages import (
    CANCEL_REQUEST,
    PROTOCOL_V3,
    ProtocolViolation,
    Reader,
    cstr,
    message,
)

_I32 = struct.Struct("!i")
_I16 = struct.Struct("!h")

SYNC = message(b"S")
FLUSH = message(b"H")
TERMINATE = message(b"X")


def startup_message(params: dict[str, str]) -> bytes:
    body = _I32.pack(PROTOCOL_V3) + b"".join(cstr(k) + cstr(v) for k, v in params.items()) + b"\x00"
    return _I32.pack(len(body) + 4) + body


def cancel_request(pid: int, secret: int) -> bytes:
    return struct.pack("!iiii", 16, CANCEL_REQUEST, pid, secret)


def query(sql: str) -> bytes:
    return message(b"Q", cstr(sql))


def parse(name: str, sql: str, oids: list[int]) -> bytes:
    return message(b"P", cstr(name) + cstr(sql) + _I16.pack(len(oids))
                   + b"".join(_I32.pack(o) for o in oids))


def describe(kind: str, name: str) -> bytes:
    return message(b"D", kind.encode() + cstr(name))


def close(kind: str, name: str) -> bytes:
    return message(b"C", kind.encode() + cstr(name))


DEFERRED_BEGIN = b"b"
"""A proxy-only message (never sent by clients; a compute refuses it, FATAL 08P01, on any
connection that did not prove itself with the proxy's secret): a plain BEGIN the proxy
answered itself, sent ahead of the client's next message in the same write. Body: int64
microseconds the BEGIN waited in the proxy, then the BEGIN's text (a C string). The compute
starts the transaction then, dated back by the wait (now(), xact_start), and answers nothing;
if it cannot, the client's next statement gets the BEGIN's error (docs/proxy.md)."""
_DEFERRED_BEGIN_HEAD = struct.Struct("!cIq")


def deferred_begin(waited_us: int, sql: str) -> bytes:
    """The DEFERRED_BEGIN frame of a BEGIN with text ``sql`` that waited ``waited_us``."""
    text = sql.encode() + b"\x00"
    return _DEFERRED_BEGIN_HEAD.pack(DEFERRED_BEGIN, 12 + len(text), max(0, waited_us)) + text


def parse_deferred_begin(body: bytes) -> tuple[int, str]:
    """(microseconds waited, BEGIN text) of a DEFERRED_BEGIN body; ProtocolViolation if bad."""
    if len(body) < 9 or body[-1] != 0 or body.find(b"\x00", 8) != len(body) - 1:
        raise ProtocolViolation("malformed deferred BEGIN message")
    waited = struct.unpack_from("!q", body)[0]
    try:
        return waited, body[8:-1].decode()
    except UnicodeDecodeError:
        raise ProtocolViolation("malformed deferred BEGIN message") from None


def bind_with_statement(body: bytes, statement: str) -> bytes:
    """A Bind message whose body is ``body`` with its statement name replaced."""
    r = Reader(body)
    portal = r.cstring()
    r.cstring()
    return message(b"B", cstr(portal) + cstr(statement) + r.rest())


def bind_statement(body: bytes) -> tuple[str, str]:
    """(portal, statement) of a Bind body, without decoding its parameters."""
    r = Reader(body)
    portal = r.cstring()
    return portal, r.cstring()


def parse_parameter_status(body: bytes) -> tuple[str, str]:
    r = Reader(body)
    name = r.cstring()
    value = r.cstring()
    return name, value


def parse_error_fields(body: bytes) -> dict[str, str]:
    """ErrorResponse/NoticeResponse fields by their one-letter code."""
    fields: dict[str, str] = {}
    r = Reader(body)
    while r.pos < len(body):
        code = r.byte()
        if code == 0:
            break
        fields[chr(code)] = r.cstring()
    return fields


async def read_message(reader: asyncio.StreamReader, limit: int) -> tuple[bytes, bytes]:
    """One typed message; ``ProtocolViolation`` if its length is below 4 or its body above ``limit``."""
    header = await reader.readexactly(5)
    (length,) = _I32.unpack_from(header, 1)
    if length < 4 or length - 4 > limit:
        raise ProtocolViolation(f"invalid message length {length}")
    body = await reader.readexactly(length - 4) if length > 4 else b""
    return header[:1], body


def frame(kind: bytes, body: bytes) -> bytes:
    return message(kind, body)
