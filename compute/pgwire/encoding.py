"""Client encodings other than UTF8, converted at the wire (PostgreSQL's client_encoding).

The server works in UTF-8. For a LATIN1 / LATIN9 / WIN1252 client, text the client sends (query
text, Parse and Bind strings, text-format parameters) is converted to UTF-8 when the message is
read, and text sent back (row values in text format, column names, errors, notices, parameter
statuses, command tags) is converted when it is written. UTF8 and SQL_ASCII clients get no
conversion (SQL_ASCII passes bytes through; the input must still be valid UTF-8, as PostgreSQL
checks it against the server encoding). A character without an equivalent is 22P05 with
PostgreSQL's message. All these encodings are single-byte, so a message converts on its own.
"""

from __future__ import annotations

import struct
from collections.abc import Callable, Sequence
from typing import Any

from compute.sql.api import ColumnDesc, SqlError

# PostgreSQL's canonical name -> Python codec (compute/settings.py maps the aliases)
CODECS = {"LATIN1": "latin-1", "LATIN9": "iso8859-15", "WIN1252": "cp1252"}
_TEXT_OIDS = frozenset({25, 1043, 1042, 19, 18})  # text-like types whose binary form is the text
_TEXT_BODY = frozenset(b"ENSC")  # ErrorResponse, NoticeResponse, ParameterStatus, CommandComplete

Encoder = Callable[[Any], bytes | None]


def _hex(raw: bytes) -> str:
    return " ".join(f"0x{b:02x}" for b in raw)


class Transcoder:
    """Conversions between UTF-8 and one single-byte client encoding."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.codec = CODECS[name]

    # ---- from the client

    def to_server(self, raw: bytes) -> bytes:
        try:
            return raw.decode(self.codec).encode()
        except UnicodeDecodeError as exc:
            bad = raw[exc.start : exc.start + 1]
            raise SqlError("22P05", f'character with byte sequence {_hex(bad)} in encoding "{self.name}" '
                                    f'has no equivalent in encoding "UTF8"') from None

    def incoming(self, kind: bytes, body: bytes) -> bytes:
        """A frontend message with its text converted to UTF-8 (Query, Parse, Bind)."""
        if kind == b"Q":
            return self.to_server(body)
        if kind == b"P":  # name, query, then parameter type OIDs (binary)
            name_end = body.index(b"\0")
            query_end = body.index(b"\0", name_end + 1)
            return self.to_server(body[: query_end + 1]) + body[query_end + 1 :]
        if kind == b"B":
            return self._bind(body)
        return body

    def _bind(self, body: bytes) -> bytes:
        """Bind: portal and statement names, and the text-format parameter values."""
        portal_end = body.index(b"\0")
        stmt_end = body.index(b"\0", portal_end + 1)
        out = [self.to_server(body[: stmt_end + 1])]
        pos = stmt_end + 1
        (nformats,) = struct.unpack_from("!h", body, pos)
        formats = struct.unpack_from(f"!{nformats}h", body, pos + 2)
        pos_values = pos + 2 + 2 * nformats
        out.append(body[pos:pos_values])
        (nvalues,) = struct.unpack_from("!h", body, pos_values)
        out.append(body[pos_values : pos_values + 2])
        pos = pos_values + 2
        for i in range(nvalues):
            (length,) = struct.unpack_from("!i", body, pos)
            pos += 4
            if length < 0:
                out.append(struct.pack("!i", length))
                continue
            value = body[pos : pos + length]
            pos += length
            fmt = formats[0] if nformats == 1 else formats[i] if nformats else 0
            if fmt == 0:
                value = self.to_server(value)
            out.append(struct.pack("!i", len(value)) + value)
        out.append(body[pos:])
        return b"".join(out)

    # ---- to the client

    def to_client(self, raw: bytes, *, strict: bool = True) -> bytes:
        text = raw.decode(errors="replace")
        try:
            return text.encode(self.codec)
        except UnicodeEncodeError as exc:
            if not strict:
                return text.encode(self.codec, errors="replace")
            bad = text[exc.start].encode()
            raise SqlError("22P05", f'character with byte sequence {_hex(bad)} in encoding "UTF8" has no '
                                    f'equivalent in encoding "{self.name}"') from None

    def wrap(self, encoders: list[Encoder], columns: Sequence[ColumnDesc], formats: Sequence[int]
             ) -> list[Encoder]:
        """Row encoders whose text output is converted (binary numbers, dates ... stay as they are)."""
        out: list[Encoder] = []
        for i, enc in enumerate(encoders):
            fmt = formats[0] if len(formats) == 1 else formats[i] if i < len(formats) else 0
            if fmt == 0 or columns[i].type_oid in _TEXT_OIDS:
                out.append(self._converting(enc))
            else:
                out.append(enc)
        return out

    def _converting(self, enc: Encoder) -> Encoder:
        def convert(value: Any) -> bytes | None:
            raw = enc(value)
            return raw if raw is None or raw.isascii() else self.to_client(raw)
        return convert

    def outgoing(self, data: bytes) -> bytes:
        """Backend messages with their text converted: errors, notices, parameter statuses, command
        tags, column names and notifications (row values were converted by their encoders)."""
        out: list[bytes] = []
        pos, end = 0, len(data)
        while pos < end:
            kind = data[pos]
            (length,) = struct.unpack_from("!i", data, pos + 1)
            body = data[pos + 5 : pos + 1 + length]
            if body.isascii() or kind not in _TEXT_BODY and kind not in b"TA":
                out.append(data[pos : pos + 1 + length])
            else:
                if kind == ord("T"):
                    converted = self._row_description(body)
                elif kind == ord("A"):  # NotificationResponse: pid, then channel and payload
                    converted = body[:4] + self.to_client(body[4:], strict=False)
                else:
                    converted = self.to_client(body, strict=False)
                out.append(bytes((kind,)) + struct.pack("!i", len(converted) + 4) + converted)
            pos += 1 + length
        return b"".join(out)

    def _row_description(self, body: bytes) -> bytes:
        (count,) = struct.unpack_from("!h", body, 0)
        out = [body[:2]]
        pos = 2
        for _ in range(count):
            name_end = body.index(b"\0", pos)
            out.append(self.to_client(body[pos:name_end], strict=False) + b"\0")
            out.append(body[name_end + 1 : name_end + 19])  # table, attnum, type, size, typmod, format
            pos = name_end + 19
        return b"".join(out)


def wrap_encoders(conv: Transcoder | None, encoders: list[Encoder], columns: Sequence[ColumnDesc],
                  formats: Sequence[int]) -> list[Encoder]:
    return encoders if conv is None else conv.wrap(encoders, columns, formats)


def transcoder(name: str) -> Transcoder | None:
    """The conversions for a client encoding, None when the bytes pass as they are."""
    return Transcoder(name) if name in CODECS else None
