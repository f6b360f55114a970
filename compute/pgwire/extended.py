"""The extended query protocol: Parse, Bind, Describe, Execute, Close and Sync.

A pipelined Bind/Execute/Sync (pgbench -M prepared, asyncpg, psycopg) is handled message by
message without awaiting: ``extended_now`` does everything that needs no wait (the fast
lane's inline read included) and hands back only what must await (a streaming portal, a
statement on the general path). What a prepared statement always needs again — parameter
types, result encoders and RowDescription bytes per result-format list — is computed once.
"""

from __future__ import annotations

import struct
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from compute import pgtypes
from compute.cursors import Cursor
from compute.pgwire.lanes import ready_for
from compute.pgwire.portals import stream_portal
from compute.pgwire.results import Encoder, command_complete, result_columns, result_shape
from compute.sql.api import Kind, SqlError, Translation
from compute.transaction import Result
from strata.pgwire import messages as m

if TYPE_CHECKING:
    from compute.pgwire.encoding import Transcoder
    from compute.pgwire.fastbatch import PointBind
    from compute.session import Session

_QUERY = Kind.QUERY  # (an enum class attribute is a slow lookup on 3.11)
_TEXT = 25  # the type of a parameter whose type neither the client nor inference gives

# Per-connection limits. PostgreSQL bounds these only by memory; a server shared by many
# clients bounds them by count, reported in-band as program_limit_exceeded.
LIMIT_SQLSTATE = "54000"  # program_limit_exceeded
MAX_PREPARED_STATEMENTS = 10_000  # named prepared statements per connection, in statements
MAX_PORTALS = 1_000  # open portals (cursors of the extended protocol) per connection, in portals
MAX_STATEMENT_BYTES = 16 * 1024 * 1024  # SQL text of one Query or Parse message, in bytes
MAX_CACHED_FORMATS = 16  # result-format lists per prepared statement with cached encoders/RowDescription

EXTENDED_MESSAGES = frozenset((b"P", b"B", b"D", b"E", b"C"))
# Text integer parameters that int() reads exactly as pgtypes does: ASCII digits only, short
# enough to be in range (int2, int4, int8 by OID: at most this many digits)
_PLAIN_INT_DIGITS = {21: 4, 23: 9, 20: 18}


class Skip(Exception):
    """Extended protocol: an error was reported; discard messages until Sync."""


@dataclass(slots=True)
class Prepared:
    """A statement of the extended protocol (Parse), re-translated when the catalog changes."""

    sql: str
    client_oids: list[int]
    translation: Translation
    fingerprint: str  # of the catalog ``translation`` was made against
    param_oids: list[int] = field(default_factory=list)  # resolved once at Parse
    int_digits: tuple[int, ...] = ()  # per parameter: digits a plain text integer of its type may have (0: none)
    created: float = field(default_factory=time.time)  # pg_prepared_statements.prepare_time
    encoders: dict[tuple[int, ...], list[Encoder]] = field(
        default_factory=dict)  # result encoders by result-format list
    descriptions: dict[tuple[int, ...], bytes] = field(
        default_factory=dict)  # RowDescription (or NoData) by result-format list


@dataclass(slots=True)
class Portal:
    prepared: Prepared
    translation: Translation  # the prepared statement's, as of Bind
    params: tuple[Any, ...]
    result_formats: list[int]
    rows: list[tuple[Any, ...]] | None = None
    pos: int = 0
    result: Result | None = None
    encoders: list[Callable[[Any], bytes | None]] = field(default_factory=list)
    stream: Cursor | None = None  # executed with a row limit in a block: rows read on demand


Pending = tuple[Portal, int, bool]
"""What an Execute still has to await: the portal, its row limit, whether it streams."""


def statement_too_long(size: int) -> SqlError:
    """A Query or Parse message longer than MAX_STATEMENT_BYTES, refused in-band (the message
    itself was within max_message_bytes, so the stream is still in step)."""
    return SqlError(LIMIT_SQLSTATE, f"statement is too long ({size} bytes; at most "
                                    f"{MAX_STATEMENT_BYTES})")


_I16 = struct.Struct("!h")
_I32 = struct.Struct("!i")


def _bind_fields(body: bytes) -> tuple[str, str, list[int], list[bytes | None], list[int]]:
    """Bind's fields, cut without a Reader for the usual well-formed ASCII-named message with
    no parameter formats (libpq's, pgbench's); anything else goes to ``m.parse_bind`` (its
    fields and errors, unchanged)."""
    size = len(body)
    i = body.find(0)
    j = body.find(0, i + 1) if i >= 0 else -1
    pos = j + 1
    if j < 0 or pos + 4 > size or body[pos] or body[pos + 1]:  # param formats: the Reader
        return m.parse_bind(body)
    n = _I16.unpack_from(body, pos + 2)[0]
    pos += 4
    values: list[bytes | None] = []
    for _ in range(n):
        if pos + 4 > size:
            return m.parse_bind(body)
        length = _I32.unpack_from(body, pos)[0]
        pos += 4
        if length == -1:
            values.append(None)
        elif 0 <= length <= size - pos:
            values.append(body[pos : pos + length])
            pos += length
        else:
            return m.parse_bind(body)
    if pos + 2 > size:
        return m.parse_bind(body)
    nr = _I16.unpack_from(body, pos)[0]
    if nr == 0 and pos + 2 == size:
        formats = []
    elif nr == 1 and pos + 4 == size and (code := _I16.unpack_from(body, pos + 2)[0]) in (0, 1):
        formats = [code]
    else:
        return m.parse_bind(body)
    portal, stmt = body[:i], body[i + 1 : j]
    if n < 0 or not (portal.isascii() and stmt.isascii()):
        return m.parse_bind(body)
    return portal.decode(), stmt.decode(), [], values, formats


def _describe_fields(body: bytes) -> tuple[str, str]:
    """Describe's (S|P, name); anything but the plain ASCII case goes to the Reader."""
    if len(body) >= 2 and body[0] in (80, 83) and body.find(0) == len(body) - 1 and body.isascii():
        return chr(body[0]), body[1:-1].decode()
    return m.parse_describe_or_close(body)


def _execute_fields(body: bytes) -> tuple[str, int]:
    """Execute's (portal, row limit); anything but the plain ASCII case goes to the Reader."""
    end = len(body) - 5
    if end >= 0 and body.find(0) == end and body.isascii():
        return body[:end].decode(), int.from_bytes(body[end + 1 :], "big", signed=True)
    return m.parse_execute(body)


class ExtendedQuery:
    """The extended-protocol half of a connection (mixed into ``Connection``)."""

    prepared: dict[str, Prepared]
    portals: dict[str, Portal]
    session: Session | None
    styled: bool
    transcoder: Transcoder | None
    point_heads: dict[bytes, PointBind] | None = None  # point Bind layouts kept (fastbatch.py)
    point_ats: tuple[int, ...] = ()  # their head lengths, the latest first

    if TYPE_CHECKING:
        def send(self, data: bytes) -> None: ...

        def send_error(self, exc: SqlError) -> None: ...

        def _send_rows(self, rows: list[tuple[Any, ...]], encoders: list[Callable[[Any], bytes | None]]
                       ) -> None: ...

        def _send_result(self, tr: Translation, result: Result, result_formats: list[int],
                         describe: bool, portal: Portal | None, limit: int) -> None: ...

        def statement_done(self, tr: Translation, result: Result, result_formats: list[int],
                           describe: bool, portal: Portal | None, limit: int) -> None: ...

        async def run_statement(self, tr: Translation, params: tuple[Any, ...],
                                result_formats: list[int], describe: bool,
                                portal: Portal | None = None, limit: int = 0,
                                fast_tried: bool = False) -> None: ...

    def extended_now(self, kind: bytes, body: bytes) -> Pending | None:
        """Handle P/B/D/E/C as far as it goes without waiting; an Execute that must await is
        returned for ``extended_rest``. Errors are reported here and raise Skip."""
        session = self.session
        assert session is not None
        try:
            if kind == b"B":
                self._bind(body)
            elif kind == b"E":
                return self._execute_now(body)
            elif kind == b"D":
                self._describe(body)
            elif kind == b"P":
                self._parse(body)
            elif kind == b"C":
                what, name = m.parse_describe_or_close(body)
                gone = (self.prepared if what == "S" else self.portals).pop(name, None)
                if isinstance(gone, Portal) and gone.stream is not None:  # its reader goes back now
                    session.cursors.drop_stream(gone.stream)
                self.send(m.CLOSE_COMPLETE)
        except SqlError as exc:
            self._extended_failed(session, exc)
        except m.InvalidEncoding as exc:
            session.fail()
            self.send(m.error_response("22021", str(exc)))
            raise Skip() from exc
        return None

    async def extended_rest(self, pending: Pending) -> None:
        """The awaited part of an Execute: a streaming portal, or the general statement path."""
        session = self.session
        assert session is not None
        portal, limit, streaming = pending
        try:
            if streaming:
                await stream_portal(self, portal, limit)  # type: ignore[arg-type]
            else:
                await self.run_statement(portal.translation, portal.params, portal.result_formats,
                                         describe=False, portal=portal, limit=limit, fast_tried=True)
        except SqlError as exc:
            self._extended_failed(session, exc)

    def _extended_failed(self, session: Session, exc: SqlError) -> None:
        session.fail()
        self.send_error(exc)
        raise Skip() from exc

    def _parse(self, body: bytes) -> None:
        if len(body) > MAX_STATEMENT_BYTES:
            raise statement_too_long(len(body))
        name, sql, oids = m.parse_parse(body)
        if name and name in self.prepared:
            raise SqlError("42P05", f'prepared statement "{name}" already exists')
        if name and len(self.prepared) - ("" in self.prepared) >= MAX_PREPARED_STATEMENTS:
            raise SqlError(LIMIT_SQLSTATE, f"too many prepared statements on this connection "
                                           f"(at most {MAX_PREPARED_STATEMENTS})",
                           hint="Close (DEALLOCATE) prepared statements that are no longer used.")
        session = self.session
        assert session is not None
        translations = session.translate(sql, tuple(oids))
        if len(translations) > 1:
            raise SqlError("42601", "cannot insert multiple commands into a prepared statement")
        catalog = session.catalog
        assert catalog is not None
        prep = Prepared(sql, oids, translations[0], catalog.fingerprint)
        prep.param_oids = self._param_oids(prep)
        prep.int_digits = tuple(_PLAIN_INT_DIGITS.get(oid, 0) for oid in prep.param_oids)
        self.prepared[name] = prep
        self.send(m.PARSE_COMPLETE)

    def _revalidate(self, prep: Prepared) -> Translation:
        """The prepared statement's translation for the catalog as it is now: made anew after
        DDL (anyone's); 0A000 if its result columns changed, as PostgreSQL's plan cache says."""
        session = self.session
        assert session is not None
        if session._catalog_now().fingerprint == prep.fingerprint:  # noqa: SLF001 - per Bind,
            return prep.translation  # without retranslate's call and its tuple (the usual case)
        fresh = session.retranslate(prep.sql, tuple(prep.client_oids), prep.fingerprint)
        if fresh is None:
            return prep.translation
        tr, fingerprint = fresh
        if result_shape(tr) != result_shape(prep.translation):
            raise SqlError("0A000", "cached plan must not change result type")
        prep.translation, prep.fingerprint = tr, fingerprint
        prep.encoders.clear()
        prep.descriptions.clear()
        return tr

    def _deallocate(self, name: str) -> None:
        """DEALLOCATE name, or ALL when ``name`` is empty."""
        if not name:
            self.prepared.clear()
        elif self.prepared.pop(name, None) is None and not (self.session and self.session.deallocate_sql(name)):
            raise SqlError("26000", f'prepared statement "{name}" does not exist')

    def _param_oids(self, prep: Prepared) -> list[int]:
        inferred = list(prep.translation.param_oids)
        oids = list(prep.client_oids) + inferred[len(prep.client_oids):]
        return [o if o else (inferred[i] if i < len(inferred) and inferred[i] else _TEXT)
                for i, o in enumerate(oids)]

    def _bind(self, body: bytes) -> None:
        portal_name, stmt_name, param_formats, values, result_formats = _bind_fields(body)
        prep = self.prepared.get(stmt_name)
        if prep is None:
            raise SqlError("26000", f'prepared statement "{stmt_name}" does not exist')
        portals = self.portals
        if portal_name:
            if portal_name in portals:
                raise SqlError("42P03", f'cursor "{portal_name}" already exists')
            if len(portals) - ("" in portals) >= MAX_PORTALS:
                raise SqlError(LIMIT_SQLSTATE, f"too many portals on this connection (at most "
                                               f"{MAX_PORTALS})",
                               hint="Close portals that are no longer used.")
        tr = self._revalidate(prep)
        oids = prep.param_oids
        if len(values) != len(oids):
            raise SqlError("08P01", f"bind message supplies {len(values)} parameters, but "
                                    f'prepared statement "{stmt_name}" requires {len(oids)}')
        params: tuple[Any, ...] = ()
        if values:
            params = self._decode_params(oids, m.formats_for(param_formats, len(values)), values)
        portals[portal_name] = Portal(prep, tr, params, result_formats)
        self.send(m.BIND_COMPLETE)

    def _decode_params(self, oids: list[int], formats: list[int], values: list[bytes | None]
                       ) -> tuple[Any, ...]:
        params: list[Any] = []
        tz = order = ""
        for oid, fmt, raw in zip(oids, formats, values, strict=True):
            if raw is None:
                params.append(None)
                continue
            if fmt == 0 and len(raw) <= _PLAIN_INT_DIGITS.get(oid, 0) and raw.isdigit():
                params.append(int(raw))
                continue
            if (fmt == 0 and raw[:1] == b"-" and len(raw) <= _PLAIN_INT_DIGITS.get(oid, 0) + 1
                    and raw[1:].isdigit()):  # a negative one (pgbench's deltas)
                params.append(int(raw))
                continue
            if not tz:  # the session's TimeZone and DateStyle order, read once if needed
                settings = self.session.settings if self.session is not None else {}
                tz = settings.get("timezone", "UTC")
                order = pgtypes.date_order(settings["datestyle"]) if self.styled else "MDY"
            try:
                params.append(pgtypes.decode_text(oid, raw, tz=tz, order=order) if fmt == 0
                              else pgtypes.decode_binary(oid, raw))
            except UnicodeDecodeError as exc:
                bad = raw[exc.start : exc.start + 1].hex()
                raise SqlError("22021", f'invalid byte sequence for encoding "UTF8": 0x{bad}'
                               ) from None
        return tuple(params)

    def _describe(self, body: bytes) -> None:
        what, name = _describe_fields(body)
        if what == "S":
            prep = self.prepared.get(name)
            if prep is None:
                raise SqlError("26000", f'prepared statement "{name}" does not exist')
            tr = self._revalidate(prep)
            self.send(m.parameter_description(prep.param_oids))
            self._send_description(tr, [])
            return
        portal = self.portals.get(name)
        if portal is None and self.session is not None and name in self.session.cursors.open:
            self._send_description(self.session.cursors.columns(name), [])  # a DECLAREd cursor
            return
        if portal is None:
            raise SqlError("34000", f'portal "{name}" does not exist')
        prep = portal.prepared
        if portal.translation is prep.translation and portal.translation.kind is Kind.QUERY:
            key = tuple(portal.result_formats)
            known = prep.descriptions.get(key)
            if known is None:
                cols = result_columns(portal.translation)
                m.formats_for(portal.result_formats, len(cols))
                known = m.row_description(cols, portal.result_formats)
                if len(prep.descriptions) >= MAX_CACHED_FORMATS:
                    prep.descriptions.clear()
                prep.descriptions[key] = known
            self.send(known)
            return
        self._send_description(portal.translation, portal.result_formats)

    def _send_description(self, tr: Translation, formats: list[int]) -> None:
        if tr.kind is Kind.FETCH and tr.fetch is not None and not tr.fetch.move and self.session is not None:
            name = tr.fetch.name  # the cursor's columns (a protocol portal is a cursor too)
            tr = self.portals[name].translation if name in self.portals else self.session.cursors.columns(name)
        if tr.kind in (Kind.QUERY, Kind.SHOW, Kind.EXPLAIN):
            cols = result_columns(tr)
            m.formats_for(formats, len(cols))
            self.send(m.row_description(cols, formats))
        else:
            self.send(m.NO_DATA)

    def _execute_now(self, body: bytes) -> Pending | None:
        name, limit = _execute_fields(body)
        portal = self.portals.get(name)
        if portal is None:
            raise SqlError("34000", f'portal "{name}" does not exist')
        session = self.session
        assert session is not None
        if portal.rows is not None:  # a suspended portal: continue it
            self._send_portal_rows(portal, limit)
            return None
        tr = portal.translation
        if portal.stream is not None or (limit > 0 and session.cursors.can_stream(tr)):
            return portal, limit, True
        session.begin_implicit(eager=False)  # until Sync
        session.backend.start_query(portal.prepared.sql)
        if tr.kind is _QUERY and not session.failed:
            fast = session.try_fast_read(tr, portal.params)
            if fast is not None:
                self._send_result(tr, fast, portal.result_formats, False, portal, limit)
                return None
        fast = session.try_fast_statement(tr, portal.params)  # BEGIN, statements in a block
        if fast is not None:
            self.statement_done(tr, fast, portal.result_formats, False, portal, limit)
            return None
        return portal, limit, False

    async def sync(self) -> None:
        session = self.session
        assert session is not None
        self.portals.pop("", None)
        try:
            await session.end_implicit()
        except SqlError as exc:
            self.send_error(exc)
        if session.txn is None:
            self.portals.clear()
        self.send(ready_for(session))

    def _send_portal_rows(self, portal: Portal, limit: int) -> None:
        rows = portal.rows or []
        end = len(rows) if limit <= 0 else min(len(rows), portal.pos + limit)
        self._send_rows(rows if portal.pos == 0 and end == len(rows) else rows[portal.pos : end],
                        portal.encoders)
        portal.pos = end
        if end < len(rows):
            self.send(m.PORTAL_SUSPENDED)
            return
        assert portal.result is not None
        self.send(command_complete(portal.result.tag))
