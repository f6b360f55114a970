"""COPY's text and CSV formats: incremental parsing of CopyData and formatting of rows.

PostgreSQL's text format escapes with backslashes (``\\N`` is NULL); CSV quotes fields and
an unquoted empty field is NULL. Data arrives in arbitrary chunks, so the parsers keep the
partial line between calls.
"""

from __future__ import annotations

import re
import struct
from collections.abc import Callable, Sequence

from compute.sql.api import CopySpec, SqlError

_ESCAPES = {"b": "\b", "f": "\f", "n": "\n", "r": "\r", "t": "\t", "v": "\v", "\\": "\\"}
_ESCAPE_RE = re.compile(r"\\(x[0-9A-Fa-f]{1,2}|[0-7]{1,3}|.)", re.DOTALL)


def _unescape_match(m: re.Match[str]) -> str:
    s = m.group(1)
    if s[0] == "x" and len(s) > 1:
        return chr(int(s[1:], 16))
    if s[0].isdigit() and s[0] in "01234567":
        return chr(int(s, 8) & 0xFF)
    return _ESCAPES.get(s, s)


_BINARY_SIGNATURE = b"PGCOPY\n\xff\r\n\x00"


class BinaryCopyParser:
    """COPY's binary format: a signature header, then tuples of length-prefixed fields."""

    def __init__(self, ncols: int) -> None:
        self.ncols = ncols
        self._buf = bytearray()
        self._header_done = False
        self._ended = False
        self.line_no = 0

    def feed(self, data: bytes) -> list[list[bytes | None]]:
        self._buf += data
        rows: list[list[bytes | None]] = []
        buf = self._buf
        pos = 0
        if not self._header_done:
            if len(buf) < 19:
                return rows
            if bytes(buf[:11]) != _BINARY_SIGNATURE:
                raise SqlError("22P04", "COPY file signature not recognized")
            (ext_len,) = struct.unpack_from("!i", buf, 15)
            if ext_len < 0:
                raise SqlError("22P04", "invalid COPY file header (negative extension length)")
            if len(buf) < 19 + ext_len:
                return rows
            pos = 19 + ext_len
            self._header_done = True
        while not self._ended and pos + 2 <= len(buf):
            (nfields,) = struct.unpack_from("!h", buf, pos)
            if nfields == -1:
                self._ended = True
                pos += 2
                break
            if nfields != self.ncols:
                raise SqlError("22P04", f"row field count is {nfields}, expected {self.ncols}")
            p = pos + 2
            fields: list[bytes | None] = []
            complete = True
            for _ in range(nfields):
                if p + 4 > len(buf):
                    complete = False
                    break
                (length,) = struct.unpack_from("!i", buf, p)
                p += 4
                if length == -1:
                    fields.append(None)
                    continue
                if length < 0:
                    raise SqlError("22P04", "invalid field length in binary COPY data")
                if p + length > len(buf):
                    complete = False
                    break
                fields.append(bytes(buf[p : p + length]))
                p += length
            if not complete:
                break
            self.line_no += 1
            rows.append(fields)
            pos = p
        del buf[:pos]
        return rows

    def finish(self) -> list[list[bytes | None]]:
        if self._buf and not self._ended:
            raise SqlError("22P04", "unexpected EOF in COPY data")
        return []


class CopyParser:
    """Turns CopyData chunks into rows of text fields (None for NULL)."""

    def __init__(self, spec: CopySpec, ncols: int) -> None:
        self.spec = spec
        self.ncols = ncols
        self._buf = b""
        self._header_pending = spec.header
        self._ended = False
        self.line_no = 0
        if spec.format != "binary" and len(spec.delimiter) != 1:
            raise SqlError("22023", "COPY delimiter must be a single one-byte character")

    def feed(self, data: bytes) -> list[list[str | None]]:
        """Parse what is complete in ``data`` (plus what was left over)."""
        self._buf += data
        if self.spec.format == "csv":
            return self._csv_rows(final=False)
        rows: list[list[str | None]] = []
        start = 0
        buf = self._buf
        while not self._ended:
            end = buf.find(b"\n", start)
            if end < 0:
                break
            line = buf[start:end]
            start = end + 1
            row = self._text_line(line)
            if row is not None:
                rows.append(row)
        self._buf = buf[start:]
        return rows

    def finish(self) -> list[list[str | None]]:
        """End of data: parse a last line without a newline."""
        if self.spec.format == "csv":
            return self._csv_rows(final=True)
        rows: list[list[str | None]] = []
        if self._buf and not self._ended:
            row = self._text_line(self._buf)
            if row is not None:
                rows.append(row)
        self._buf = b""
        return rows

    def _decode(self, raw: bytes) -> str:
        try:
            return raw.decode()
        except UnicodeDecodeError as exc:
            bad = raw[exc.start : exc.start + 1].hex()
            raise SqlError("22021", f'invalid byte sequence for encoding "UTF8": 0x{bad}') from None

    def _text_line(self, raw: bytes) -> list[str | None] | None:
        self.line_no += 1
        if raw.endswith(b"\r"):
            raw = raw[:-1]
        if raw == b"\\.":
            self._ended = True
            return None
        if self._header_pending:
            self._header_pending = False
            return None
        line = self._decode(raw)
        fields: list[str | None] = []
        null = self.spec.null
        for part in line.split(self.spec.delimiter):
            if part == null:
                fields.append(None)
            elif "\\" in part:
                fields.append(_ESCAPE_RE.sub(_unescape_match, part))
            else:
                fields.append(part)
        self._check_width(fields)
        return fields

    def _check_width(self, fields: Sequence[str | None]) -> None:
        if len(fields) > self.ncols:
            raise SqlError("22P04", "extra data after last expected column")
        if len(fields) < self.ncols:
            raise SqlError("22P04", f"missing data for column number {len(fields) + 1}")

    def _csv_rows(self, final: bool) -> list[list[str | None]]:
        text_buf = self._buf
        rows: list[list[str | None]] = []
        pos = 0
        while not self._ended:
            parsed = self._csv_record(text_buf, pos, final)
            if parsed is None:
                break
            fields, pos = parsed
            self.line_no += 1
            if fields == ["\\."] or (fields == [] and final and pos >= len(text_buf)):
                if fields == ["\\."]:
                    self._ended = True
                break
            if self._header_pending:
                self._header_pending = False
                continue
            self._check_width(fields)
            rows.append(fields)
        self._buf = text_buf[pos:]
        return rows

    def _csv_record(self, buf: bytes, pos: int, final: bool) -> tuple[list[str | None], int] | None:
        """One CSV record starting at ``pos``; None if it is not complete yet."""
        delim = self.spec.delimiter.encode()
        quote = self.spec.quote.encode()
        escape = self.spec.escape.encode()
        null = self.spec.null
        fields: list[str | None] = []
        n = len(buf)
        if pos >= n:
            return None
        i = pos
        while True:
            if i < n and buf[i : i + 1] == quote:
                i += 1
                chunk = bytearray()
                while True:
                    if i >= n:
                        if final:
                            raise SqlError("22P04", "unterminated CSV quoted field")
                        return None
                    c = buf[i : i + 1]
                    if c == escape and i + 1 < n and buf[i + 1 : i + 2] in (quote, escape) and \
                            (escape != quote or buf[i + 1 : i + 2] == quote):
                        chunk += buf[i + 1 : i + 2]
                        i += 2
                        continue
                    if c == escape and escape == quote and i + 1 >= n and not final:
                        return None
                    if c == quote:
                        i += 1
                        break
                    chunk += c
                    i += 1
                # text after the closing quote up to the delimiter is appended as is
                j = i
                while j < n and buf[j : j + 1] not in (delim, b"\n", b"\r"):
                    j += 1
                chunk += buf[i:j]
                i = j
                fields.append(self._decode(bytes(chunk)))
            else:
                j = i
                while j < n and buf[j : j + 1] not in (delim, b"\n", b"\r"):
                    j += 1
                if j >= n and not final:
                    return None
                raw = self._decode(buf[i:j])
                fields.append(None if raw == null else raw)
                i = j
            if i >= n:
                if not final:
                    return None
                return fields, i
            c = buf[i : i + 1]
            if c == delim:
                i += 1
                continue
            # end of record
            if c == b"\r":
                i += 1
                if i < n and buf[i : i + 1] == b"\n":
                    i += 1
                elif i >= n and not final:
                    return None
            else:
                i += 1
            return fields, i


def text_formatter(spec: CopySpec) -> Callable[[Sequence[str | None]], bytes]:
    """A function from one row of text values (None = NULL) to one COPY output line."""
    delim = spec.delimiter
    if spec.format == "csv":
        quote = spec.quote
        escape = spec.escape
        null = spec.null if spec.null != "\\N" else ""
        needs = re.compile("[" + re.escape(delim + quote + "\r\n") + "]")

        def fmt_csv(values: Sequence[str | None]) -> bytes:
            out = []
            for v in values:
                if v is None:
                    out.append(null)
                elif v == "" or needs.search(v) or v == null or (v == "\\." and len(values) == 1):
                    out.append(quote + v.replace(escape, escape + escape).replace(
                        quote, escape + quote) if escape != quote else quote +
                        v.replace(quote, quote + quote) + quote)
                    if escape != quote:
                        out[-1] += quote
                else:
                    out.append(v)
            return (delim.join(out) + "\n").encode()

        return fmt_csv
    null_text = spec.null
    # the delimiter is escaped as itself unless it is one of the control characters with a name
    escapes = {delim: "\\" + delim, "\\": "\\\\", "\n": "\\n", "\r": "\\r", "\t": "\\t", "\b": "\\b",
               "\f": "\\f", "\v": "\\v"}
    table = str.maketrans(escapes)

    def fmt_text(values: Sequence[str | None]) -> bytes:
        return (delim.join(null_text if v is None else v.translate(table) for v in values)
                + "\n").encode()

    return fmt_text
