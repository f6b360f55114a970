"""The PostgreSQL v3 protocol server on asyncio: startup, auth, simple and extended query, COPY.

A connection moves through: optional SSLRequest/GSSENCRequest → StartupMessage (or a
CancelRequest, answered by closing) → authentication → ParameterStatus / BackendKeyData →
the message loop. Malformed input is answered with an ErrorResponse (08P01) and, where the
stream can no longer be trusted (bad length, unknown message type), the connection is
closed; nothing a client sends can crash the server or touch data outside its session.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import hmac
import logging
import os
import re
import secrets
import ssl
import struct
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, cast

from compute import pgtypes
from compute import settings as guc
from compute.engine import Database, Engine, storage_error
from compute.pgwire.copyformat import BinaryCopyParser, CopyParser, text_formatter
from compute.pgwire.deferredbegin import answer_begin_error, begin_deferred, take_deferred_begin
from compute.pgwire.encoding import Transcoder, transcoder
from compute.pgwire.extended import (
    EXTENDED_MESSAGES,
    LIMIT_SQLSTATE,
    MAX_CACHED_FORMATS,
    MAX_PORTALS,
    MAX_PREPARED_STATEMENTS,
    MAX_STATEMENT_BYTES,
    ExtendedQuery,
    Portal,
    Prepared,
    Skip,
    statement_too_long,
)
from compute.pgwire.fastbatch import MAX_BATCH_BYTES, answer_batch
from compute.pgwire.fastquery import answer_query
from compute.pgwire.lanes import TERMINATED, ready_for
from compute.pgwire.lent import DescriptorInbox, lend, take_handoff
from compute.pgwire.portals import convert_in, fetch_portal
from compute.pgwire.results import (
    cached_row_description,
    command_complete,
    result_columns,
    row_encoders,
    row_output,
    send_rows,
    text_encoder,
)
from compute.pgwire.wire import BadLength, WireProtocol
from compute.roles import role_verifier
from compute.session import Session
from compute.sql import diagnostic_fields
from compute.sql.api import Kind, SqlError, Translation
from compute.transaction import FatalSessionError, Result, TxnStatus
from strata.busypoll import BusyPoll
from strata.pgwire import messages as m
from strata.pgwire import unixsock
from strata.pgwire.auth import AuthFailed, BadMechanism, PasswordBook, scram_server_exchange
from strata.pgwire.frontend import DEFERRED_BEGIN
from strata.pgwire.handoff import HANDOFF, LEND_LINGER_MS, board_path, side_path
from strata.pgwire.startup import StartupRefused, read_startup

__all__ = ["LIMIT_SQLSTATE", "MAX_PORTALS", "MAX_PREPARED_STATEMENTS", "MAX_STATEMENT_BYTES",
           "Connection", "Portal", "Prepared", "Server", "ServerConfig"]
from strata.storage import StorageError

log = logging.getLogger("strata.compute.server")

MAX_PREAUTH_MESSAGE_BYTES = 65_535
"""Largest message (bytes, without its length word) accepted before authentication ends:
an unauthenticated client may not make the server buffer a 64 MiB message (password and
SASL messages are tiny; PostgreSQL bounds them the same way)."""
COPY_BATCH_ROWS = 5_000
# Binary COPY: signature, flags (no OIDs), header extension length 0.
BINARY_COPY_HEADER = b"PGCOPY\n\xff\r\n\x00" + bytes(8)
_READY_MESSAGES = frozenset(m.READY.values())
_EMPTY, _FETCH, _QUERY_KIND = Kind.EMPTY, Kind.FETCH, Kind.QUERY  # (enum attributes: slow on 3.11)
_QUERY = 81  # b"Q"
_DEFERRED_BEGIN_BYTE = DEFERRED_BEGIN[0]
_HANDOFF_BYTE = HANDOFF[0]
_BEGIN_ERROR_KINDS = frozenset((b"Q", b"S", *EXTENDED_MESSAGES))
"""Messages that get a failed deferred BEGIN's error instead of their own answer."""

PROXY_SECRET_PARAM = "strata.proxy_secret"
"""Startup parameter by which the proxy proves itself (compared with --proxy-secret-file)."""
COMMIT_LSN_PARAM = "strata.commit_lsn"
"""ParameterStatus to the proxy: decimal LSN of the commit this connection just made."""
REPLAY_LSN_PARAM = "strata.replay_lsn"
"""ParameterStatus to the proxy: decimal LSN up to which this node serves reads."""
MIN_PROXY_SECRET_BYTES = 16

DEFAULT_MAX_CONNECTIONS = 200  # client connections past their startup packet; 53300 beyond


@dataclass
class ServerConfig:
    host: str = "127.0.0.1"
    port: int = 55433
    auth: str = "trust"  # trust | md5 | scram
    password_file: str | None = None
    tls_cert: str | None = None
    tls_key: str | None = None
    max_message_bytes: int = 64 * 1024 * 1024
    max_connections: int = DEFAULT_MAX_CONNECTIONS
    proxy_secret_file: str | None = None  # the proxy's credential (see Connection.authenticate)
    require_tls: bool = False  # refuse plaintext clients (28000), as a hostssl-only pg_hba does
    unix_socket_dir: str | None = None  # also listen on DIR/.s.PGSQL.<port> (local, no TLS)
    busy_poll_us: int = 0  # poll this long after input while the core is free (strata/busypoll.py)
    lend_linger_ms: float = LEND_LINGER_MS  # a lent socket waits this long (ms) for the next
                                            # transaction (lent.py)


class _Close(Exception):
    """End the connection (after a FATAL error or Terminate)."""


class Server:
    """Accepts PostgreSQL connections and serves them from an Engine."""

    def __init__(self, engine: Engine, config: ServerConfig) -> None:
        self.engine = engine
        self.config = config
        self.passwords = PasswordBook.load(config.password_file) if config.password_file else None
        if config.auth in ("md5", "scram") and self.passwords is None:
            raise ValueError(f"--auth {config.auth} needs a password file")
        self.proxy_secret: bytes | None = None
        if config.proxy_secret_file:
            self.proxy_secret = Path(config.proxy_secret_file).read_bytes().strip()
            if len(self.proxy_secret) < MIN_PROXY_SECRET_BYTES:
                raise ValueError(f"--proxy-secret-file holds fewer than {MIN_PROXY_SECRET_BYTES} bytes")
        self.ssl_context: ssl.SSLContext | None = None
        if config.tls_cert:
            ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
            ctx.load_cert_chain(config.tls_cert, config.tls_key)
            self.ssl_context = ctx
        if config.require_tls and self.ssl_context is None:
            raise ValueError("require_tls needs a TLS certificate")
        self.sessions: dict[int, tuple[int, Connection]] = {}
        self.clients = 0
        """Connections past their startup packet, counted against ``max_connections``."""
        self._next_pid = os.getpid() * 1000 % 2_000_000_000
        self._server: asyncio.base_events.Server | None = None
        self._unix_server: asyncio.base_events.Server | None = None
        self.unix_path: str | None = None
        self.inbox: DescriptorInbox | None = None  # client sockets the proxy lends (lent.py)
        self._tasks: set[asyncio.Task[None]] = set()
        self.busy_poll: BusyPoll | None = None

    async def start(self) -> None:
        loop = asyncio.get_running_loop()
        poll = self.busy_poll = BusyPoll.for_window(loop, self.config.busy_poll_us)
        self._server = await loop.create_server(
            lambda: WireProtocol(self._accept, poll), self.config.host, self.config.port,
            backlog=512)
        if self.config.unix_socket_dir:
            path = unixsock.socket_path(self.config.unix_socket_dir, self.port)
            unixsock.claim_socket_path(path)
            self._unix_server = await loop.create_unix_server(
                lambda: WireProtocol(self._accept, poll), path, backlog=512)
            os.chmod(path, unixsock.SOCKET_FILE_MODE)
            self.unix_path = path
            side = side_path(path)
            if side is not None and self.proxy_secret is not None:
                self.inbox = DescriptorInbox(side, board_path(path))

    @property
    def port(self) -> int:
        assert self._server is not None
        return int(self._server.sockets[0].getsockname()[1])

    async def serve_forever(self) -> None:
        assert self._server is not None
        async with self._server:
            await self._server.serve_forever()

    async def close(self) -> None:
        for server in (self._server, self._unix_server):
            if server is not None:
                server.close()
                await server.wait_closed()
        if self.unix_path is not None:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(self.unix_path)
        if self.inbox is not None:
            self.inbox.close()

    def new_backend_key(self) -> tuple[int, int]:
        self._next_pid = self._next_pid % 2_000_000_000 + 1
        return self._next_pid, secrets.randbits(31)

    def _accept(self, wire: WireProtocol) -> None:
        task = asyncio.get_running_loop().create_task(self._handle(wire))
        self._tasks.add(task)  # held until done (the loop keeps only weak references)
        task.add_done_callback(self._tasks.discard)

    async def _handle(self, wire: WireProtocol) -> None:
        conn = Connection(self, wire)
        try:
            await conn.run()
        except (ConnectionError, asyncio.IncompleteReadError, _Close, ssl.SSLError):
            pass
        except Exception:  # noqa: BLE001 - a bug must not take the server down
            log.exception("connection failed")
        finally:
            await conn.cleanup()


class Connection(ExtendedQuery):
    """One client connection."""

    def __init__(self, server: Server, wire: WireProtocol) -> None:
        self.server = server
        self.wire = wire
        self.session: Session | None = None
        self.db: Database | None = None
        self.prepared: dict[str, Prepared] = {}
        self.portals: dict[str, Portal] = {}
        self.pid = 0
        self.out: list[bytes] = []
        self.authenticated = False
        self.report_lsns = False  # a proxy connection: report commit and readable LSNs
        self.via_proxy = False  # proved the proxy's secret: its own messages are accepted
        self.reported_commit_lsn = 0
        self.reported_readable_lsn = -1
        self.begin_error: SqlError | None = None  # a deferred BEGIN's, for the next statement
        self.idle_credit_s = 0.0  # a deferred BEGIN waited this long in the proxy: idle already
        self.counted = False  # counted in server.clients
        self.waiting_idle = False  # blocked reading the next message, everything flushed
        self.skipping = False  # the extended protocol skips to Sync after an error (while waiting)
        self.terminating = False  # pg_terminate_backend: end at the next message boundary
        self.transcoder: Transcoder | None = None  # client_encoding other than UTF8 / SQL_ASCII
        self.styled = False  # DateStyle not ISO or IntervalStyle not postgres: text dates re-formatted
        self.local = unixsock.is_unix_transport(wire.get_extra_info("sockname"))
        """Over the Unix socket: no TLS offered, not refused by require_tls (pg_hba ``local``)."""

    # ------------------------------------------------------------------ I/O

    def send(self, data: bytes) -> None:
        self.out.append(data)

    async def flush(self) -> None:
        if self.out:
            data = b"".join(self.out)
            self.wire.write(data if self.transcoder is None else self.transcoder.outgoing(data))
            self.out.clear()
            if self.wire.write_buffer_size() > 256 * 1024:
                await self.wire.drain()

    def message_limit(self) -> int:
        return self.server.config.max_message_bytes if self.authenticated else MAX_PREAUTH_MESSAGE_BYTES

    async def read_message(self) -> tuple[bytes, bytes]:
        try:
            return await self.wire.read_message(self.message_limit())
        except BadLength as exc:
            await self.fatal("08P01", f"invalid message length {exc.length}")
            raise  # unreachable: fatal raises

    async def fatal(self, sqlstate: str, text: str) -> None:
        self.send(m.error_response(sqlstate, text, severity="FATAL"))
        with contextlib.suppress(ConnectionError):
            await self.flush()
        raise _Close()

    def send_error(self, exc: SqlError) -> None:
        if self.session is not None and self.session.backend.warnings:  # e.g. RAISE NOTICE before the error
            for sqlstate, text in self.session.backend.take_warnings():
                self.send(m.notice_response(sqlstate, text, severity="NOTICE" if sqlstate == "00000" else "WARNING"))
        self.send(m.error_response(exc.sqlstate, exc.message, severity=exc.severity,
                                   detail=exc.detail, hint=exc.hint, position=exc.position,
                                   fields=diagnostic_fields(exc)))

    async def cleanup(self) -> None:
        if self.counted:
            self.counted = False
            self.server.clients -= 1
        if self.session is not None:
            self.server.engine.connected[self.session.db.name] -= 1
            with contextlib.suppress(Exception):
                await self.session.close()
        self.server.sessions.pop(self.pid, None)
        with contextlib.suppress(Exception):
            self.wire.close()

    # ------------------------------------------------------------------ startup

    async def run(self) -> None:
        params = await self.startup()
        if params is None:
            return
        server = self.server
        if server.clients >= server.config.max_connections:
            await self.fatal("53300", "sorry, too many clients already")
        server.clients += 1
        self.counted = True
        await self.authenticate(params)
        self.authenticated = True
        await self.message_loop()

    async def startup(self) -> dict[str, str] | None:
        try:
            wire = cast(Any, self.wire)  # offers readexactly, write, drain and start_tls
            local = self.local
            got = await read_startup(wire, wire, None if local else self.server.ssl_context,
                                     minor_versions=True)
        except StartupRefused as exc:
            await self.fatal(exc.sqlstate, exc.message)
            raise  # unreachable: fatal raises
        if got.cancel is not None:
            pid, secret = got.cancel
            entry = self.server.sessions.get(pid)
            if entry is not None and entry[0] == secret and entry[1].session is not None:
                entry[1].session.interrupt("cancel")
            return None
        params = got.params
        assert params is not None
        if self.server.config.require_tls and not got.tls and not local:
            # PostgreSQL's words when only hostssl lines would match
            peer = self.wire.get_extra_info("peername") or ("?",)
            user = params.get("user", "")
            await self.fatal("28000", f'no pg_hba.conf entry for host "{peer[0]}", user "{user}", '
                                      f'database "{params.get("database") or user}", no encryption')
        return params

    async def authenticate(self, params: dict[str, str]) -> None:
        server = self.server
        user = params.get("user")
        if not user:
            await self.fatal("28000", "no PostgreSQL user name specified in startup packet")
        assert user is not None
        database = params.get("database") or user
        mode = server.config.auth
        proxy_secret = params.pop(PROXY_SECRET_PARAM, None)
        if proxy_secret is not None:
            # The proxy authenticated the client already (it holds the users' verifiers, the
            # compute never sees a client's password); it proves itself with the shared
            # secret and then gets each commit's and the node's LSN (read-your-writes).
            if server.proxy_secret is None:
                await self.fatal("28000", "this compute does not accept proxy connections "
                                          "(it was started without --proxy-secret-file)")
            assert server.proxy_secret is not None
            if not hmac.compare_digest(proxy_secret.encode(), server.proxy_secret):
                await self.fatal("28P01", f'proxy authentication failed for user "{user}"')
            self.report_lsns = self.via_proxy = True
        elif mode == "md5":
            await self._auth_md5(user)
        elif mode == "scram":
            await self._auth_scram(user, database)
        try:
            self.db = await server.engine.database(database)
        except SqlError as exc:
            await self.fatal(exc.sqlstate, exc.message)
        assert self.db is not None
        settings = dict(guc.DEFAULTS)
        settings["session_authorization"] = user
        for key, value in params.items():
            lk = key.lower()
            if lk in ("user", "database", "replication"):
                continue
            if lk == "options":
                for name, val in _parse_options(value):
                    with contextlib.suppress(SqlError):
                        settings[name.lower()] = guc.normalize(name, val)
                continue
            try:
                settings[lk] = guc.normalize(lk, value)
            except SqlError as exc:
                if lk in guc.DEFAULTS:
                    await self.fatal(exc.sqlstate, exc.message)
        settings["in_hot_standby"] = server.engine.in_hot_standby()
        settings["max_connections"] = str(server.config.max_connections)  # SHOW tells the truth
        self.session = Session(server.engine, self.db, user, settings)
        self.session.protocol_prepared = self.prepared  # pg_prepared_statements reads them
        self.transcoder = transcoder(settings.get("client_encoding", "UTF8"))
        self.styled = pgtypes.session_styled(settings)
        server.engine.connected[self.db.name] += 1
        self.pid, secret = server.new_backend_key()
        self.session.backend_pid = self.pid
        server.sessions[self.pid] = (secret, self)
        self._register_backend(self.session, params)
        limit = self.session.login_role(self.server.passwords)  # superuser or not (session_privileges.py)
        if limit is not None and sum(b.session.user == user for b in server.engine.admin.backends.values()) > limit:
            await self.fatal("53300", f'too many connections for role "{user}"')
        self.send(m.AUTH_OK)
        for name in guc.REPORTED:
            self.send(m.parameter_status(name, settings.get(name.lower(), "")))
        self.send(m.backend_key_data(self.pid, secret))
        self.send(m.READY[b"I"])
        await self.flush()

    def _register_backend(self, session: Session, params: dict[str, str]) -> None:
        """pg_stat_activity's view of this connection; how NOTIFY and pg_terminate_backend reach it."""
        backend = session.backend
        peer = self.wire.get_extra_info("peername")
        if isinstance(peer, tuple) and len(peer) >= 2:
            backend.client_addr, backend.client_port = str(peer[0]), int(peer[1])
        elif self.local:
            backend.client_port = -1  # as PostgreSQL shows a Unix-socket client
        backend.wake = self._notified
        backend.terminate = self._terminate
        backend.register(self.pid)

    def _notified(self) -> None:
        """A notification was queued for this session: an idle client gets it at once."""
        session = self.session
        if self.waiting_idle and session is not None and session.status is TxnStatus.IDLE:
            data = b"".join(_notification_messages(session))
            with contextlib.suppress(ConnectionError):  # the client is gone: nobody to tell
                self.wire.write(data if self.transcoder is None else self.transcoder.outgoing(data))

    def _terminate(self) -> None:
        """pg_terminate_backend: FATAL 57P01 now if idle, else when the statement stops."""
        self.terminating = True
        if self.waiting_idle:
            with contextlib.suppress(ConnectionError):
                self.wire.write(m.error_response("57P01", TERMINATED, severity="FATAL"))
            self.wire.close()
        elif self.session is not None:
            self.session.interrupt("terminate")

    async def _expect_password_message(self) -> bytes:
        await self.flush()
        kind, body = await self.read_message()
        if kind != b"p":
            await self.fatal("08P01", f"expected password response, got message type {kind!r}")
        return body

    async def _auth_md5(self, user: str) -> None:
        salt = os.urandom(4)
        self.send(m.auth_md5(salt))
        body = await self._expect_password_message()
        response = body.rstrip(b"\x00").decode(errors="replace")
        assert self.server.passwords is not None
        if not self.server.passwords.check_md5(user, salt, response):
            await self.fatal("28P01", f'password authentication failed for user "{user}"')

    async def _auth_scram(self, user: str, database: str) -> None:
        book = self.server.passwords
        assert book is not None
        if not book.knows(user):  # a role made by CREATE ROLE … PASSWORD (compute/roles.py)
            with contextlib.suppress(SqlError):  # no such database: 28P01 first, as PostgreSQL
                db = await self.server.engine.database(database)
                verifier = role_verifier(db.catalog_conn, user)
                if verifier is not None:
                    book = PasswordBook({user: verifier})
        try:
            await scram_server_exchange(book, user, self.send,
                                        self._expect_password_message)
        except BadMechanism as exc:
            await self.fatal("28000", str(exc))
        except AuthFailed:
            await self.fatal("28P01", f'password authentication failed for user "{user}"')

    # ------------------------------------------------------------------ message loop

    async def message_loop(self) -> None:
        session = self.session
        assert session is not None
        skipping = False
        take = self.wire.take_message
        limit = self.message_limit()  # authenticated: fixed from here on
        if limit >= MAX_BATCH_BYTES:  # a batch within it can be answered from the callback
            self.wire.on_batch = functools.partial(_answer_input, self)
        while True:
            message = None
            if not self.terminating:  # a whole message already here: no flush, no await
                try:
                    message = take(limit)
                except BadLength:  # reported by read_message below
                    pass
            if message is None:
                self.skipping = skipping  # the callback lanes take nothing while it skips
                message = await self._next_message(session)
            kind, body = message
            if self.transcoder is not None and kind in (b"Q", b"P", b"B"):
                converted = await convert_in(self, kind, body, session)
                if converted is None:  # 22P05 sent; the extended protocol skips to Sync
                    skipping = kind != b"Q"
                    continue
                body = converted
            try:
                if self.begin_error is not None and kind in _BEGIN_ERROR_KINDS:
                    skipping = answer_begin_error(self, kind)
                    continue
                if kind == b"Q":
                    skipping = False
                    await self.simple_query(body)
                elif kind in EXTENDED_MESSAGES:
                    if skipping:
                        continue
                    pending = self.extended_now(kind, body)
                    if pending is not None:
                        await self.extended_rest(pending)
                elif kind == b"S":
                    skipping = False
                    await self.sync()
                elif kind == b"H":
                    await self.flush()
                elif kind == b"X":
                    return
                elif kind in (b"d", b"c", b"f"):
                    continue  # stray COPY messages after an aborted COPY are ignored
                elif kind == DEFERRED_BEGIN and self.via_proxy:
                    begin_deferred(self, body)  # the proxy's (compute/pgwire/deferredbegin.py)
                elif kind == HANDOFF and self.via_proxy:
                    await lend(self, body)  # the proxy lends the client's socket (lent.py)
                else:
                    await self.fatal("08P01", f"invalid frontend message type {kind[0]}")
            except Skip:
                skipping = True
            except m.ProtocolViolation as exc:
                self.send(m.error_response("08P01", str(exc)))
                skipping = kind in EXTENDED_MESSAGES
                if kind == b"Q":
                    self.send(m.READY[session.status.value])
                await self.flush()
            except StorageError as exc:  # outside a statement's own handling (a fast read)
                log.warning("storage failure: %s", exc)
                session.fail()
                self.send_error(storage_error(exc))
                if kind in EXTENDED_MESSAGES:
                    skipping = True
                elif kind == b"Q":
                    await self._end_failed_query(session)
            except FatalSessionError as exc:
                await self.fatal(exc.sqlstate, exc.message)
            except (ConnectionError, asyncio.IncompleteReadError, _Close):
                raise
            except Exception as exc:  # noqa: BLE001 - a bug fails the statement, not the session
                log.exception("internal error handling message %r", kind)
                session.fail()
                self.send(m.error_response("XX000", f"internal error: {type(exc).__name__}: {exc}"))
                if kind in EXTENDED_MESSAGES:
                    skipping = True
                elif kind == b"Q":
                    await self._end_failed_query(session)

    async def _end_failed_query(self, session: Session) -> None:
        """A simple query failed outside its own handling: its implicit block rolls back."""
        with contextlib.suppress(SqlError, StorageError):
            await session.end_implicit(ok=False)
        self.send(m.READY[session.status.value])

    async def _next_message(self, session: Session) -> tuple[bytes, bytes]:
        # Like PostgreSQL, answer only when about to wait for input: a pipelined
        # Parse/Bind/Execute/Sync then costs one send, not four.
        if self.terminating:
            self.out.clear()
            await self.fatal("57P01", TERMINATED)
        if len(self.wire.buf) >= 5:
            return await self.read_message()
        self.before_wait(session)
        backend = session.backend
        await self.flush()
        backend.busy = False
        self.waiting_idle = True
        try:
            credit, self.idle_credit_s = self.idle_credit_s, 0.0  # a deferred BEGIN's wait
            if session.status is not TxnStatus.IDLE and not session.in_implicit_block:
                timeout = session.setting_ms("idle_in_transaction_session_timeout")
                if timeout > 0:
                    try:
                        return await asyncio.wait_for(self.read_message(),
                                                      max(0.0, timeout / 1000.0 - credit))
                    except TimeoutError:
                        await self.fatal("25P03", "terminating connection due to "
                                                  "idle-in-transaction timeout")
            return await self.read_message()
        finally:
            self.waiting_idle = False
            backend.busy = True

    def before_wait(self, session: Session) -> None:
        """What goes out with the answers before the connection waits for input: a changed
        in_hot_standby, the proxy's LSN reports, notifications (before ReadyForQuery)."""
        if session.settings.get("in_hot_standby") != self.server.engine.in_hot_standby():
            self._report_hot_standby(session)  # (its test inline: no call in the usual case)
        if self.report_lsns:
            self._report_lsns(session)
        elif self.wire.lent is not None:  # a commit on it goes on the proxy's watermark now
            self.wire.lent.publish_commit(session)
        if session.backend.listening and session.status is TxnStatus.IDLE:
            for message in _notification_messages(session):  # after CommandComplete
                self._send_before_ready(message)

    def _report_hot_standby(self, session: Session) -> None:
        """After a promotion, tell the client in_hot_standby is off (PostgreSQL reports it with
        its next ReadyForQuery). Put before the ReadyForQuery waiting in the buffer."""
        value = self.server.engine.in_hot_standby()
        if session.settings.get("in_hot_standby") == value:
            return
        session.settings["in_hot_standby"] = value
        self._send_before_ready(m.parameter_status("in_hot_standby", value))

    def _report_lsns(self, session: Session) -> None:
        """For the proxy: the LSN of this session's newest commit (once), and the LSN this
        node has made readable (on a replica, its replay position), before ReadyForQuery. The
        proxy routes reads by a replica's readable LSN only: a primary reports it with its
        first answer and with its commits (not with every answer as a replica does)."""
        if session.last_commit_lsn > self.reported_commit_lsn:
            self.reported_commit_lsn = session.last_commit_lsn
            self._send_before_ready(m.parameter_status(COMMIT_LSN_PARAM, str(session.last_commit_lsn)))
        elif self.reported_readable_lsn >= 0 and session.settings.get("in_hot_standby") != "on":
            return  # a primary (_report_hot_standby just looked), no new commit
        readable = self.server.engine.factory.durable_lsn()
        if readable != self.reported_readable_lsn:
            self.reported_readable_lsn = readable
            self._send_before_ready(m.parameter_status(REPLAY_LSN_PARAM, str(readable)))

    def _send_before_ready(self, message: bytes) -> None:
        """Queue ``message`` before the last queued ReadyForQuery (or at the end)."""
        ready = _READY_MESSAGES
        for i in range(len(self.out) - 1, -1, -1):
            if self.out[i] in ready:
                self.out.insert(i, message)
                return
        self.out.append(message)

    def _report_settings(self, session: Session) -> None:
        for name in session.changed_settings:
            reported = guc.reported_name(name)
            if reported:
                self.send(m.parameter_status(reported, session.settings.get(name, "")))
            if name == "client_encoding":
                self.transcoder = transcoder(session.settings.get(name, "UTF8"))
            elif name.lower() in ("datestyle", "intervalstyle"):
                self.styled = pgtypes.session_styled(session.settings)
        session.changed_settings.clear()

    # ------------------------------------------------------------------ simple query

    def _refuse_query(self, session: Session, exc: m.InvalidEncoding | SqlError) -> None:
        """A query string that cannot run at all: its error, then ReadyForQuery."""
        if isinstance(exc, m.InvalidEncoding):
            self.send(m.error_response("22021", str(exc)))
        else:
            session.fail()
            self.send_error(exc)
        self.send(m.READY[session.status.value])

    async def simple_query(self, body: bytes) -> None:
        session = self.session
        assert session is not None and self.db is not None
        try:
            sql = m.parse_query(body)
            session.backend.start_query(sql)
            if len(body) > MAX_STATEMENT_BYTES:
                raise statement_too_long(len(body))
        except (m.InvalidEncoding, SqlError) as exc:
            self._refuse_query(session, exc)
            return
        if await self._simple_fast(session, sql):
            return
        try:
            translations = session.translate(sql)
            for tr in translations:
                if tr.param_oids:  # the simple protocol has no parameters to bind
                    ref = re.search(r"\$\d+", sql)
                    raise SqlError("42P02", f"there is no parameter {ref.group(0) if ref else '$1'}",
                                   position=ref.start() + 1 if ref else None)
        except (m.InvalidEncoding, SqlError) as exc:
            self._refuse_query(session, exc)
            return
        if len(translations) > 1:
            session.begin_implicit(eager=True)
        try:
            for tr in translations:
                await self.run_statement(tr, (), [], describe=True)
            if len(translations) > 1:  # one statement is its own transaction, or in a block
                await session.end_implicit()
        except SqlError as exc:
            await self._query_failed(session, exc)
        self._query_done(session)

    async def _query_failed(self, session: Session, exc: SqlError) -> None:
        """A statement of a simple query failed: its error, and the implicit block ends."""
        session.fail()
        self.send_error(exc)
        await session.end_implicit(ok=False)

    def _query_done(self, session: Session) -> None:
        """The end of a simple query: ReadyForQuery (a transaction's end closes its portals)."""
        if session.txn is None and self.portals:
            self.portals.clear()
        self.send(ready_for(session))

    async def _simple_fast(self, session: Session, sql: str) -> bool:
        """A known shape of a single-step read or bindable write (``Session.simple_shape``),
        run with no Translation made: an autocommit read on the fast lane, anything else as the
        shape's template with its literals bound, through ``run_statement`` (so a write in a
        transaction block takes the write fast lane). False: the general path (nothing was
        sent). Errors end the query as in ``simple_query``."""
        try:
            hit = session.simple_shape(sql)
            if hit is None:
                return False
            tr, step, params = hit
            if not self.shape_now(session, tr, step, params):
                if not params:
                    return False
                # not now (no idle reader, a read past its inline budget: a thread; a busy
                # writer): the template's own statement, literals bound, on the general path
                await self.run_statement(tr, params, [], describe=True, fast_tried=True)
        except SqlError as exc:
            await self._query_failed(session, exc)
        self._query_done(session)
        return True

    def shape_now(self, session: Session, tr: Translation, step: str, params: tuple[Any, ...]
                  ) -> bool:
        """A ``simple_shape`` hit answered without an await (queued): an autocommit read on the
        read lane, else the template with its literals bound on the write fast lane. False:
        not now, nothing done (compute/pgwire/fastquery.py answers from the socket with it)."""
        if session.txn is None and not tr.is_write:
            result = session.fast_shape_read(tr, step, params)
            if result is None:
                return False
            self._send_result(tr, result, [], True, None, 0)
            return True
        return bool(params) and self.statement_now(session, tr, params, [], True, None, 0)

    def statement_now(self, session: Session, tr: Translation, params: tuple[Any, ...],
                      result_formats: list[int], describe: bool, portal: Portal | None,
                      limit: int) -> bool:
        """``tr`` on the read lane or the write fast lane (compute/session_fast.py), its answer
        queued; False: neither takes it now (nothing done)."""
        fast = session.try_fast_read(tr, params) if not session.failed else None
        if fast is not None:
            self._send_result(tr, fast, result_formats, describe, portal, limit)
            return True
        fast = session.try_fast_statement(tr, params)
        if fast is not None:
            self.statement_done(tr, fast, result_formats, describe, portal, limit)
            return True
        return False

    async def run_statement(self, tr: Translation, params: tuple[Any, ...],
                            result_formats: list[int], describe: bool,
                            portal: Portal | None = None, limit: int = 0,
                            fast_tried: bool = False) -> None:
        """Execute one statement and send its rows and CommandComplete."""
        session = self.session
        assert session is not None
        if tr.kind is Kind.COPY_FROM:
            await self.copy_in(tr)
            return
        if not fast_tried and self.statement_now(session, tr, params, result_formats, describe,
                                                 portal, limit):
            return
        if tr.kind is Kind.DEALLOCATE:
            self._deallocate(tr.name)
        if tr.kind is Kind.FETCH and tr.fetch is not None and tr.fetch.name in self.portals \
                and not session.failed:
            await fetch_portal(self, tr, self.portals[tr.fetch.name], result_formats, describe)
            return
        with session.statement_scope():
            result = await session.execute(tr, params)
        if tr.kind is Kind.DISCARD and tr.name == "all":
            self.prepared.clear()
        if tr.kind is Kind.COPY_TO:
            self.statement_notices(tr, result)
            self.copy_out(tr, result)
            return
        self.statement_done(tr, result, result_formats, describe, portal, limit)

    def statement_notices(self, tr: Translation, result: Result) -> None:
        """A statement's notices and changed reported settings, before its result."""
        session = self.session
        assert session is not None
        for sqlstate, text in result.notices:
            self.send(m.notice_response(sqlstate, text,
                                        severity="NOTICE" if sqlstate == "00000" else "WARNING"))
        for text in tr.notices:
            self.send(m.notice_response("00000", text))
        self._report_settings(session)

    def statement_done(self, tr: Translation, result: Result, result_formats: list[int],
                       describe: bool, portal: Portal | None, limit: int) -> None:
        """A statement's notices, changed settings, rows and CommandComplete."""
        self.statement_notices(tr, result)
        self._send_result(tr, result, result_formats, describe, portal, limit)

    def _send_result(self, tr: Translation, result: Result, result_formats: list[int],
                     describe: bool, portal: Portal | None, limit: int) -> None:
        kind = tr.kind
        if result.rows is None:
            if kind is _EMPTY:
                self.send(m.EMPTY_QUERY)
                return
            self.send(command_complete(result.tag))
            return
        fetch = kind is _FETCH
        columns = tr.columns if kind is _QUERY_KIND else result_columns(
            result.translation if fetch and result.translation else tr)
        if fetch and describe and portal is None and tr.fetch is not None \
                and self.session is not None and self.session.cursors.binary(tr.fetch.name):
            result_formats = [1]  # simple query: a BINARY cursor's rows are binary (PostgreSQL's
            # exec_simple_query); the extended protocol sends the formats Bind asked for
        description = b""
        if portal is not None:
            key = tuple(result_formats)
            cache = portal.prepared.encoders
            known = cache.get(key)
            if known is None:
                if len(cache) >= MAX_CACHED_FORMATS:
                    cache.clear()
                known = cache[key] = row_encoders(columns, result_formats)
            encoders = known
            if describe:
                description = cached_row_description(columns, tuple(result_formats))
        else:
            encoders, description = row_output(columns, result_formats)
        if self.styled:  # DateStyle / IntervalStyle other than the defaults (nothing to do for them)
            encoders = self.styled_encoders(encoders, columns, result_formats)
        if self.transcoder is not None:  # client_encoding other than UTF8: no work for UTF8 clients
            encoders = self.transcoder.wrap(encoders, columns, result_formats)
        if describe:
            self.out.append(description)
        rows = result.rows
        if portal is not None:
            portal.rows, portal.result, portal.encoders = rows, result, encoders
            self._send_portal_rows(portal, limit)
            return
        send_rows(self.out, rows, encoders)
        self.out.append(command_complete(result.tag))

    def styled_encoders(self, encoders: list[Callable[[Any], bytes | None]], columns: Any,
                        formats: list[int]) -> list[Callable[[Any], bytes | None]]:
        assert self.session is not None
        return pgtypes.styled_row_encoders(encoders, [c.type_oid for c in columns], formats,
                                           self.session.settings)

    def _styled_text(self, enc: Callable[[Any], str], oid: int) -> Callable[[Any], str]:
        assert self.session is not None
        settings = self.session.settings
        styled = pgtypes.styled_encoder(oid, settings.get("datestyle", "ISO"), settings.get("intervalstyle", "postgres"),
                                        settings.get("timezone", "UTC"))
        return enc if styled is None else lambda v: styled(v).decode()

    def _send_rows(self, rows: list[tuple[Any, ...]], encoders: list[Callable[[Any], bytes | None]]
                   ) -> None:
        send_rows(self.out, rows, encoders)

    # ------------------------------------------------------------------ COPY

    async def copy_in(self, tr: Translation) -> None:
        session = self.session
        assert session is not None and tr.copy is not None
        spec = tr.copy
        insert_sql = spec.insert_sql
        assert insert_sql is not None
        columns = spec.columns
        tz = session.settings.get("timezone", "UTC")
        binary = spec.format == "binary"
        parser: CopyParser | BinaryCopyParser
        if binary:
            decoders = [functools.partial(pgtypes.decode_binary, c.type_oid) for c in columns]
            parser = BinaryCopyParser(len(columns))
        else:
            order = pgtypes.date_order(session.settings.get("datestyle", "ISO, MDY"))  # dates as DateStyle reads them
            decoders = [functools.partial(pgtypes.decode_text, c.type_oid, tz=tz, order=order)
                        for c in columns]
            parser = CopyParser(spec, len(columns))
        await session.copy_in_begin(tr)
        self.send(m.copy_in_response(len(columns), binary=binary))
        await self.flush()
        count = 0
        batch: list[tuple[Any, ...]] = []
        error: SqlError | None = None
        while True:
            kind, body = await self.read_message()
            if kind in (b"H", b"S"):
                continue
            if kind not in (b"d", b"c", b"f"):
                error = SqlError("08P01", f"unexpected message type 0x{kind.hex()} during COPY "
                                          "from stdin")
                break
            if error is not None:
                if kind in (b"c", b"f"):
                    break
                continue
            try:
                if kind == b"d":  # text and CSV data in a client encoding other than UTF8 converted
                    conv = self.transcoder if isinstance(parser, CopyParser) else None
                    rows = parser.feed(body if conv is None else conv.to_server(body))
                elif kind == b"c":
                    rows = parser.finish()
                else:
                    msg = body.rstrip(b"\x00").decode(errors="replace")
                    error = SqlError("57014", f"COPY from stdin failed: {msg}")
                    break
                for row in rows:
                    batch.append(tuple(None if v is None else dec(v)  # type: ignore[arg-type]
                                       for dec, v in zip(decoders, row, strict=True)))
                count += len(rows)
                if len(batch) >= COPY_BATCH_ROWS or (kind == b"c" and batch):
                    await session.copy_in_rows(insert_sql, batch)
                    batch = []
            except SqlError as exc:
                exc.detail = exc.detail or f"COPY line {parser.line_no}"
                error = exc
                if kind == b"c":
                    break
                continue
            if kind == b"c":
                break
        await session.copy_in_end(ok=error is None)
        if error is not None:
            raise error
        self.send(m.command_complete(f"COPY {count}"))

    def copy_out(self, tr: Translation, result: Result) -> None:
        """COPY ... TO STDOUT: one CopyData per row (clients read rows message by message)."""
        spec = tr.copy
        assert spec is not None
        columns = spec.columns or result_columns(tr)
        rows = result.rows or []
        if spec.format == "binary":
            self.send(m.copy_out_response(len(columns), binary=True))
            encoders = row_encoders(columns, [1])
            ncols = struct.pack("!h", len(columns))
            header = BINARY_COPY_HEADER  # sent with the first row, as PostgreSQL does
            for row in rows:
                parts = [header, ncols]
                header = b""
                for enc, v in zip(encoders, row, strict=False):
                    data = enc(v)
                    parts.append(b"\xff\xff\xff\xff" if data is None
                                 else struct.pack("!i", len(data)) + data)
                self.send(m.copy_data(b"".join(parts)))
            self.send(m.copy_data(header + b"\xff\xff"))
        else:
            text_encoders = [text_encoder(c.type_oid, c.elem_oid) for c in columns]
            if self.styled:  # COPY prints dates in the DateStyle too
                text_encoders = [self._styled_text(enc, c.type_oid) for enc, c in zip(text_encoders, columns, strict=True)]
            fmt = text_formatter(spec)
            if (conv := self.transcoder) is not None:  # the client encoding's bytes, as PostgreSQL sends
                fmt = functools.partial(lambda f, values: conv.to_client(f(values)), fmt)
            self.send(m.copy_out_response(len(columns)))
            if spec.header:
                self.send(m.copy_data(fmt([c.name for c in columns])))
            for row in rows:
                self.send(m.copy_data(fmt([None if v is None else enc(v) for enc, v in
                                           zip(text_encoders, row, strict=False)])))
        self.send(m.COPY_DONE)
        self.send(m.command_complete(f"COPY {len(rows)}"))

    # ------------------------------------------------------------------ extended query


def _answer_input(conn: Connection, buf: bytearray) -> bool:
    """Input that arrived while the connection idles: a simple Query (fastquery.py) or a
    prepared batch (fastbatch.py) a callback lane answers, after the proxy's hand-off and
    deferred BEGIN ahead of it, if any (lent.py, deferredbegin.py); False: the loop takes the rest."""
    if buf[0] == _HANDOFF_BYTE:
        if not take_handoff(conn, buf):
            return False
        if not buf:
            return True
    if buf[0] == _DEFERRED_BEGIN_BYTE:
        if not take_deferred_begin(conn, buf):
            return False
        if not buf:
            return True
    return answer_query(conn, buf) if buf[0] == _QUERY else answer_batch(conn, buf)


def _notification_messages(session: Session) -> list[bytes]:
    """NotificationResponse messages for what is queued for ``session``."""
    return [m.message(b"A", struct.pack("!i", pid) + m.cstr(channel) + m.cstr(payload))
            for pid, channel, payload in session.backend.take_notifications()]


def _parse_options(options: str) -> list[tuple[str, str]]:
    """The startup ``options`` string: ``-c name=value`` and ``--name=value`` pairs."""
    out: list[tuple[str, str]] = []
    words = options.replace("\\ ", "\x00").split()
    i = 0
    while i < len(words):
        word = words[i].replace("\x00", " ")
        if word == "-c" and i + 1 < len(words):
            word = "--" + words[i + 1].replace("\x00", " ")
            i += 1
        if word.startswith("--") and "=" in word:
            name, value = word[2:].split("=", 1)
            out.append((name.replace("-", "_"), value))
        i += 1
    return out
