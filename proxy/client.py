"""One client connection: startup, TLS, SCRAM, then relaying its transactions to pooled
server connections.

Client messages are read in *batches*: one simple Query, or extended-protocol messages up
to a Sync (or Flush). A batch that starts a transaction is routed (replica or primary) and
takes a server connection from that compute's pool; the connection is given back when a
ReadyForQuery says idle ('I'), unless the session is pinned. Before the batch is sent,
the server connection is brought to the client's session state: its session SETs are
replayed, and the named statements the batch uses are Parsed there under a content-hash
name. The responses are relayed in order against a queue of what each sent message
produces, so the proxy can swallow the answers to what it injected and answer some
messages itself (ParseComplete for a statement the server has, CloseComplete).
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import functools
import hashlib
import itertools
import logging
import re
import secrets
import ssl
import struct
import time
from collections.abc import Callable
from dataclasses import dataclass

from proxy.backend import KINDS, Backend, Link, Pool, PoolExhausted, ServerConn, ServerError
from proxy.config import MAX_PREAUTH_MESSAGE_BYTES
from proxy.lend import lendable_names
from proxy.roles import LookupUnavailable
from proxy.server import BEGIN_HOLD_S, NoBackend, ProxyServer
from strata.classify import PLAIN_KINDS, Kind, Statement
from strata.pgwire import frontend as fe
from strata.pgwire import handoff, unixsock
from strata.pgwire import messages as m
from strata.pgwire.auth import AuthFailed, BadMechanism, PasswordBook, scram_server_exchange
from strata.pgwire.startup import StartupRefused, read_startup

log = logging.getLogger("strata.proxy.client")

MAX_BATCH_MESSAGES = 100_000
"""Extended-protocol messages buffered before a Sync (beyond: FATAL 54000)."""
MAX_BATCH_BYTES = 256 * 1024 * 1024
"""Bytes buffered before a Sync (beyond: FATAL 54000)."""
UNKNOWN_SETTING = "\x00unknown"
"""A server connection's value of a setting the proxy cannot know (re-SET before use)."""
CLIENT_READ_CHUNK_BYTES = 64 * 1024
"""Largest read from a client's socket at once."""
_I32 = struct.Struct("!i")
_ids = itertools.count(1)
_EXTENDED = (b"P", b"B", b"D", b"E", b"C")


class _Close(Exception):
    """End the client connection (after a FATAL error or Terminate)."""


class _HandedOver(Exception):
    """The fast lane gave its query in flight to the message loop (raised in its read)."""


@dataclass(slots=True)
class _InFlight:
    """A simple Query the fast lane sent, whose answers it relays."""

    conn: ServerConn
    batch: list[tuple[bytes, bytes]]
    statements: tuple[Statement, ...]
    had_error: bool = False
    copy_in: bool = False          # handed over at a CopyInResponse: the COPY data comes next


_PLAIN_BEGIN = re.compile(r"\s*(?:(begin)(?:\s+(?:work|transaction))?|start\s+transaction)\s*;?\s*\Z",
                          re.IGNORECASE)
_BEGIN_ANSWERS = {tag: m.command_complete(tag) + m.READY[b"T"] for tag in ("BEGIN", "START TRANSACTION")}
_begin_tags: dict[str, bytes | None] = {}
"""BEGIN text -> the answer to it (CommandComplete, ReadyForQuery) if it is a plain BEGIN (no
options), else None."""
_BEGIN_RESULT_FORMATS = (b"\x00\x00\x00\x00\x00\x00", b"\x00\x00\x00\x00\x00\x01\x00\x00",
                         b"\x00\x00\x00\x00\x00\x01\x00\x01")
"""The Bind fields after the statement name the proxy answers for a BEGIN: no parameter
formats, no parameters, no result format or one (text or binary)."""


def plain_begin_answer(sql: str) -> bytes | None:
    """CommandComplete 'BEGIN' or 'START TRANSACTION' (the compute's and PostgreSQL's tag) and
    ReadyForQuery 'T' if ``sql`` is a BEGIN / START TRANSACTION with no options; else None."""
    answer = _begin_tags.get(sql, b"")
    if answer == b"":
        match = _PLAIN_BEGIN.match(sql)
        answer = None if match is None else _BEGIN_ANSWERS["BEGIN" if match.group(1) else "START TRANSACTION"]
        if len(_begin_tags) >= 1_000:
            _begin_tags.clear()
        _begin_tags[sql] = answer
    return answer


LANE_KINDS = PLAIN_KINDS
"""Statements a batch may hold to take the fast lane (nothing the proxy records)."""
LANE_MAX_MESSAGES = 64
"""Messages of an extended batch the fast lane looks at (a longer one: the message loop)."""


@dataclass(frozen=True)
class _Col:
    name: str
    type_oid: int = 25
    typmod: int = -1
    table_oid: int = 0
    column_no: int = 0


@dataclass(frozen=True, slots=True)
class _Entry:
    """What one message sent to the server produces, and what to do with it."""

    what: str                      # replay | inject | client | sync | query | synthetic
    terminals: bytes = b""         # message kinds that end a 'client' entry
    data: bytes = b""              # synthetic: the bytes to send the client
    on_ok: Callable[[], None] | None = None
    on_error: Callable[[], None] | None = None
    statements: tuple[Statement, ...] = ()   # query: recorded when it succeeds


# entries with nothing of their own, shared (an entry is never changed once queued)
_SYNC_ENTRY = _Entry("sync")
_BIND_ENTRY = _Entry("client", b"2")
_DESCRIBE_ENTRY = _Entry("client", b"Tn")
_EXECUTE_ENTRY = _Entry("client", b"CIsE")
_EXECUTE_UNNAMED_ALL = b"\x00\x00\x00\x00\x00"
"""Execute body of the unnamed portal, all rows (what most drivers send)."""
_DESCRIBE_UNNAMED_PORTAL = b"P\x00"
_EXECUTE_UNNAMED_ALL_FRAME = fe.frame(b"E", _EXECUTE_UNNAMED_ALL)
_DESCRIBE_UNNAMED_PORTAL_FRAME = fe.frame(b"D", _DESCRIBE_UNNAMED_PORTAL)
_DESCRIBE_UNNAMED_PORTAL_ITEM = (b"D", _DESCRIBE_UNNAMED_PORTAL)
_EXECUTE_UNNAMED_ALL_ITEM = (b"E", _EXECUTE_UNNAMED_ALL)
_SYNC_ITEM = (b"S", b"")
_DES_FRAMES = _DESCRIBE_UNNAMED_PORTAL_FRAME + _EXECUTE_UNNAMED_ALL_FRAME + fe.SYNC
_DES_ITEMS = (_DESCRIBE_UNNAMED_PORTAL_ITEM, _EXECUTE_UNNAMED_ALL_ITEM, _SYNC_ITEM)
_ES_FRAMES = _EXECUTE_UNNAMED_ALL_FRAME + fe.SYNC
_ES_ITEMS = (_EXECUTE_UNNAMED_ALL_ITEM, _SYNC_ITEM)


async def handle_client(server: ProxyServer, reader: asyncio.StreamReader,
                        writer: asyncio.StreamWriter) -> None:
    client = ClientSession(server, reader, writer)
    try:
        await client.run()
    except (ConnectionError, asyncio.IncompleteReadError, _Close, ssl.SSLError, TimeoutError):
        pass
    except Exception:  # noqa: BLE001 - a bug must close only this connection
        log.exception("client connection failed")
    finally:
        client.cleanup()


def statement_name(sql: str, oids: list[int]) -> str:
    """The server-side name of a prepared statement: by content, so clients share them."""
    h = hashlib.sha256(sql.encode() + b"\x00" + b",".join(str(o).encode() for o in oids))
    return "strata_" + h.hexdigest()[:24]


class ClientSession:
    def __init__(self, server: ProxyServer, reader: asyncio.StreamReader,
                 writer: asyncio.StreamWriter) -> None:
        self.proxy = server
        self.config = server.config
        self.reader = reader
        self.writer = writer
        self.id = next(_ids)
        self.user = ""
        self.database = ""
        self.pid = 0
        self.secret = 0
        self.counted = False
        self.authenticated = False
        self.tls = False
        self.local = False
        """Connected on the proxy's Unix socket (set by ``startup``): no TLS offered, and
        --require-tls does not apply (PostgreSQL's ``local`` lines; the socket is owner-only)."""
        self.out: list[bytes] = []
        self._in = bytearray()                                  # client bytes read, not yet cut
        self._in_pos = 0
        self.link: Link | None = None                           # after startup: reads the socket
        # session state
        self.settings: dict[str, str] = {}                      # name -> SET statement text
        self.statements: dict[str, tuple[str, str, list[int]]] = {}  # name -> (server name, sql, oids)
        self.unnamed: tuple[str, list[int]] | None = None
        self.unnamed_seq = 0
        self.portals: dict[str, str] = {}                       # portal -> statement text
        self.route_primary = False                              # SET strata.route = primary
        self.pinned = self.config.pool_mode == "session"
        self.default_ro = False
        self.txn_status = b"I"
        self.server: ServerConn | None = None
        self.pool: Pool | None = None
        self.server_skipping = False                            # the server skips until Sync
        self.pending: list[Statement] = []                      # SETs of the open transaction
        self.mid_batch = False                                  # sent up to a Flush, no Sync yet
        self.skip_until_sync = False                            # the proxy failed a batch: skip until Sync
        # the fast lane: a lone simple Query handled in the sockets' callbacks (no task wake-ups)
        self._armed = False                                     # the loop waits for a batch's first message
        self._lane: _InFlight | None = None                     # the Query the lane relays
        self._handover: _InFlight | None = None                 # ... given to the loop to finish
        self._relay_hook = self._lane_relay                     # bound once: set per lane query
        self._lent: ServerConn | None = None                    # the primary reads this client now
        self._held: str | None = None                           # a BEGIN answered here, not sent yet
        self._held_at = 0.0                                     # ... when it arrived (monotonic)
        self._held_timer: asyncio.TimerHandle | None = None     # ... sends it alone at BEGIN_HOLD_S
        self._loop: asyncio.AbstractEventLoop | None = None     # kept: get_running_loop() is a getpid()

    # ------------------------------------------------------------------ I/O

    def send(self, data: bytes) -> None:
        self.out.append(data)

    async def flush(self) -> None:
        if self.out:
            self.writer.write(b"".join(self.out))
            self.out.clear()
            if self.writer.transport.get_write_buffer_size() > 256 * 1024:
                await self._drain()

    async def _drain(self) -> None:
        if self.link is not None:
            await self.link.drain()
        else:
            await self.writer.drain()

    async def fatal(self, sqlstate: str, text: str) -> None:
        self.send(m.error_response(sqlstate, text, severity="FATAL"))
        with contextlib.suppress(ConnectionError, RuntimeError):
            await self.flush()
            await self._drain()
        raise _Close()

    def error(self, sqlstate: str, text: str, hint: str | None = None) -> None:
        self.send(m.error_response(sqlstate, text, hint=hint))

    def _cut_message(self) -> tuple[bytes, bytes] | None:
        """The client's next message if it is all buffered (no coroutine); None otherwise,
        or when its length is bad (``read_message`` reports that)."""
        buf = self._in
        pos = self._in_pos
        if len(buf) - pos < 5:
            return None
        length = _I32.unpack_from(buf, pos + 1)[0]
        limit = self.config.max_message_bytes if self.authenticated else MAX_PREAUTH_MESSAGE_BYTES
        end = pos + 1 + length
        if length < 4 or length - 4 > limit or end > len(buf):
            return None
        kind = KINDS[buf[pos]]
        body = bytes(buf[pos + 5:end])
        if end == len(buf):
            buf.clear()
            end = 0
        elif end > CLIENT_READ_CHUNK_BYTES:
            del buf[:end]
            end = 0
        self._in_pos = end
        return kind, body

    async def read_message(self) -> tuple[bytes, bytes]:
        """The client's next message, cut out of a buffer filled by large reads (one await
        per network read, not two per message); a bad length is FATAL as soon as the header
        is in."""
        buf = self._in
        while True:
            got = self._cut_message()
            if got is not None:
                return got
            pos = self._in_pos
            if len(buf) - pos >= 5:
                limit = self.config.max_message_bytes if self.authenticated else MAX_PREAUTH_MESSAGE_BYTES
                length = _I32.unpack_from(buf, pos + 1)[0]
                if length < 4 or length - 4 > limit:
                    await self.fatal("08P01", f"invalid message length {length}")
            if self.link is not None:
                await self.link.more()
                if self._handover is not None:
                    raise _HandedOver()
                continue
            chunk = await self.reader.read(CLIENT_READ_CHUNK_BYTES)
            if not chunk:
                raise asyncio.IncompleteReadError(b"", None)
            buf += chunk

    def cleanup(self) -> None:
        self._drop_held()  # the compute never hears of it (its connection is not pooled)
        if self.counted:
            self.counted = False
            self.proxy.client_count -= 1
            self.proxy.metrics.clients.dec()
        self.proxy.clients.pop(self.pid, None)
        lane = self._lane or self._handover
        if lane is not None:
            lane.conn.link.hook = None
            self._lane = self._handover = None
        if self._lent is not None:
            self._lent.link.hook = None
            self._lent = None
        if self.link is not None:
            self.link.hook = None
        if self.server is not None and self.pool is not None:
            conn = self.server
            if self.txn_status != b"I" or self.server_skipping or self.mid_batch or self.pinned:
                conn.broken = True  # it holds this client's transaction or session state
            self.pool.release(conn)
            self.server = None
        with contextlib.suppress(Exception):
            self.writer.close()

    # ------------------------------------------------------------------ startup

    async def run(self) -> None:
        try:
            params = await asyncio.wait_for(self.startup(), self.config.startup_timeout_s)
        except TimeoutError:
            self.proxy.metrics.refused.labels("startup_timeout").inc()
            return
        if params is None:
            return
        if self.proxy.client_count >= self.config.max_client_conn:
            self.proxy.metrics.refused.labels("too_many_clients").inc()
            await self.fatal("53300", "sorry, too many clients already "
                                      f"(the proxy allows {self.config.max_client_conn})")
        self.proxy.client_count += 1
        self.proxy.metrics.clients.inc()
        self.counted = True
        try:
            await asyncio.wait_for(self.authenticate(params), self.config.startup_timeout_s)
        except TimeoutError:
            self.proxy.metrics.refused.labels("startup_timeout").inc()
            await self.fatal("08006", "authentication timed out")
        self.authenticated = True
        await self.setup_session(params)
        await self.message_loop()

    async def startup(self) -> dict[str, str] | None:
        self.local = unixsock.is_unix_transport(self.writer.get_extra_info("sockname"))
        try:
            got = await read_startup(self.reader, self.writer, None if self.local else self.proxy.ssl_context,
                                     minor_versions=False)
        except StartupRefused as exc:
            if exc.reason != "encoding":
                self.proxy.metrics.refused.labels(exc.reason).inc()
            await self.fatal(exc.sqlstate, exc.message)
            raise  # unreachable: fatal raises
        self.tls = got.tls
        if got.cancel is None:
            self._take_socket()
        if got.cancel is not None:
            await self.proxy.forward_cancel(*got.cancel)
            return None
        if self.config.require_tls and not self.tls and not self.local:
            self.proxy.metrics.refused.labels("plaintext").inc()
            await self.fatal("28000", "this proxy requires SSL/TLS: connect with sslmode=require "
                                      "(no plaintext connections are accepted)")
        return got.params

    def _take_socket(self) -> None:
        """From here on the socket's bytes go straight into ``_in`` (a Link protocol in place
        of the StreamReader), with what the StreamReader already holds moved over."""
        transport = self.writer.transport
        if transport.is_closing():
            return
        held = getattr(self.reader, "_buffer", None)  # bytes after the startup packet, if any
        if held is None:
            return  # not the StreamReader this was written against: keep reading through it
        self._in += held
        held.clear()
        link = Link(self._in, self.proxy.busy_poll)
        link.connection_made(transport)
        link.eof = self.reader.at_eof() or bool(getattr(self.reader, "_eof", False))
        transport.set_protocol(link)
        self.link = link

    async def authenticate(self, params: dict[str, str]) -> None:
        user = params.get("user")
        if not user:
            await self.fatal("28000", "no PostgreSQL user name specified in startup packet")
        assert user is not None
        self.user = user
        self.database = params.get("database") or user
        if self.config.auth == "trust":
            return
        book = self.proxy.passwords
        if not book.knows(user):  # a role made by CREATE ROLE … PASSWORD (proxy/roles.py)
            try:
                verifier = await self.proxy.role_verifiers.verifier(self.database, user)
            except LookupUnavailable as exc:
                await self.fatal("57P03", f"cannot check the password of role \"{user}\" now: {exc}")
                raise  # unreachable: fatal raises
            if verifier is not None:
                book = PasswordBook({user: verifier})
        try:
            await scram_server_exchange(book, user, self.send, self._password_message)
        except BadMechanism as exc:
            await self.fatal("28000", str(exc))
        except AuthFailed:
            self.proxy.metrics.refused.labels("password").inc()
            await self.fatal("28P01", f'password authentication failed for user "{user}"')

    async def _password_message(self) -> bytes:
        await self.flush()
        kind, body = await self.read_message()
        if kind != b"p":
            await self.fatal("08P01", f"expected password response, got message type {kind!r}")
        return body

    async def setup_session(self, params: dict[str, str]) -> None:
        """Take the client's startup parameters as session settings, check the database on
        the primary (or any healthy compute) and send the startup answer."""
        for key, value in params.items():
            lk = key.lower()
            if lk in ("user", "database", "options", "replication") or lk.startswith("strata."):
                continue
            self.settings[lk] = f"SET {_ident(lk)} = {_literal(value)}"
        try:
            backend = await self.proxy.wait_primary()
        except NoBackend:
            reps = self.proxy.replicas()
            if not reps:
                await self.fatal("57P03", "the proxy has no healthy compute to connect to")
            backend = reps[0]
        pool = self.proxy.pool(backend, self.database, self.user)
        try:
            conn = await pool.acquire(self.config.pool_timeout_s)
        except ServerError as exc:
            await self.fatal(exc.sqlstate, exc.text)
            raise  # unreachable
        except PoolExhausted:
            await self.fatal("53300", self._exhausted_text(pool))
            raise  # unreachable
        try:
            for name, text in list(self.settings.items()):
                if conn.applied.get(name) == text:
                    continue
                ok = await self._run_quietly(conn, text)
                if ok:
                    conn.applied[name] = text
                else:
                    log.info("startup parameter %s not accepted by the compute; ignored", name)
                    del self.settings[name]
            params_out = dict(conn.params)
        except (ConnectionError, asyncio.IncompleteReadError, m.ProtocolViolation):
            conn.broken = True
            pool.release(conn)
            await self.fatal("08006", "the compute closed the connection during startup")
            raise  # unreachable
        pool.release(conn)
        self.pid, self.secret = self.proxy.new_backend_key()
        self.proxy.clients[self.pid] = self
        self.default_ro = _truthy(params.get("default_transaction_read_only", ""))
        self.send(m.AUTH_OK)
        for name, value in params_out.items():
            if name.startswith("strata."):
                continue
            self.send(m.parameter_status(name, value))
        self.send(m.backend_key_data(self.pid, self.secret))
        self.send(m.READY[b"I"])
        await self.flush()

    async def _run_quietly(self, conn: ServerConn, sql: str) -> bool:
        conn.write(fe.query(sql))
        ok = True
        while True:
            kind, _ = await conn.read()
            if kind == b"E":
                ok = False
            elif kind == b"Z":
                return ok

    # ------------------------------------------------------------------ message loop

    async def message_loop(self) -> None:
        if self.link is not None:
            self.link.hook = self._lane_start
        while True:
            if self.out:
                await self.flush()
            try:
                batch = await self.read_batch()
            except _HandedOver:
                lane, self._handover = self._handover, None
                assert lane is not None
                await self._relay_query(lane.conn, lane.batch, lane.statements, lane.had_error,
                                        lane.copy_in)
                continue
            if not batch:
                continue
            await self.handle_batch(batch)

    async def read_batch(self) -> list[tuple[bytes, bytes]]:
        batch: list[tuple[bytes, bytes]] = []
        size = 0
        while True:
            got = self._cut_message()
            if got is None:
                self._armed = not batch  # a lone Query arriving now may take the fast lane
                try:
                    got = await self.read_message()
                finally:
                    self._armed = False
            kind, body = got
            if kind == b"X":
                raise _Close()
            if kind in (b"Q", b"F"):
                if batch:
                    await self.fatal("08P01", "simple query inside an unfinished extended-protocol batch")
                self.skip_until_sync = False
                return [(kind, body)]
            if kind in _EXTENDED:
                if self.skip_until_sync:
                    continue
                batch.append((kind, body))
                size += len(body) + 5
                if len(batch) > MAX_BATCH_MESSAGES or size > MAX_BATCH_BYTES:
                    await self.fatal("54000", f"more than {MAX_BATCH_MESSAGES} messages or "
                                              f"{MAX_BATCH_BYTES} bytes before a Sync")
                continue
            if kind == b"S":
                if self.skip_until_sync:
                    self.skip_until_sync = False
                    if self.server is None:
                        self.send(m.READY[self.txn_status])
                        return []
                batch.append((kind, body))
                return batch
            if kind == b"H":
                batch.append((kind, body))
                return batch
            if kind in (b"d", b"c", b"f"):
                continue  # stray COPY messages after an aborted COPY
            await self.fatal("08P01", f"invalid frontend message type {kind[0]}")

    async def handle_batch(self, batch: list[tuple[bytes, bytes]]) -> None:
        first_kind, first_body = batch[0]
        statements: tuple[Statement, ...] = ()
        if first_kind == b"Q":
            try:
                sql = m.parse_query(first_body)
            except (m.ProtocolViolation, m.InvalidEncoding) as exc:
                self.error("22021" if isinstance(exc, m.InvalidEncoding) else "08P01", str(exc))
                self.send(m.READY[self.txn_status])
                return
            statements = self.proxy.classifier.classify(sql)
            if len(statements) == 1 and self._answer_locally(statements[0]):
                return
        elif first_kind != b"F":
            statements = self._batch_statements(batch)
        if not self.pinned and any(s.kind is Kind.PIN for s in statements):
            self.pinned = True
            log.info("client %d pinned to its server connection (%s)", self.id,
                     next(s.text for s in statements if s.kind is Kind.PIN)[:60])
        if self.server is None:
            if len(batch) == 1 and not first_body and first_kind in (b"S", b"H"):
                if first_kind == b"S":
                    self.send(m.READY[self.txn_status])
                return
            if not await self._attach(statements):
                self._after_failure(batch)
                return
        await self._run(batch, statements)

    def _after_failure(self, batch: list[tuple[bytes, bytes]]) -> None:
        """An error was queued for a batch that never reached a server: finish it."""
        last = batch[-1][0]
        if last in (b"Q", b"F", b"S"):
            self.send(m.READY[self.txn_status])
        else:
            self.skip_until_sync = True

    def _batch_statements(self, batch: list[tuple[bytes, bytes]]) -> tuple[Statement, ...]:
        out: list[Statement] = []
        classify = self.proxy.classifier.classify
        for kind, body in batch:
            try:
                if kind == b"P":
                    _, sql, _ = m.parse_parse(body)
                    out.extend(classify(sql))
                elif kind == b"B":
                    _, stmt, _ = _bind_names(body)
                    if stmt:
                        entry = self.statements.get(stmt)
                        if entry is not None:
                            out.extend(classify(entry[1]))
                    elif self.unnamed is not None:
                        out.extend(classify(self.unnamed[0]))
            except (m.ProtocolViolation, m.InvalidEncoding):
                out.append(Statement(Kind.WRITE))
        return tuple(out)

    # ------------------------------------------------------------------ answered by the proxy

    def _answer_locally(self, st: Statement) -> bool:
        if st.kind is Kind.ROUTE:
            if st.value not in ("primary", "auto"):
                self.error("22023", f'invalid value for parameter "strata.route": "{st.value}"',
                           hint="Available values: primary, auto.")
            else:
                self.route_primary = st.value == "primary"
                self.send(m.command_complete("RESET" if st.text.lower().startswith("reset") else "SET"))
            self.send(m.READY[self.txn_status])
            return True
        if st.kind is Kind.SHOW_PROXY:
            if st.value == "pools":
                cols = ["database", "user", "backend", "role", "in_use", "idle", "waiting"]
                rows = self.proxy.pools_rows()
            else:
                cols = ["address", "role", "healthy", "replay_lsn", "outstanding"]
                rows = self.proxy.servers_rows()
            self.send(m.row_description([_Col(c) for c in cols]))
            for row in rows:
                self.send(m.data_row([v.encode() for v in row]))
            self.send(m.command_complete("SHOW"))
            self.send(m.READY[self.txn_status])
            return True
        if st.kind is Kind.DEALLOCATE and not self.pinned:
            # Protocol-level statements are the proxy's to forget (the server ones are shared);
            # SQL PREPARE pins the session, and then DEALLOCATE goes to the server.
            if st.value:
                self.statements.pop(st.value, None)
            else:
                self.statements.clear()
            self.send(m.command_complete("DEALLOCATE ALL" if not st.value else "DEALLOCATE"))
            self.send(m.READY[self.txn_status])
            return True
        if st.kind is Kind.DISCARD and self.server is None and st.text.lower().startswith("discard"):
            self.settings.clear()
            self.statements.clear()
            self.unnamed = None
            self.default_ro = False
            self.route_primary = False
            self.send(m.command_complete("DISCARD ALL"))
            self.send(m.READY[b"I"])
            return True
        return False

    # ------------------------------------------------------------------ routing

    def _attach_now(self, statements: tuple[Statement, ...]) -> tuple[ServerConn, Pool, str, str] | None:
        """``_attach`` when nothing has to wait: the target's pool has a free connection, the
        replica chosen has replayed the commit watermark (or there is no replica), the
        primary is up. (connection, its pool, target, reason), the connection taken; None
        otherwise."""
        target, reason = self._route(statements)
        backend: Backend | None = None
        if target == "replica":
            backend, any_replica = self.proxy.ready_replica(self.proxy.commits.lsn)
            if backend is None:
                if any_replica:
                    return None  # behind the watermark: _attach waits a little
                target, reason = "primary", "replica_behind_or_none"
        if backend is None:
            backend = self.proxy.current_primary
            if backend is None or not backend.healthy:
                return None
        pool = self.proxy.pool(backend, self.database, self.user)
        conn = pool.take_idle()
        if conn is None:
            return None
        return conn, pool, target, reason

    async def _attach(self, statements: tuple[Statement, ...]) -> bool:
        """Take a server connection for the transaction that ``statements`` start."""
        taken = self._attach_now(statements)
        if taken is not None:
            self.server, self.pool = taken[0], taken[1]
            self.proxy.metrics.routed.count(taken[2], taken[3])
            return True
        target, reason = self._route(statements)
        backend: Backend | None = None
        if target == "replica":
            backend, any_replica = self.proxy.ready_replica(self.proxy.commits.lsn)
            if backend is None and any_replica:  # all behind the watermark: wait a little
                backend = await self.proxy.choose_replica(self.proxy.commits.lsn)
            if backend is None:
                target, reason = "primary", "replica_behind_or_none"
        deadline = 0.0
        while True:
            try:
                if backend is None:
                    primary = self.proxy.current_primary
                    if primary is not None and primary.healthy:
                        backend = primary
                    else:
                        if not deadline:
                            deadline = time.monotonic() + self.config.failover_wait_s
                        backend = await self.proxy.wait_primary(deadline)
            except NoBackend as exc:
                self.error("57P03", f"{exc} (waited {self.config.failover_wait_s:g} s)",
                           hint="The primary compute is down and no replica was promoted yet; retry.")
                return False
            pool = self.proxy.pool(backend, self.database, self.user)
            idle = pool.take_idle()  # no coroutine when a pooled connection is free
            if idle is not None:
                conn = idle
                break
            if pool.total >= pool.size:
                self.proxy.metrics.pool_waits.inc()
            try:
                conn = await pool.acquire(self.config.pool_timeout_s)
                break
            except PoolExhausted:
                self.proxy.metrics.pool_exhausted.inc()
                self.error("53300", self._exhausted_text(pool))
                return False
            except ServerError as exc:
                if exc.sqlstate != "08006":
                    self.error(exc.sqlstate, exc.text)
                    return False
                self.proxy.suspect(backend, exc.text)
                if target == "replica":
                    target, reason = "primary", "replica_failed"
                backend = None  # wait for a (new) primary
        self.proxy.metrics.routed.count(target, reason)
        self.server = conn
        self.pool = pool
        return True

    def _route(self, statements: tuple[Statement, ...]) -> tuple[str, str]:
        if self.pinned:
            return "primary", "pinned"
        if self.route_primary:
            return "primary", "strata.route"
        if not statements:
            return "primary", "unclassified"
        first = statements[0]
        if first.kind is Kind.BEGIN:
            if first.read_only or (self.default_ro and "read write" not in first.text.lower()):
                if all(s.kind in (Kind.BEGIN, Kind.READ, Kind.END, Kind.SET_TXN_RO) for s in statements):
                    return "replica", "read_only_transaction"
            return "primary", "transaction"
        if all(s.kind is Kind.READ for s in statements):
            return "replica", "read"
        return "primary", "write"

    def _exhausted_text(self, pool: Pool) -> str:
        return (f"proxy pool exhausted: no server connection for database \"{pool.database}\" "
                f"user \"{pool.user}\" on compute {pool.backend.address} became free within "
                f"{self.config.pool_timeout_s:g} s (pool size {pool.size})")

    # ------------------------------------------------------------------ relaying a batch

    async def _run(self, batch: list[tuple[bytes, bytes]], statements: tuple[Statement, ...]) -> None:
        conn = self.server
        assert conn is not None
        fresh = self.txn_status == b"I" and not (self.server_skipping or self.mid_batch)
        if batch[0][0] == b"Q" and not (fresh and conn.applied != self.settings):
            await self._run_query(conn, batch, statements)
            return
        queue: collections.deque[_Entry] = collections.deque()
        out: list[bytes] = []
        try:
            self._translate(conn, batch, statements, out, queue)
        except (m.ProtocolViolation, m.InvalidEncoding) as exc:
            conn.unnamed_owner = None  # the unnamed Parse may not have been sent
            self.error("22021" if isinstance(exc, m.InvalidEncoding) else "08P01",
                       f"malformed message: {exc}")
            self._after_failure(batch)
            self._maybe_release()
            return
        if fresh and conn.applied != self.settings:
            self._sync_settings(conn, out, queue)  # goes before the batch
        elif self._held is not None:
            out.insert(0, self._held_frame())  # the block begins ahead of the batch
        try:
            conn.write(b"".join(out))
            self._drop_held()
            status = await self._relay(conn, queue)
        except (ConnectionError, asyncio.IncompleteReadError, m.ProtocolViolation, OSError) as exc:
            self._server_died(conn, batch, statements, exc)
            return
        self.mid_batch = status is None  # a Flush without a Sync: the server is mid-protocol
        if status is not None:
            self.txn_status = status
            self._settle(status, statements)
        self._maybe_release()

    async def _run_query(self, conn: ServerConn, batch: list[tuple[bytes, bytes]],
                         statements: tuple[Statement, ...]) -> None:
        """``_run`` of a simple Query with no settings to replay first: the one frame out, the
        answers back as raw byte runs up to the ReadyForQuery (no queue of entries)."""
        try:
            if self._held is not None:
                conn.write(self._held_frame() + fe.frame(b"Q", batch[0][1]))
                self._drop_held()
            else:
                conn.write(fe.frame(b"Q", batch[0][1]))
        except (ConnectionError, OSError) as exc:
            self._server_died(conn, batch, statements, exc)
            return
        await self._relay_query(conn, batch, statements, False)

    async def _relay_query(self, conn: ServerConn, batch: list[tuple[bytes, bytes]],
                           statements: tuple[Statement, ...], had_error: bool,
                           copy_in: bool = False) -> None:
        """Relay a sent simple Query's answers up to its ReadyForQuery and settle it
        (``copy_in``: its CopyInResponse is relayed already, the client's data comes next)."""
        try:
            if copy_in:
                await self._copy_in(conn)
            had_error = await self._relay_to_ready(conn) or had_error
            self.server_skipping = False
            if not had_error:
                self._record(statements)
            await self.flush()
        except (ConnectionError, asyncio.IncompleteReadError, m.ProtocolViolation, OSError) as exc:
            self._server_died(conn, batch, statements, exc)
            return
        self._query_done(conn, statements)

    def _query_done(self, conn: ServerConn, statements: tuple[Statement, ...]) -> None:
        status = conn.last_status
        self.mid_batch = False
        self.txn_status = status
        if self.pending:  # else _settle has nothing to do
            self._settle(status, statements)
        self._maybe_release()

    # ------------------------------------------------------------------ the fast lane

    def _lane_start(self) -> bool:
        """Client bytes arrived (the client link's hook). If the message loop is waiting for
        a batch and the bytes are exactly one batch of plain statements that can go out at
        once — a simple Query, or Bind/Describe/Execute (unnamed portal) + Sync of statements
        the server connection has — with a server connection held or a free pooled one with
        the settings in place, send it from here and relay its answers from the server
        link's hook: no task wakes up for the round trip. Anything else: False, the message
        loop reads it. True also while a lane batch is in flight (the bytes wait for it)."""
        if self._lane is not None:
            return True
        link = self.link
        if not self._armed or self._handover is not None or link is None or link.eof \
                or self.mid_batch or self.server_skipping:
            return False
        buf, pos = self._in, self._in_pos
        if len(buf) - pos < 5:
            return False
        simple = buf[pos] == 0x51  # Q
        binds: list[tuple[str, bytes, int, int]] = []
        parsed = self._lane_query(buf, pos) if simple else self._lane_extended(buf, pos, binds)
        if parsed is None:
            return not simple and self._lend_unnamed(buf, pos)
        batch, statements = parsed
        conn = self.server
        taken = None
        if conn is None:
            taken = self._attach_now(statements)
            if taken is None:
                return False
            conn = taken[0]
        else:  # conn.closed(), inlined
            server_link = conn.link
            transport = server_link.transport
            if transport is None or transport.is_closing() or server_link.eof:
                return False
        data: bytes | None = None
        if self.txn_status != b"I" or conn.applied == self.settings:  # else: replay, the loop's
            if statements[0].kind is Kind.BEGIN and self.txn_status == b"I" and len(statements) == 1 \
                    and conn.backend is self.proxy.current_primary \
                    and self._hold_begin(conn, taken, batch, binds, simple):
                return True
            data = bytes(buf[pos:]) if simple else self._lane_extended_out(conn, batch, binds)
        if data is None:
            if taken is not None:
                taken[1].release(conn)
            return False
        if self.txn_status == b"T" and taken is None and not (simple and handoff.copy_query(data[5:])) \
                and self._lend(conn, data):
            return True
        held = self._held
        try:
            # not conn.write: closed() (held) or take_idle (taken) just checked the transport
            conn.link.transport.write(data if held is None else self._held_frame() + data)  # type: ignore[union-attr]
        except (ConnectionError, OSError, RuntimeError):
            if taken is not None:
                taken[1].release(conn)
            return False  # the message loop sends it and finds the connection broken
        if held is not None:
            self._drop_held()
        if taken is not None:
            self.server, self.pool = conn, taken[1]
            self.proxy.metrics.routed.count(taken[2], taken[3])
        buf.clear()
        self._in_pos = 0
        self.skip_until_sync = False
        self.mid_batch = True  # in flight: a client gone now leaves the connection broken
        self._lane = _InFlight(conn, batch, statements)
        conn.link.hook = self._relay_hook
        return True

    # ------------------------------------------------------------------ BEGIN answered here

    def _hold_begin(self, conn: ServerConn, taken: tuple[ServerConn, Pool, str, str] | None,
                    batch: list[tuple[bytes, bytes]], binds: list[tuple[str, bytes, int, int]],
                    simple: bool) -> bool:
        """The lane's batch is a plain BEGIN (a Query, or Bind/[Describe]/Execute/Sync of a
        prepared one without parameters) in an idle session on the primary, with ``conn``
        ready for it: answer it as the compute would, byte for byte, and hold it until the
        client's next message (``_held``, or ``BEGIN_HOLD_S``). False: not such a BEGIN, nothing done."""
        if simple:
            try:
                sql = batch[0][1][:-1].decode()
            except UnicodeDecodeError:
                return False
            answer = b""
        else:
            if len(binds) != 1:
                return False
            stmt, body, _, j = binds[0]
            sname, sql, _ = self.statements[stmt]
            if sname not in conn.prepared or body[j + 1:] not in _BEGIN_RESULT_FORMATS:
                return False
            answer = m.BIND_COMPLETE + (m.NO_DATA if batch[1][0] == b"D" else b"")
        tail = plain_begin_answer(sql)
        if tail is None:
            return False
        transport = self.link.transport if self.link is not None else None
        if transport is None or transport.is_closing():
            return False
        if taken is not None:
            self.server, self.pool = conn, taken[1]
            self.proxy.metrics.routed.count(taken[2], taken[3])
        if not simple:
            self.portals[""] = sql
        self._in.clear()
        self._in_pos = 0
        self.skip_until_sync = False
        self.txn_status = b"T"
        self.proxy.metrics.deferred_begins.held += 1
        self._held = sql
        self._held_at = time.monotonic()
        loop = self._loop
        if loop is None:
            loop = self._loop = asyncio.get_running_loop()
        # a timer per BEGIN, cancelled when the next message comes (~2 µs): one timer shared by
        # all clients fired every BEGIN_HOLD_S under load and woke the proxy for nothing
        self._held_timer = loop.call_later(BEGIN_HOLD_S, self.send_held)
        transport.write(answer + tail if answer else tail)
        return True

    def _held_frame(self) -> bytes:
        """The DEFERRED_BEGIN of the held BEGIN (dated by how long it waited here)."""
        held = self._held
        assert held is not None
        return fe.deferred_begin(int((time.monotonic() - self._held_at) * 1e6), held)

    def _drop_held(self) -> None:
        if self._held is not None:
            self._held = None
            timer = self._held_timer
            if timer is not None:
                self._held_timer = None
                timer.cancel()

    def send_held(self) -> None:
        """``BEGIN_HOLD_S`` passed with no message from the client: the BEGIN goes on its own (a connection that fails now fails the client's next statement, as
        a BEGIN that ran there)."""
        conn = self.server
        if self._held is None:
            return
        data = self._held_frame()
        self._held = None
        self._held_timer = None
        self.proxy.metrics.deferred_begins.timed += 1
        if conn is not None:
            with contextlib.suppress(ConnectionError, OSError, RuntimeError):
                conn.write(data)

    # ------------------------------------------------------------------ a socket lent to the primary

    def _lend(self, conn: ServerConn, data: bytes) -> bool:
        """Inside a transaction on a local primary, with a plaintext client: lend the client's
        socket to the compute for the rest of the transaction (decision 0017), ``data`` (the
        lane's batch as the server connection takes it) going first. False: nothing done."""
        link = self.link
        if not self.config.lend_sockets or self.tls or self.pinned or not conn.local \
                or link is None or conn.backend is not self.proxy.current_primary \
                or conn.backend.unix_path is None:
            return False
        transport = link.transport
        sock = transport.get_extra_info("socket") if transport is not None else None
        if transport is None or sock is None or transport.is_closing():
            return False
        names = lendable_names(self.statements, conn.prepared, self.proxy.classifier)
        token = secrets.randbits(62)
        if not self.proxy.side_sockets.send(conn.backend.unix_path, token, sock.fileno()):
            return False
        transport.pause_reading()  # until the HANDBACK: the compute reads the client
        frame = fe.message(handoff.HANDOFF, handoff.handoff_body(token, names))
        try:
            conn.write(frame + self._held_frame() + data if self._held is not None else frame + data)
        except (ConnectionError, OSError, RuntimeError):
            transport.resume_reading()
            return False  # the message loop finds the connection broken (the descriptor is
                          # closed by the compute when it never sees the HANDOFF: its bound)
        self._drop_held()
        self._in.clear()
        self._in_pos = 0
        self.skip_until_sync = False
        self.mid_batch = True  # a client gone now leaves the connection broken
        self._lent = conn
        conn.link.hook = self._handback_hook
        return True

    def _lend_unnamed(self, buf: bytearray, pos: int) -> bool:
        """In a transaction with a server connection: a batch that parses plain statements as
        the unnamed statement and runs them (Parse/Bind/Describe/Execute + Sync, what psycopg
        sends for a statement it has not prepared) is lent as it is, recorded as
        ``_translate`` would. False: nothing done (the message loop relays it)."""
        conn = self.server
        if self.txn_status != b"T" or conn is None or not conn.local:
            return False
        last = self._unnamed_batch(buf, pos)
        if last is None or not self._lend(conn, bytes(buf[pos:])):
            return False
        self._parsed_unnamed(conn, *last)
        return True

    def _parsed_unnamed(self, conn: ServerConn, sql: str, oids: list[int]) -> None:
        """The client's unnamed statement is now ``sql`` (``oids``), and ``conn`` has it (a
        Bind without a Parse elsewhere gets it parsed there first)."""
        self.unnamed_seq += 1
        self.unnamed = (sql, oids)
        conn.unnamed_owner = (self.id, self.unnamed_seq)

    def _frame_at(self, buf: bytearray, pos: int, end_all: int) -> tuple[int, int] | None:
        """(kind, end) of the whole message at ``pos`` in ``buf[:end_all]``; None if it is cut
        short or its length is bad (the message loop reports that)."""
        if end_all - pos < 5:
            return None
        length = _I32.unpack_from(buf, pos + 1)[0]
        end = pos + 1 + length
        if length < 4 or end > end_all or length - 4 > self.config.max_message_bytes:
            return None
        return buf[pos], end

    def _unnamed_batch(self, buf: bytearray, pos: int) -> tuple[str, list[int]] | None:
        """The last (sql, oids) parsed by a batch filling ``buf`` from ``pos`` made only of
        Parses of the unnamed statement (plain statements, not COPY), Binds of it to the
        unnamed portal, Describe/Execute of that portal, and one Sync at its end; else None."""
        last: tuple[str, list[int]] | None = None
        end_all = len(buf)
        for _ in range(LANE_MAX_MESSAGES):
            framed = self._frame_at(buf, pos, end_all)
            if framed is None:
                return None
            kind, end = framed
            if kind == 0x50:    # P
                try:
                    name, sql, oids = m.parse_parse(bytes(buf[pos + 5:end]))
                except (m.ProtocolViolation, m.InvalidEncoding):
                    return None
                if name or not self.proxy.classifier.plain(sql) or handoff.copy_query(sql.encode()):
                    return None
                last = (sql, oids)
            elif kind == 0x42:  # B: unnamed portal, unnamed statement parsed in this batch
                if last is None or buf[pos + 5:pos + 7] != b"\x00\x00":
                    return None
            elif kind == 0x44:  # D
                if not buf.startswith(_DESCRIBE_UNNAMED_PORTAL_FRAME, pos):
                    return None
            elif kind == 0x45:  # E
                if buf[pos + 5:pos + 6] != b"\x00":
                    return None
            elif kind == 0x53:  # S
                return last if end == end_all and end - pos == 5 else None
            else:
                return None
            pos = end
        return None

    def _handback_hook(self) -> bool:
        """The server link's hook while the client's socket is lent: wait for the HANDBACK;
        the connection ending (or anything else arriving) drops the client, as a backend's
        crash does on PostgreSQL."""
        conn = self._lent
        link = self.link
        if conn is None or link is None:
            return False
        try:
            got = conn.take_frame()
            while got is not None and got[0] == b"S" and conn.consumed(got[1]):
                got = conn.take_frame()  # an LSN report queued after the startup's answer
            if got is None and not conn.link.eof:
                return True
            if got is None or got[0] != handoff.HANDBACK:
                raise m.ProtocolViolation("the compute ended while it held the client's socket"
                                          if got is None else f"unexpected message {got[0]!r} {got[1][:60]!r}")
            status, lsn, ended, unnamed, leftover = handoff.parse_handback(got[1])
            parsed = m.parse_parse(unnamed) if unnamed is not None else None
        except m.ProtocolViolation as exc:
            log.warning("client %d: dropped: %s", self.id, exc)
            self._lent = None
            conn.link.hook = None
            conn.broken = True
            self.proxy.metrics.lending.dropped += 1
            link.eof = True  # the message loop ends the session and closes the client
            link.wake()
            return True
        self._lent = None
        conn.link.hook = None
        self.proxy.metrics.lending.handed_back += 1
        self.proxy.metrics.lending.transactions += ended
        if lsn:
            conn.backend.commits.note(lsn)
        conn.last_status = status
        self.txn_status = status
        self.mid_batch = False
        self.server_skipping = False
        self.portals.pop("", None)  # the compute may have bound it anew
        if parsed is not None:  # the unnamed statement the compute parsed last
            self._parsed_unnamed(conn, parsed[1], parsed[2])
        self._in += leftover
        if link.transport is not None and not link.transport.is_closing():
            link.transport.resume_reading()
        self._maybe_release()
        if self._in and not self._lane_start():
            link.wake()
        return True

    def _lane_query(self, buf: bytearray, pos: int) -> tuple[list[tuple[bytes, bytes]], tuple[Statement, ...]] | None:
        """(batch, statements) of the one simple Query filling ``buf`` from ``pos``, if it
        is one plain statement; None otherwise."""
        length = _I32.unpack_from(buf, pos + 1)[0]
        end = len(buf)
        if pos + 1 + length != end or length < 5 or length - 4 > self.config.max_message_bytes:
            return None
        # m.parse_query without its Reader: one string whose terminator is the body's last byte
        if buf.find(b"\x00", pos + 5) != end - 1:
            return None
        body = bytes(buf[pos + 5:])
        try:
            sql = body[:-1].decode()
        except UnicodeDecodeError:
            return None
        statements = self.proxy.classifier.classify(sql)
        if len(statements) != 1 or statements[0].kind not in LANE_KINDS:
            return None
        return [(b"Q", body)], statements

    def _lane_extended(self, buf: bytearray, pos: int, binds: list[tuple[str, bytes, int, int]]
                       ) -> tuple[list[tuple[bytes, bytes]], tuple[Statement, ...]] | None:
        """(batch, statements) of the Bind/Describe/Execute + Sync filling ``buf`` from
        ``pos``: Binds of the client's named statements, Describe and Execute of the unnamed
        portal bound in the batch, plain statements only; None otherwise. Each Bind's
        (statement name, body, start and end of the name) is appended to ``binds``."""
        batch: list[tuple[bytes, bytes]] = []
        statements: list[Statement] = []
        bound = False
        end_all = len(buf)
        while pos < end_all and len(batch) < LANE_MAX_MESSAGES:
            framed = self._frame_at(buf, pos, end_all)
            if framed is None:
                return None
            kind, end = framed
            if kind == 0x42:    # B
                body = bytes(buf[pos + 5:end])
                try:
                    portal, stmt, (i, j) = _bind_names(body)
                except (m.ProtocolViolation, m.InvalidEncoding):
                    return None
                entry = self.statements.get(stmt) if stmt and not portal else None
                if entry is None:
                    return None
                bound = True
                for st in self.proxy.classifier.classify(entry[1]):
                    if st.kind not in LANE_KINDS:
                        return None
                    statements.append(st)
                batch.append((b"B", body))
                binds.append((stmt, body, i, j))
                # what drivers send after a Bind, as one comparison: Describe + Execute + Sync
                left = end_all - end
                if left == len(_DES_FRAMES) and buf.startswith(_DES_FRAMES, end):
                    batch += _DES_ITEMS
                    return batch, tuple(statements)
                if left == len(_ES_FRAMES) and buf.startswith(_ES_FRAMES, end):
                    batch += _ES_ITEMS
                    return batch, tuple(statements)
            elif kind == 0x44:  # D: the whole frame compared in place (no copy of the body)
                if not bound or not buf.startswith(_DESCRIBE_UNNAMED_PORTAL_FRAME, pos):
                    return None
                batch.append(_DESCRIBE_UNNAMED_PORTAL_ITEM)
            elif kind == 0x45:  # E
                if not bound or not buf.startswith(_EXECUTE_UNNAMED_ALL_FRAME, pos):
                    return None
                batch.append(_EXECUTE_UNNAMED_ALL_ITEM)
            elif kind == 0x53:  # S
                if end != end_all or end - pos != 5 or not bound:
                    return None
                batch.append(_SYNC_ITEM)
                return batch, tuple(statements)
            else:
                return None
            pos = end
        return None

    def _lane_extended_out(self, conn: ServerConn, batch: list[tuple[bytes, bytes]],
                           binds: list[tuple[str, bytes, int, int]]) -> bytes | None:
        """The lane's extended batch as sent to ``conn`` (Binds with the server's statement
        names; what ``_translate`` makes of it), or None if ``conn`` lacks a statement.
        ``binds``: the batch's Binds as ``_lane_extended`` parsed them, in order."""
        out: list[bytes] = []
        next_bind = iter(binds).__next__
        for kind, _ in batch:
            if kind == b"B":
                stmt, body, i, j = next_bind()
                sname, sql, _ = self.statements[stmt]
                if sname not in conn.prepared:
                    return None  # a Parse to inject: the message loop's
                self.portals[""] = sql
                name = sname.encode()
                out.append(b"".join((b"B", _I32.pack(len(body) - (j - i) + len(name) + 4), body[:i], name,
                                     body[j:])))
            elif kind == b"D":
                out.append(_DESCRIBE_UNNAMED_PORTAL_FRAME)
            elif kind == b"E":
                out.append(_EXECUTE_UNNAMED_ALL_FRAME)
            else:
                out.append(fe.SYNC)
        return b"".join(out)

    def _lane_relay(self) -> bool:
        """The server link's hook while a lane Query is in flight: pass its answers on; at
        its ReadyForQuery settle it as the message loop would. A COPY, a server connection
        that ends or a client that does not keep up: hand over to the message loop."""
        lane = self._lane
        if lane is None:
            return False
        conn = lane.conn
        link = self.link
        assert link is not None
        try:
            stop, error = conn.relay_some(self.out)
        except m.ProtocolViolation:
            stop, error = b"!", False  # hand over: the message loop meets it and fails the query
        lane.had_error = lane.had_error or error
        if stop == b"Z":
            self._lane = None
            conn.link.hook = None
            self.server_skipping = False
            self._write_out()
            self._query_done(conn, lane.statements)
            if self._in_pos < len(self._in) or link.eof:
                link.wake()  # more client bytes came meanwhile: the message loop reads them
            return True
        if stop in (b"G", b"!") or conn.link.eof or self.writer.transport.get_write_buffer_size() > 256 * 1024:
            self._lane = None
            conn.link.hook = None
            lane.copy_in = stop == b"G"
            self._handover = lane
            link.wake()
            return True
        self._write_out()
        return True

    def _write_out(self) -> None:
        """Send what ``out`` holds (the lane's flush); dropped if the client is gone (the
        message loop, woken at the query's end, closes the session)."""
        out = self.out
        if out:
            transport = self.link.transport if self.link is not None else None  # the writer's
            if transport is not None and not transport.is_closing():
                transport.write(out[0] if len(out) == 1 else b"".join(out))
            out.clear()

    def _maybe_release(self) -> None:
        conn, pool = self.server, self.pool
        if conn is None or pool is None:
            return
        if self.txn_status == b"I" and not (self.server_skipping or self.mid_batch or self.pinned):
            self.server = None
            self.pool = None
            pool.release(conn)

    def _server_died(self, conn: ServerConn, batch: list[tuple[bytes, bytes]],
                     statements: tuple[Statement, ...], exc: BaseException) -> None:
        conn.broken = True
        self._drop_held()
        committing = any(s.kind is Kind.END and not s.text.lower().startswith(("rollback", "abort"))
                         for s in statements)
        autocommit_write = self.txn_status == b"I" and any(
            s.kind not in (Kind.READ, Kind.BEGIN) for s in statements)
        if committing or autocommit_write:
            sqlstate = "08006"
            text = (f"the compute {conn.backend.address} failed while committing: the outcome of "
                    "the transaction is unknown")
        else:
            sqlstate = "40001"
            text = (f"the compute {conn.backend.address} failed during the transaction, which was "
                    "rolled back: retry it")
        log.warning("client %d: server connection to %s died (%s): %s", self.id,
                    conn.backend.address, type(exc).__name__, sqlstate)
        self.proxy.suspect(conn.backend, f"a server connection died ({type(exc).__name__})")
        self.proxy.metrics.server_failures.labels(sqlstate).inc()
        self.error(sqlstate, text)
        self.server_skipping = False
        self.mid_batch = False
        self.txn_status = b"I"
        self.pending.clear()
        self.pinned = self.config.pool_mode == "session"
        assert self.pool is not None
        self.pool.release(conn)
        self.server = None
        self.pool = None
        self.portals.clear()
        self._after_failure(batch)

    def _sync_settings(self, conn: ServerConn, out: list[bytes], queue: collections.deque[_Entry]) -> None:
        """Replay the client's session settings on ``conn`` where it differs, ahead of what
        ``out`` and ``queue`` already hold."""
        sql: list[str] = []
        for name in list(conn.applied):
            if name not in self.settings:
                sql.append(f"RESET {_ident(name) if ' ' not in name else name}")
                del conn.applied[name]
        for name, text in self.settings.items():
            if conn.applied.get(name) != text:
                sql.append(text)
                conn.applied[name] = text
        if sql:
            out.insert(0, fe.query(";".join(sql)))
            queue.appendleft(_Entry("replay"))

    def _translate(self, conn: ServerConn, batch: list[tuple[bytes, bytes]],
                   statements: tuple[Statement, ...], out: list[bytes],
                   queue: collections.deque[_Entry]) -> None:
        """Rewrite the batch for ``conn`` (statement names, injected Parses) into ``out``."""
        parsing: set[str] = set()           # server names parsed earlier in this batch
        unnamed_here = False
        for kind, body in batch:
            if kind in (b"Q", b"F"):
                out.append(fe.frame(kind, body))
                queue.append(_Entry("query", statements=statements))
            elif kind == b"S":
                out.append(fe.SYNC)
                queue.append(_SYNC_ENTRY)
            elif kind == b"H":
                out.append(fe.FLUSH)
            elif kind == b"P":
                name, sql, oids = m.parse_parse(body)
                if not name:
                    self._parsed_unnamed(conn, sql, oids)
                    unnamed_here = True
                    out.append(fe.frame(kind, body))
                    queue.append(_Entry("client", b"1"))
                    continue
                sname = statement_name(sql, oids)
                self.statements[name] = (sname, sql, oids)
                if sname in conn.prepared or sname in parsing:
                    queue.append(_Entry("synthetic", data=m.PARSE_COMPLETE))
                    continue
                parsing.add(sname)
                out.append(fe.parse(sname, sql, oids))
                queue.append(_Entry("client", b"1", on_ok=_adder(conn.prepared, sname),
                                    on_error=_forget(self.statements, name, sname)))
            elif kind == b"B":
                portal, stmt, rest = _bind_names(body)
                if stmt:
                    sname = self._ensure(conn, stmt, parsing, out, queue)
                    entry = self.statements.get(stmt)
                    self.portals[portal] = entry[1] if entry is not None else ""
                    # the same Bind with the server's statement name (parameters untouched)
                    out.append(m.message(b"B", b"".join((body[:rest[0]], sname.encode(), body[rest[1]:]))))
                else:
                    if not unnamed_here and self.unnamed is not None and \
                            conn.unnamed_owner != (self.id, self.unnamed_seq):
                        out.append(fe.parse("", self.unnamed[0], self.unnamed[1]))
                        queue.append(_Entry("inject", b"1"))
                        conn.unnamed_owner = (self.id, self.unnamed_seq)
                        unnamed_here = True
                    self.portals[portal] = self.unnamed[0] if self.unnamed else ""
                    out.append(fe.frame(kind, body))
                queue.append(_BIND_ENTRY)
            elif kind == b"D":
                if body == _DESCRIBE_UNNAMED_PORTAL:
                    out.append(_DESCRIBE_UNNAMED_PORTAL_FRAME)
                else:
                    what, name = m.parse_describe_or_close(body)
                    if what == "S" and name:
                        out.append(fe.describe("S", self._ensure(conn, name, parsing, out, queue)))
                    else:
                        out.append(fe.frame(kind, body))
                queue.append(_DESCRIBE_ENTRY)
            elif kind == b"E":
                if body == _EXECUTE_UNNAMED_ALL:
                    portal = ""
                    out.append(_EXECUTE_UNNAMED_ALL_FRAME)
                else:
                    portal, _ = m.parse_execute(body)
                    out.append(fe.frame(kind, body))
                text = self.portals.get(portal, "")
                sts = self.proxy.classifier.classify(text) if text else ()
                if any(st.kind in (Kind.SET, Kind.DISCARD, Kind.DEALLOCATE) for st in sts):
                    queue.append(_Entry("client", b"CIsE", on_ok=functools.partial(self._record, sts)))
                else:
                    queue.append(_EXECUTE_ENTRY)
            elif kind == b"C":
                what, name = m.parse_describe_or_close(body)
                if what == "S":
                    if name:
                        self.statements.pop(name, None)
                    elif self.unnamed is not None:
                        self.unnamed = None
                    queue.append(_Entry("synthetic", data=m.CLOSE_COMPLETE))
                else:
                    self.portals.pop(name, None)
                    out.append(fe.frame(kind, body))
                    queue.append(_Entry("client", b"3"))

    def _ensure(self, conn: ServerConn, name: str, parsing: set[str], out: list[bytes],
                queue: collections.deque[_Entry]) -> str:
        """The server name of the client's statement ``name``, Parsed on ``conn`` if needed."""
        entry = self.statements.get(name)
        if entry is None:
            return name  # the server answers 26000 (does not exist) itself
        sname, sql, oids = entry
        if sname not in conn.prepared and sname not in parsing:
            parsing.add(sname)
            out.append(fe.parse(sname, sql, oids))
            queue.append(_Entry("inject", b"1", on_ok=_adder(conn.prepared, sname)))
        return sname

    async def _relay(self, conn: ServerConn, queue: collections.deque[_Entry]) -> bytes | None:
        """Send the server's answers to the client in order; returns the final ReadyForQuery
        status, or None if the batch had no Sync."""
        failed = self.server_skipping
        status: bytes | None = None
        if not failed and len(queue) > 1 and queue[-1].what == "sync" and all(
                e.what == "client" and e.on_ok is None and e.on_error is None
                for e in itertools.islice(queue, len(queue) - 1)):
            # Bind/Describe/Execute... + Sync whose answers all go to the client and need no
            # bookkeeping: everything up to the ReadyForQuery passes as raw bytes (after an
            # error the server sends nothing more before it)
            queue = collections.deque((queue[-1],))
        while queue:
            entry = queue.popleft()
            if entry.what == "synthetic":
                if not failed:
                    self.send(entry.data)
                continue
            if entry.what in ("client", "inject") and failed:
                continue
            if entry.what == "replay":
                while True:
                    kind, body = await conn.read()
                    if kind == b"E":
                        log.warning("client %d: replaying session settings failed: %s", self.id,
                                    fe.parse_error_fields(body).get("M"))
                    elif kind == b"Z":
                        break
                continue
            if entry.what in ("sync", "query"):
                had_error = await self._relay_to_ready(conn)
                status = conn.last_status
                failed = False
                if entry.what == "query" and not had_error:
                    self._record(entry.statements)
                continue
            # one extended-protocol message: read until its terminal message or an error
            while True:
                if not conn.has_message():
                    await self.flush()
                kind, frame = await conn.read_frame()
                if kind == b"E":
                    self.send(frame)
                    failed = True
                    if entry.on_error is not None:
                        entry.on_error()
                    break
                if kind == b"G":
                    self.send(frame)
                    await self._copy_in(conn)
                    continue
                if kind in (b"N", b"A", b"S") or kind not in entry.terminals:
                    self.send(frame)
                    continue
                if entry.what == "client":
                    self.send(frame)
                if entry.on_ok is not None:
                    entry.on_ok()
                break
        self.server_skipping = failed
        await self.flush()
        return status

    async def _relay_to_ready(self, conn: ServerConn) -> bool:
        """Relay the server's answers as raw byte runs (no DataRow cut apart) up to and with
        its ReadyForQuery, feeding the client's COPY data when asked; True if an
        ErrorResponse went by."""
        had_error = False
        while True:
            stop, error = conn.relay_some(self.out)
            had_error = had_error or error
            if stop == b"Z":
                return had_error
            if stop == b"G":
                await self._copy_in(conn)
                continue
            await self.flush()
            await conn.fill()

    async def _copy_in(self, conn: ServerConn) -> None:
        """COPY FROM STDIN: pass the client's CopyData to the server until CopyDone/CopyFail."""
        await self.flush()
        while True:
            kind, body = await self.read_message()
            if kind in (b"d", b"c", b"f"):
                conn.write(fe.frame(kind, body))
                if kind != b"d":
                    await conn.drain()
                    return
                if conn.write_buffer_size() > 1 << 20:
                    await conn.drain()
            elif kind in (b"H", b"S"):
                continue
            else:
                conn.write(fe.frame(b"f", m.cstr("unexpected message during COPY from the client")))
                await self.fatal("08P01", f"unexpected message type {kind!r} during COPY")

    def _record(self, statements: tuple[Statement, ...]) -> None:
        """``statements`` succeeded: their session-state changes count once their transaction
        commits (a SET in a transaction that rolls back is undone, as in PostgreSQL)."""
        for s in statements:
            kind = s.kind
            if kind is Kind.READ or kind is Kind.WRITE:
                continue
            if kind is Kind.SET or kind is Kind.DISCARD:
                self.pending.append(s)
            elif kind is Kind.DEALLOCATE and not s.value and self.server is not None:
                self.server.prepared.clear()  # the server dropped the shared statements too
                self.statements.clear()

    def _settle(self, status: bytes, statements: tuple[Statement, ...]) -> None:
        """At a ReadyForQuery: a transaction that ended keeps or drops its pending SETs."""
        if status != b"I" or not self.pending:
            return
        rolled_back = any(s.kind is Kind.END and s.text.lower().startswith(("rollback", "abort"))
                          and not s.text.lower().startswith("rollback to") for s in statements)
        pending, self.pending = self.pending, []
        if not rolled_back:
            self._apply(tuple(pending))
        elif self.server is not None:
            for st in pending:  # the server may not have undone it: replay before the next use
                self.server.applied[st.setting] = UNKNOWN_SETTING

    def _apply(self, statements: tuple[Statement, ...]) -> None:
        conn = self.server
        for s in statements:
            if s.kind is Kind.SET:
                if s.setting == "default_transaction_read_only":
                    self.default_ro = _truthy(s.value)
                if s.value == "" and s.text.lower().startswith("reset"):
                    self.settings.pop(s.setting, None)
                    if conn is not None:
                        conn.applied.pop(s.setting, None)
                    if s.setting == "default_transaction_read_only":
                        self.default_ro = False
                else:
                    self.settings[s.setting] = s.text
                    if conn is not None:
                        conn.applied[s.setting] = s.text
            elif s.kind is Kind.DISCARD:
                self.settings.clear()
                self.default_ro = False
                if conn is not None:
                    conn.applied.clear()
                    if s.text.lower().startswith("discard"):
                        conn.prepared.clear()
                        self.statements.clear()


def _bind_names(body: bytes) -> tuple[str, str, tuple[int, int]]:
    """(portal, statement name, (start, end) of the name's bytes with its terminator) of a
    Bind body: two finds, no Reader. Errors as the Reader's: ProtocolViolation for a missing
    terminator, InvalidEncoding for bad UTF-8."""
    i = body.find(b"\x00")
    j = body.find(b"\x00", i + 1) if i >= 0 else -1
    if j < 0:
        raise m.ProtocolViolation("unterminated string in message")
    names = []
    for raw in (body[:i], body[i + 1:j]):
        try:
            names.append(raw.decode())
        except UnicodeDecodeError:
            raise m.InvalidEncoding(raw) from None
    return names[0], names[1], (i + 1, j)


def _adder(target: set[str], name: str) -> Callable[[], None]:
    def add() -> None:
        target.add(name)
    return add


def _forget(statements: dict[str, tuple[str, str, list[int]]], name: str, sname: str) -> Callable[[], None]:
    def forget() -> None:
        entry = statements.get(name)
        if entry is not None and entry[0] == sname:
            del statements[name]
    return forget


def _ident(name: str) -> str:
    if name.replace("_", "").replace(".", "").isalnum():
        return name
    return '"' + name.replace('"', '""') + '"'


def _literal(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


def _truthy(value: str) -> bool:
    return value.strip().strip("'").lower() in ("on", "true", "1", "yes")
