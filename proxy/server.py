"""The proxy process: accepts clients, knows the computes (topology file, flags, health
monitors), routes transactions to them and answers cancel requests.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import secrets
import ssl
import time
from collections.abc import Awaitable, Callable
from pathlib import Path

from proxy.backend import (
    Backend,
    CommitWatermark,
    Pool,
    ServerConn,
    ServerError,
    local_socket,
)
from proxy.config import ProxyConfig
from proxy.lend import SideSockets
from proxy.metrics import ProxyMetrics
from proxy.roles import RoleVerifiers
from strata.busypoll import BusyPoll
from strata.classify import Classifier
from strata.pgwire import frontend as fe
from strata.pgwire import unixsock
from strata.pgwire.auth import PasswordBook

log = logging.getLogger("strata.proxy")

MONITOR_TIMEOUT_S = 1.0
"""A health poll that takes longer than this counts as a failure."""
MONITOR_RECONNECT_S = 0.1
"""Pause between reconnect attempts of a compute's monitor connection."""
MONITOR_USER = "postgres"
MONITOR_DATABASE = "postgres"


STATUS_QUERY = fe.query("SELECT strata_node_status()")
"""The health monitor's poll (one Query message, built once)."""


def parse_status(text: bytes) -> dict[str, object]:
    """A ``strata_node_status()`` answer as a dict; ValueError if it is not a JSON object."""
    status = json.loads(text)
    if not isinstance(status, dict):
        raise ValueError(f"strata_node_status() answered {text[:80]!r}, not a JSON object")
    return status


def _poll_at_end(conn: ServerConn, b: Backend) -> Callable[[], bool]:
    """The monitor connection's ``Link.hook``: when the compute ends the connection (a
    crash, a stop), ``b``'s monitor polls at once instead of at its next interval (the
    poll then fails on the closed connection and takes ``b`` out of the rotation). Never
    takes the event itself: the reader is woken as without a hook."""
    link = conn.link

    def hook() -> bool:
        if link.eof:
            b.poll_now.set()
        return False

    return hook


def pick_replica(eligible: list[Backend], pack: int) -> Backend | None:
    """The replica a read goes to, among ``eligible`` (healthy, caught up) in topology order:
    the busiest one with fewer than ``pack`` server connections in use, so that reads pack
    onto a replica that is awake (on cores shared by every process of a one-machine cluster,
    a half-busy replica pays a wake-up per statement); when none is below ``pack`` (or
    ``pack`` is 0), the least busy. Ties go to the first in topology order."""
    least: Backend | None = None
    packed: Backend | None = None
    for b in eligible:
        in_use = b.outstanding
        if least is None or in_use < least.outstanding:
            least = b
        if in_use < pack and (packed is None or in_use > packed.outstanding):
            packed = b
    return packed if packed is not None else least


class NoBackend(Exception):
    """No compute of the needed role became available in time."""


BEGIN_HOLD_S = 0.005
"""How long a BEGIN the proxy answered waits for the client's next message before it goes to
the compute on its own (so pg_stat_activity shows the block, and the compute's
idle_in_transaction_session_timeout counts, from at most this long after the BEGIN)."""


class ProxyServer:
    def __init__(self, config: ProxyConfig) -> None:
        self.config = config
        self.metrics = ProxyMetrics()
        self.classifier = Classifier()
        self.backends: dict[str, Backend] = {}
        self.commits = CommitWatermark()          # highest commit LSN any client was told of
        self.side_sockets = SideSockets(self.commits)  # to local computes: lent client sockets
        self.primary_address: str | None = None   # the topology's (or flag's) primary
        self.current_primary: Backend | None = None
        self._last_primary: str | None = None     # address of the last primary seen (failovers)
        self.clients: dict[int, object] = {}      # proxy pid -> ClientSession (for cancel)
        self.client_count = 0
        self._next_pid = 1000
        self._topology_mtime: float | None = None
        self._users_mtime: float | None = None
        self.passwords = PasswordBook({})
        self.role_verifiers = RoleVerifiers(self)  # SQL roles' logins (proxy/roles.py)
        self.secret: str | None = None
        if config.proxy_secret_file:
            self.secret = Path(config.proxy_secret_file).read_text().strip()
        if config.auth not in ("scram", "trust"):
            raise ValueError("--auth must be scram or trust")
        if config.auth == "scram" and config.users_file is None:
            raise ValueError("--auth scram needs --users-file")
        if config.pool_mode not in ("transaction", "session"):
            raise ValueError("--pool-mode must be transaction or session")
        self.ssl_context: ssl.SSLContext | None = None
        if config.tls_cert:
            ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
            ctx.load_cert_chain(str(config.tls_cert), str(config.tls_key) if config.tls_key else None)
            self.ssl_context = ctx
        elif config.require_tls:
            raise ValueError("--require-tls needs --tls-cert and --tls-key")
        self._server: asyncio.base_events.Server | None = None
        self._unix_server: asyncio.base_events.Server | None = None
        self.unix_path: str | None = None
        """``DIR/.s.PGSQL.<port>`` while the proxy listens there (``--unix-socket-dir``)."""
        self._tasks: list[asyncio.Task[None]] = []
        self.busy_poll: BusyPoll | None = None
        """Busy polling after input on this server's loop (made in ``start``, given to every
        link: clients' and computes')."""

    # ------------------------------------------------------------------ lifecycle

    async def start(self) -> None:
        self.busy_poll = BusyPoll.for_window(asyncio.get_running_loop(), self.config.busy_poll_us)
        if self.config.auth == "trust":
            log.warning("--auth trust: clients connect WITHOUT a password; use only on a trusted network")
        self._load_users()
        if self.config.primary:
            self.primary_address = self.config.primary
            self._add_backend(self.config.primary)
        for r in self.config.replicas:
            self._add_backend(r)
        self._load_topology()
        self._tasks.append(asyncio.create_task(self._watch_files()))
        from proxy.client import handle_client

        self._server = await asyncio.start_server(
            lambda r, w: handle_client(self, r, w), self.config.listen_host,
            self.config.listen_port, limit=1 << 20, backlog=1024)
        if self.config.unix_socket_dir is not None:
            await self._listen_unix(str(self.config.unix_socket_dir), handle_client)
        if self.config.metrics_port:
            self.metrics.serve(self.config.listen_host, self.config.metrics_port)
        log.info("proxy listening on %s:%d%s (computes: %s)", self.config.listen_host, self.port,
                 f" and {self.unix_path}" if self.unix_path else "", ", ".join(self.backends) or "none yet")

    async def _listen_unix(self, directory: str, handle_client: Callable[..., Awaitable[None]]) -> None:
        """Listen on ``directory/.s.PGSQL.<port>`` as PostgreSQL's local socket: owner-only,
        and no TLS on it (``ClientSession.local``)."""
        path = unixsock.socket_path(directory, self.port)
        unixsock.claim_socket_path(path)
        self._unix_server = await asyncio.start_unix_server(
            lambda r, w: handle_client(self, r, w), path, limit=1 << 20, backlog=1024)
        os.chmod(path, unixsock.SOCKET_FILE_MODE)
        self.unix_path = path

    @property
    def port(self) -> int:
        assert self._server is not None
        return int(self._server.sockets[0].getsockname()[1])

    async def serve_forever(self) -> None:
        assert self._server is not None
        async with self._server:
            await self._server.serve_forever()  # the Unix server serves from start_unix_server on

    async def close(self) -> None:
        for t in self._tasks:
            t.cancel()
        for b in self.backends.values():
            if b.monitor is not None:
                b.monitor.cancel()
            for pool in b.pools.values():
                pool.close_idle()
        for server in (self._server, self._unix_server):
            if server is not None:
                server.close()
        if self.unix_path is not None:
            with contextlib.suppress(OSError):
                os.unlink(self.unix_path)
            self.unix_path = None
        self.side_sockets.close()

    def new_backend_key(self) -> tuple[int, int]:
        self._next_pid = self._next_pid % 2_000_000_000 + 1
        return self._next_pid, secrets.randbits(31)

    # ------------------------------------------------------------------ topology and users

    def _add_backend(self, address: str) -> Backend:
        b = self.backends.get(address)
        if b is None:
            b = Backend(address, commits=self.commits, busy_poll=self.busy_poll,
                        unix_path=local_socket(self.config.compute_socket_dir, address))
            self.backends[address] = b
            pools = b.pools
            self.metrics.servers.labels(address).set_function(
                lambda: sum(p.total for p in list(pools.values())))
            b.monitor = asyncio.create_task(self._monitor(b))
        b.in_topology = True
        return b

    def _load_topology(self) -> None:
        path = self.config.topology_file
        if path is None:
            return
        try:
            mtime = os.stat(path).st_mtime_ns
            if mtime == self._topology_mtime:
                return
            data = json.loads(Path(path).read_text())
            self._topology_mtime = mtime
        except FileNotFoundError:
            return
        except (OSError, ValueError) as exc:
            log.warning("topology file %s unreadable: %s", path, exc)
            return
        primary = data.get("primary")
        replicas = [str(r) for r in data.get("replicas") or []]
        wanted = set(replicas) | ({primary} if primary else set())
        for addr, b in list(self.backends.items()):
            if addr not in wanted and addr != self.config.primary and addr not in self.config.replicas:
                b.in_topology = False
                b.healthy = False
                if b.monitor is not None:
                    b.monitor.cancel()
                for pool in b.pools.values():
                    pool.close_idle()
                del self.backends[addr]
                with contextlib.suppress(KeyError):
                    self.metrics.servers.remove(addr)
        if primary:
            self.primary_address = str(primary)
        for addr in wanted:
            self._add_backend(addr)
        log.info("topology: primary %s, replicas %s", primary, replicas)
        for b in self.backends.values():
            b.poll_now.set()  # a promotion or a move: every role now, not at the next interval
        self._pick_primary()

    def _load_users(self) -> None:
        path = self.config.users_file
        if path is None:
            return
        try:
            mtime = os.stat(path).st_mtime_ns
            if mtime == self._users_mtime:
                return
            self.passwords = PasswordBook.load(path)
            self._users_mtime = mtime
        except (OSError, ValueError) as exc:
            log.warning("users file %s unreadable (keeping the previous users): %s", path, exc)

    async def _watch_files(self) -> None:
        while True:
            await asyncio.sleep(self.config.topology_poll_s)
            self._load_topology()
            self._load_users()

    # ------------------------------------------------------------------ health

    async def _monitor(self, b: Backend) -> None:
        """Poll the compute's role and replay LSN on one connection; mark it dead on failure."""
        conn: ServerConn | None = None
        last_text = b""  # the previous answer, and what it parsed to: most polls repeat it
        status: dict[str, object] = {}
        while True:
            try:
                if conn is None or conn.broken:
                    conn = await ServerConn.connect(b, MONITOR_DATABASE, MONITOR_USER, self.secret,
                                                    self.config.server_connect_timeout_s)
                    conn.link.hook = _poll_at_end(conn, b)
                # asyncio.timeout, not wait_for: no task per poll (50 polls a second per compute)
                async with asyncio.timeout(MONITOR_TIMEOUT_S):
                    text = await self._poll(conn)
                if text != last_text:
                    status = parse_status(text)
                    last_text = text
                self._apply_status(b, status)
                if not b.poll_now.is_set():
                    with contextlib.suppress(TimeoutError):
                        async with asyncio.timeout(self._monitor_interval(b)):
                            await b.poll_now.wait()
                b.poll_now.clear()
            except asyncio.CancelledError:
                if conn is not None:
                    conn.close()
                raise
            except (ServerError, OSError, asyncio.IncompleteReadError, TimeoutError, ValueError) as exc:
                if conn is not None:
                    conn.close()
                    conn = None
                task = asyncio.current_task()
                if task is not None and task.cancelling():
                    # Python 3.11's wait_for (in ServerConn.connect) returns the inner outcome
                    # when it and the cancel land together: the cancel must not be lost, or
                    # this loop (and a proxy's stop) would never end
                    raise asyncio.CancelledError from exc
                if b.healthy:
                    log.warning("compute %s is unreachable: %s", b.address, exc)
                    self._mark_dead(b)
                await asyncio.sleep(MONITOR_RECONNECT_S)

    def _monitor_interval(self, b: Backend) -> float:
        """How long ``b``'s monitor waits before its next poll (unless ``poll_now``): the
        current primary, while healthy, ``primary_monitor_interval_s``; every other compute,
        and every compute while there is no primary, ``monitor_interval_s``. A healthy
        primary's poll finds little (its crash ends the monitor connection, which polls at
        once: ``_poll_at_end``; a promoted replica is polled at the fast rate and taken by
        its higher term; a failed server connection polls at once: ``suspect``), and at
        50 polls a second it was most of the proxy's CPU under TPC-B and ~12 ms/s of the
        primary's (docs/performance.md, "Cluster TPC-B CPU (session 18)")."""
        if b is self.current_primary and b.healthy:
            return self.config.primary_monitor_interval_s
        return self.config.monitor_interval_s

    async def _poll(self, conn: ServerConn) -> bytes:
        """The compute's ``strata_node_status()`` answer, as the JSON text's bytes."""
        value, error = await conn.first_value(STATUS_QUERY)
        if error is not None or value is None:
            raise ValueError(f"strata_node_status() failed: {error}")
        return value

    def _apply_status(self, b: Backend, status: dict[str, object]) -> None:
        role = str(status.get("role", "unknown"))
        state = str(status.get("state", ""))
        new_role = "replica" if role == "replica" else ("primary" if "fenc" not in state.lower() else "fenced")
        was = (b.role, b.healthy)
        b.role = new_role
        b.healthy = True
        b.term = int(str(status.get("term", 0) or 0))
        lsn = status.get("replay_lsn")
        if isinstance(lsn, int):
            b.note_replay(lsn)
        if was != (b.role, b.healthy):
            log.info("compute %s: %s, healthy", b.address, b.role)
            self._pick_primary()
        b.notify()

    def suspect(self, b: Backend, why: str) -> None:
        """A server connection to ``b`` failed: take it out of the rotation until its monitor
        reaches it again (at once if it is alive), so new transactions wait for a failover
        instead of failing on it."""
        b.poll_now.set()
        if b.healthy:
            log.warning("compute %s suspected down: %s", b.address, why)
            self._mark_dead(b)

    def _mark_dead(self, b: Backend) -> None:
        b.healthy = False
        for pool in b.pools.values():
            pool.close_idle()
        self._pick_primary()
        b.notify()

    def _pick_primary(self) -> None:
        candidates = [b for b in self.backends.values() if b.healthy and b.role == "primary"]
        best: Backend | None = None
        if candidates:
            best = max(candidates, key=lambda b: (b.term, b.address == self.primary_address))
        if best is not self.current_primary:
            if best is None:
                log.warning("no healthy primary: new transactions wait up to %g s",
                            self.config.failover_wait_s)
            elif self._last_primary is not None and best.address != self._last_primary:
                self.metrics.failovers.inc()
                log.warning("failover: the primary is now %s (was %s)", best.address, self._last_primary)
            if best is not None:
                self._last_primary = best.address
            self.current_primary = best
        for b in self.backends.values():
            b.notify()

    # ------------------------------------------------------------------ routing

    def pool(self, b: Backend, database: str, user: str) -> Pool:
        key = (database, user)
        p = b.pools.get(key)
        if p is None:
            p = Pool(b, database, user, self.config.pool_size, self.secret,
                     self.config.server_connect_timeout_s)
            b.pools[key] = p
        return p

    async def wait_primary(self, deadline: float | None = None) -> Backend:
        """The writable compute; waits (bounded by --failover-wait-s) while there is none."""
        if deadline is None:
            deadline = time.monotonic() + self.config.failover_wait_s
        while True:
            b = self.current_primary
            if b is not None and b.healthy:
                return b
            left = deadline - time.monotonic()
            if left <= 0:
                raise NoBackend("no primary compute is available")
            waits = [asyncio.ensure_future(x.changed.wait()) for x in self.backends.values()]
            for x in self.backends.values():
                x.changed.clear()
            try:
                await asyncio.wait(waits, timeout=min(left, 0.1), return_when=asyncio.FIRST_COMPLETED)
            finally:
                for w in waits:
                    w.cancel()

    def replicas(self) -> list[Backend]:
        return [b for b in self.backends.values() if b.healthy and b.role == "replica"]

    def ready_replica(self, min_lsn: int) -> tuple[Backend | None, bool]:
        """(the replica ``pick_replica`` chooses among those that have replayed ``min_lsn``,
        or None; whether any replica is healthy), without a coroutine: the common case of
        ``choose_replica``."""
        eligible = []
        any_replica = False
        for b in self.backends.values():
            if b.healthy and b.role == "replica":
                any_replica = True
                if b.replay_lsn >= min_lsn:
                    eligible.append(b)
        return pick_replica(eligible, self.config.replica_pack), any_replica

    async def choose_replica(self, min_lsn: int) -> Backend | None:
        """A replica that has replayed ``min_lsn`` (``pick_replica``'s choice), waiting up to
        --ryw-wait-ms for one; None: use the primary."""
        best, any_replica = self.ready_replica(min_lsn)
        if best is not None or not any_replica:
            return best
        reps = self.replicas()
        deadline = time.monotonic() + self.config.ryw_wait_ms / 1000.0
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                self.metrics.ryw_waits.labels("primary").inc()
                return None
            waits = [asyncio.ensure_future(b.changed.wait()) for b in reps]
            for b in reps:
                b.changed.clear()
                b.poll_now.set()  # poll its replay LSN now rather than at the next interval
            try:
                await asyncio.wait(waits, timeout=left, return_when=asyncio.FIRST_COMPLETED)
            finally:
                for w in waits:
                    w.cancel()
            best, any_replica = self.ready_replica(min_lsn)
            if best is not None:
                self.metrics.ryw_waits.labels("replica").inc()
                return best
            if not any_replica:
                return None
            reps = self.replicas()

    # ------------------------------------------------------------------ cancel and SHOW

    async def forward_cancel(self, pid: int, secret: int) -> None:
        from proxy.client import ClientSession

        client = self.clients.get(pid)
        if not isinstance(client, ClientSession) or client.secret != secret:
            return
        conn = client.server
        if conn is None:
            return
        with contextlib.suppress(OSError, TimeoutError):
            _, writer = await asyncio.wait_for(
                asyncio.open_connection(conn.backend.host, conn.backend.port), 2.0)
            writer.write(fe.cancel_request(conn.pid, conn.secret))
            await writer.drain()
            writer.close()

    def pools_rows(self) -> list[list[str]]:
        rows = []
        for b in self.backends.values():
            for (db, user), p in b.pools.items():
                rows.append([db, user, b.address, b.role, str(p.in_use), str(len(p.idle)),
                             str(sum(1 for w in p.waiters if not w.done()))])
        return rows

    def servers_rows(self) -> list[list[str]]:
        return [[b.address, b.role, "yes" if b.healthy else "no", str(b.replay_lsn), str(b.outstanding)]
                for b in self.backends.values()]
