"""Encoding of backend messages and decoding of frontend message bodies (protocol v3).

Only byte layout lives here; what the messages mean is the session's business. Every
decoder raises ``ProtocolViolation`` on malformed input so the server can answer 08P01
instead of crashing.
"""

from __future__ import annotations

import struct
from collections.abc import Iterable, Sequence
from typing import Protocol


class ColumnDesc(Protocol):
    """What RowDescription needs of a result column (compute.sql.api.ColumnDesc has it)."""

    @property
    def name(self) -> str: ...
    @property
    def type_oid(self) -> int: ...
    @property
    def typmod(self) -> int: ...
    @property
    def table_oid(self) -> int: ...
    @property
    def column_no(self) -> int: ...


PROTOCOL_V3 = 196608
SSL_REQUEST = 80877103
GSSENC_REQUEST = 80877104
CANCEL_REQUEST = 80877102

_I32 = struct.Struct("!i")
_I16 = struct.Struct("!h")
_HDR = struct.Struct("!ci")
_FIELD = struct.Struct("!IhIhih")


class ProtocolViolation(Exception):
    """A frontend message is malformed (SQLSTATE 08P01)."""


# ---------------------------------------------------------------- backend messages


def message(kind: bytes, body: bytes = b"") -> bytes:
    return _HDR.pack(kind, len(body) + 4) + body


def cstr(text: str) -> bytes:
    return text.encode() + b"\x00"


AUTH_OK = message(b"R", _I32.pack(0))
AUTH_CLEARTEXT = message(b"R", _I32.pack(3))
PARSE_COMPLETE = message(b"1")
BIND_COMPLETE = message(b"2")
CLOSE_COMPLETE = message(b"3")
NO_DATA = message(b"n")
EMPTY_QUERY = message(b"I")
PORTAL_SUSPENDED = message(b"s")
COPY_DONE = message(b"c")
READY = {status: message(b"Z", status) for status in (b"I", b"T", b"E")}


def auth_md5(salt: bytes) -> bytes:
    return message(b"R", _I32.pack(5) + salt)


def auth_sasl(mechanisms: Sequence[str]) -> bytes:
    return message(b"R", _I32.pack(10) + b"".join(cstr(m) for m in mechanisms) + b"\x00")


def auth_sasl_continue(data: bytes) -> bytes:
    return message(b"R", _I32.pack(11) + data)


def auth_sasl_final(data: bytes) -> bytes:
    return message(b"R", _I32.pack(12) + data)


def parameter_status(name: str, value: str) -> bytes:
    return message(b"S", cstr(name) + cstr(value))


def backend_key_data(pid: int, secret: int) -> bytes:
    return message(b"K", struct.pack("!ii", pid, secret))


def command_complete(tag: str) -> bytes:
    return message(b"C", cstr(tag))


def row_description(columns: Sequence[ColumnDesc], formats: Sequence[int] = ()) -> bytes:
    parts = [_I16.pack(len(columns))]
    for i, col in enumerate(columns):
        fmt = formats[i] if len(formats) > 1 else (formats[0] if formats else 0)
        size = TYPE_SIZES.get(col.type_oid, -1)
        parts.append(cstr(col.name))
        parts.append(_FIELD.pack(col.table_oid, col.column_no, col.type_oid, size, col.typmod, fmt))
    return message(b"T", b"".join(parts))


def parameter_description(oids: Sequence[int]) -> bytes:
    return message(b"t", _I16.pack(len(oids)) + b"".join(_I32.pack(o) for o in oids))


_ONE_VALUE = struct.Struct("!cihi")  # DataRow header, one column, its length


def data_row(values: Sequence[bytes | None]) -> bytes:
    if len(values) == 1 and (one := values[0]) is not None:  # a point lookup's one value
        size = len(one)
        return _ONE_VALUE.pack(b"D", size + 10, 1, size) + one
    parts = [_I16.pack(len(values))]
    for v in values:
        if v is None:
            parts.append(b"\xff\xff\xff\xff")
        else:
            parts.append(_I32.pack(len(v)))
            parts.append(v)
    body = b"".join(parts)
    return _HDR.pack(b"D", len(body) + 4) + body


def copy_in_response(ncols: int, binary: bool = False) -> bytes:
    fmt = 1 if binary else 0
    return message(b"G", struct.pack("!bh", fmt, ncols) + _I16.pack(fmt) * ncols)


def copy_out_response(ncols: int, binary: bool = False) -> bytes:
    fmt = 1 if binary else 0
    return message(b"H", struct.pack("!bh", fmt, ncols) + _I16.pack(fmt) * ncols)


def copy_data(data: bytes) -> bytes:
    return message(b"d", data)


def error_fields(
    severity: str,
    sqlstate: str,
    text: str,
    detail: str | None = None,
    hint: str | None = None,
    position: int | None = None,
    fields: dict[str, str] | None = None,
) -> bytes:
    """ErrorResponse/NoticeResponse body; ``fields`` adds s/t/c/d/n (schema, table, column,
    data type, constraint) by their one-letter codes."""
    parts = [
        b"S" + cstr(severity),
        b"V" + cstr(severity),
        b"C" + cstr(sqlstate),
        b"M" + cstr(text),
    ]
    if detail:
        parts.append(b"D" + cstr(detail))
    if hint:
        parts.append(b"H" + cstr(hint))
    if position:
        parts.append(b"P" + cstr(str(position)))
    for code, value in (fields or {}).items():
        parts.append(code.encode() + cstr(value))
    parts.append(b"\x00")
    return b"".join(parts)


def error_response(sqlstate: str, text: str, severity: str = "ERROR", **extra: object) -> bytes:
    return message(b"E", error_fields(severity, sqlstate, text, **extra))  # type: ignore[arg-type]


def notice_response(sqlstate: str, text: str, severity: str = "NOTICE") -> bytes:
    return message(b"N", error_fields(severity, sqlstate, text))


TYPE_SIZES = {16: 1, 20: 8, 21: 2, 23: 4, 26: 4, 700: 4, 701: 8, 1082: 4, 1083: 8, 1114: 8,
              1184: 8, 2950: 16, 18: 1, 19: 64}


# ---------------------------------------------------------------- frontend bodies


class Reader:
    """A cursor over one message body; every read checks bounds."""

    __slots__ = ("buf", "pos")

    def __init__(self, buf: bytes) -> None:
        self.buf = buf
        self.pos = 0

    def int32(self) -> int:
        if self.pos + 4 > len(self.buf):
            raise ProtocolViolation("message too short: expected a 32-bit integer")
        (v,) = _I32.unpack_from(self.buf, self.pos)
        self.pos += 4
        return int(v)

    def int16(self) -> int:
        if self.pos + 2 > len(self.buf):
            raise ProtocolViolation("message too short: expected a 16-bit integer")
        (v,) = _I16.unpack_from(self.buf, self.pos)
        self.pos += 2
        return int(v)

    def byte(self) -> int:
        if self.pos >= len(self.buf):
            raise ProtocolViolation("message too short: expected a byte")
        v = self.buf[self.pos]
        self.pos += 1
        return v

    def raw(self, n: int) -> bytes:
        if n < 0 or self.pos + n > len(self.buf):
            raise ProtocolViolation("message too short: field runs past its end")
        v = self.buf[self.pos : self.pos + n]
        self.pos += n
        return v

    def cstring(self) -> str:
        end = self.buf.find(b"\x00", self.pos)
        if end < 0:
            raise ProtocolViolation("unterminated string in message")
        raw = self.buf[self.pos : end]
        self.pos = end + 1
        try:
            return raw.decode()
        except UnicodeDecodeError:
            raise InvalidEncoding(raw) from None

    def rest(self) -> bytes:
        v = self.buf[self.pos :]
        self.pos = len(self.buf)
        return v

    def done(self) -> None:
        if self.pos != len(self.buf):
            raise ProtocolViolation("message has trailing bytes")


class InvalidEncoding(Exception):
    """Text in a message is not valid UTF-8 (SQLSTATE 22021)."""

    def __init__(self, raw: bytes) -> None:
        super().__init__(f"invalid byte sequence for encoding \"UTF8\": 0x{raw[:2].hex()}")


def parse_startup(body: bytes) -> dict[str, str]:
    r = Reader(body)
    params: dict[str, str] = {}
    while True:
        key = r.cstring()
        if not key:
            break
        params[key] = r.cstring()
    if r.pos != len(body):
        raise ProtocolViolation("startup packet has trailing bytes")
    return params


def parse_parse(body: bytes) -> tuple[str, str, list[int]]:
    r = Reader(body)
    name = r.cstring()
    query = r.cstring()
    n = r.int16()
    if n < 0:
        raise ProtocolViolation("negative parameter type count")
    oids = [r.int32() for _ in range(n)]
    r.done()
    return name, query, oids


def _formats(r: Reader) -> list[int]:
    n = r.int16()
    if n < 0:
        raise ProtocolViolation("negative format count")
    fmts = [r.int16() for _ in range(n)]
    for f in fmts:
        if f not in (0, 1):
            raise ProtocolViolation(f"unsupported format code: {f}")
    return fmts


def parse_bind(body: bytes) -> tuple[str, str, list[int], list[bytes | None], list[int]]:
    r = Reader(body)
    portal = r.cstring()
    stmt = r.cstring()
    param_formats = _formats(r)
    n = r.int16()
    if n < 0:
        raise ProtocolViolation("negative parameter count")
    values: list[bytes | None] = []
    for _ in range(n):
        length = r.int32()
        values.append(None if length == -1 else r.raw(length))
    result_formats = _formats(r)
    r.done()
    return portal, stmt, param_formats, values, result_formats


def parse_describe_or_close(body: bytes) -> tuple[str, str]:
    r = Reader(body)
    kind = r.byte()
    name = r.cstring()
    r.done()
    if kind not in (ord("S"), ord("P")):
        raise ProtocolViolation(f"invalid DESCRIBE/CLOSE message subtype {kind}")
    return chr(kind), name


def parse_execute(body: bytes) -> tuple[str, int]:
    r = Reader(body)
    portal = r.cstring()
    limit = r.int32()
    r.done()
    return portal, limit


def parse_query(body: bytes) -> str:
    end = body.find(0)
    if end >= 0 and end == len(body) - 1:  # the usual: the text and its terminator, nothing after
        try:
            return body[:end].decode()
        except UnicodeDecodeError:
            raise InvalidEncoding(body[:end]) from None
    r = Reader(body)  # (the same errors for anything else)
    q = r.cstring()
    r.done()
    return q


def formats_for(fmts: Sequence[int], n: int) -> list[int]:
    """Expand a Bind format list (empty = all text, one = all that, else one per column)."""
    if not fmts:
        return [0] * n
    if len(fmts) == 1:
        return [fmts[0]] * n
    if len(fmts) != n:
        raise ProtocolViolation(f"bind message has {len(fmts)} result formats but query has {n} columns")
    return list(fmts)


def join(messages: Iterable[bytes]) -> bytes:
    return b"".join(messages)
