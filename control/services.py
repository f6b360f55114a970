"""What the control plane asks of running services, behind one small interface.

`Services` is the seam the reconciler's tests replace with a fake. `RealServices` talks to
the log store (``logstore.client.LogStoreClient``), the page server
(``pageserver.client.PageServerClient``) and computes (SQL over psycopg:
``strata_node_status()``, ``pg_promote``).
"""

from __future__ import annotations

import contextlib
import json
import socket
import threading
from typing import Any, Protocol

from control.errors import Conflict, InvalidRequest, NotFound, Unavailable
from control.liveness import Prober
from strata.tls import TlsFiles

SQL_CONNECT_TIMEOUT_S = 2
"""libpq's connect_timeout (its minimum is 2 s)."""
PROMOTE_WAIT_S = 30
"""pg_promote's wait bound."""
PORT_PROBE_S = 0.5
LOG_REPAIR_TIMEOUT_S = 2.0
"""Bound on one create_log call to one log store node when the control plane repairs it."""


def dsn(address: str) -> str:
    host, _, port = address.rpartition(":")
    return f"postgresql://postgres@{host}:{port}/postgres"


def accepts_connections(address: str, timeout_s: float = PORT_PROBE_S) -> bool:
    host, _, port = address.rpartition(":")
    try:
        with socket.create_connection((host, int(port)), timeout_s):
            return True
    except OSError:
        return False


class Services(Protocol):
    def node_status(self, address: str) -> dict[str, Any] | None:
        """The compute's ``strata_node_status()``; None if it cannot be reached."""
        ...

    def promote(self, address: str) -> None: ...

    def proxy_show(self, address: str, what: str) -> list[dict[str, Any]]:
        """The proxy's ``SHOW strata.<what>`` (pools | servers) as rows; Unavailable if the
        proxy cannot be reached."""
        ...

    def accepts_connections(self, address: str) -> bool: ...

    def probe(self, kind: str, address: str, timeout_s: float) -> None:
        """Return once the log store node, page server or proxy at ``address`` answered a
        cheap call; ``control.liveness.ProbeFailed`` if it did not within ``timeout_s``."""
        ...

    def create_log(self, tenant: str, timeline: str, start_lsn: int) -> None:
        """Conflict if it exists."""
        ...

    def ensure_log(self, address: str, tenant: str, timeline: str, start_lsn: int) -> None:
        """Create the log on the one node at ``address`` if it lacks it (idempotent);
        Unavailable if the node cannot be reached, Conflict if it has a different start."""
        ...

    def delete_log(self, tenant: str, timeline: str) -> None: ...

    def commit_lsn(self, tenant: str, timeline: str) -> int: ...

    def timeline_exists(self, tenant: str, timeline: str) -> bool: ...

    def create_timeline(
        self, tenant: str, timeline: str, *, ancestor: str = "", ancestor_lsn: int = 0,
        ancestor_timestamp_us: int = 0,
    ) -> int:
        """Creates a log-fed page server timeline; returns its start (ancestor) LSN."""
        ...

    def delete_timeline(self, tenant: str, timeline: str) -> None: ...

    def close(self) -> None: ...


class RealServices:
    def __init__(self, logstores: list[str], pageserver: str, tls: TlsFiles | None = None,
                 login: tuple[str, str] | None = None) -> None:
        """``tls``: the control plane's certificate (role control) for the gRPC services;
        ``login``: (user, password) for computes that require passwords."""
        self.logstores = logstores
        self.login = login
        self.pageserver = pageserver
        self.tls = tls
        self._lock = threading.Lock()
        self._conns: dict[str, Any] = {}
        self._prober = Prober(tls)

    # -- computes over SQL ---------------------------------------------------------------

    def _connect(self, address: str) -> Any:
        import psycopg

        if self.login is None:
            return psycopg.connect(dsn(address), autocommit=True, connect_timeout=SQL_CONNECT_TIMEOUT_S)
        host, _, port = address.rpartition(":")
        user, password = self.login
        return psycopg.connect(host=host, port=port, user=user, password=password, dbname="postgres",
                               autocommit=True, connect_timeout=SQL_CONNECT_TIMEOUT_S)

    def node_status(self, address: str) -> dict[str, Any] | None:
        with self._lock:
            conn = self._conns.pop(address, None)
        try:
            if conn is None or conn.closed:
                conn = self._connect(address)
            row = conn.execute("SELECT strata_node_status()").fetchone()
        except Exception:  # noqa: BLE001 - unreachable for any reason
            if conn is not None:
                with contextlib.suppress(Exception):
                    conn.close()
            return None
        with self._lock:
            self._conns[address] = conn
        value = row[0] if row else None
        if isinstance(value, str):
            value = json.loads(value)
        return value if isinstance(value, dict) else None

    def proxy_show(self, address: str, what: str) -> list[dict[str, Any]]:
        assert what in ("pools", "servers")
        try:
            with self._connect(address) as conn:
                cur = conn.execute(f"SHOW strata.{what}")
                names = [d.name for d in cur.description or ()]
                return [dict(zip(names, row, strict=True)) for row in cur.fetchall()]
        except Exception as exc:  # noqa: BLE001 - any failure to ask is "unavailable"
            raise Unavailable(f"asking the proxy at {address} failed: {exc}") from exc

    def promote(self, address: str) -> None:
        try:
            with self._connect(address) as conn:
                row = conn.execute("SELECT pg_promote(true, %s)", (PROMOTE_WAIT_S,)).fetchone()
        except Exception as exc:  # noqa: BLE001
            raise Unavailable(f"promoting {address} failed: {exc}") from exc
        if not row or row[0] is not True:
            raise Unavailable(f"promoting {address} did not finish within {PROMOTE_WAIT_S}s")

    def accepts_connections(self, address: str) -> bool:
        return accepts_connections(address)

    def probe(self, kind: str, address: str, timeout_s: float) -> None:
        self._prober(kind, address, timeout_s)

    # -- log store ---------------------------------------------------------------------

    def _logstore(self) -> Any:
        from logstore.client import LogStoreClient

        return LogStoreClient(self.logstores, tls=self.tls)

    def create_log(self, tenant: str, timeline: str, start_lsn: int) -> None:
        from logstore.errors import InvalidRequestError, LogExistsError

        with self._logstore() as client:
            try:
                client.create_log(tenant, timeline, start_lsn=start_lsn)
            except LogExistsError as exc:
                raise Conflict(f"log {tenant}/{timeline} already exists") from exc
            except InvalidRequestError as exc:
                raise InvalidRequest(str(exc)) from exc
            except Exception as exc:  # noqa: BLE001 - quorum lost, transport, ...
                raise Unavailable(f"log store: creating log {tenant}/{timeline}: {exc}") from exc

    def ensure_log(self, address: str, tenant: str, timeline: str, start_lsn: int) -> None:
        from logstore.client import LogStoreClient
        from logstore.errors import LogExistsError

        with LogStoreClient([address], timeout_s=LOG_REPAIR_TIMEOUT_S, tls=self.tls) as client:
            try:
                client.create_log(tenant, timeline, start_lsn=start_lsn)
            except LogExistsError as exc:
                raise Conflict(f"{address}: {exc}") from exc
            except Exception as exc:  # noqa: BLE001 - transport, too many logs, ...
                raise Unavailable(f"{address}: creating log {tenant}/{timeline}: {exc}") from exc

    def delete_log(self, tenant: str, timeline: str) -> None:
        from logstore.errors import LogNotFoundError

        with self._logstore() as client:
            try:
                client.delete_log(tenant, timeline)
            except LogNotFoundError:
                return
            except Exception as exc:  # noqa: BLE001
                raise Unavailable(f"log store: deleting log {tenant}/{timeline}: {exc}") from exc

    def commit_lsn(self, tenant: str, timeline: str) -> int:
        from logstore.errors import LogNotFoundError

        with self._logstore() as client:
            try:
                return int(client.commit_lsn(tenant, timeline))
            except LogNotFoundError as exc:
                raise NotFound(str(exc)) from exc
            except Exception as exc:  # noqa: BLE001
                raise Unavailable(f"log store: commit LSN of {tenant}/{timeline}: {exc}") from exc

    # -- page server -------------------------------------------------------------------

    def _pageserver(self) -> Any:
        from pageserver.client import PageServerClient

        return PageServerClient(self.pageserver, timeout_s=30.0, tls=self.tls)

    def timeline_exists(self, tenant: str, timeline: str) -> bool:
        with self._pageserver() as ps:
            return any(t.timeline == timeline for t in ps.list_timelines(tenant))

    def create_timeline(
        self, tenant: str, timeline: str, *, ancestor: str = "", ancestor_lsn: int = 0,
        ancestor_timestamp_us: int = 0,
    ) -> int:
        import grpc

        from pageserver.client import PageServerError

        with self._pageserver() as ps:
            try:
                info = ps.create_timeline(
                    tenant, timeline, ancestor=ancestor, ancestor_lsn=ancestor_lsn,
                    ancestor_timestamp_us=ancestor_timestamp_us, wal_source="logstore",
                    log_timeline=timeline)
            except PageServerError as exc:
                if exc.code == grpc.StatusCode.ALREADY_EXISTS:
                    raise Conflict(f"timeline {timeline!r} already exists") from exc
                if exc.code == grpc.StatusCode.NOT_FOUND:
                    raise NotFound(str(exc)) from exc
                if exc.code in (grpc.StatusCode.OUT_OF_RANGE, grpc.StatusCode.INVALID_ARGUMENT,
                                grpc.StatusCode.FAILED_PRECONDITION):
                    raise InvalidRequest(_details(exc)) from exc
                raise Unavailable(f"page server: {exc}") from exc
        return int(info.ancestor_lsn)

    def delete_timeline(self, tenant: str, timeline: str) -> None:
        import grpc

        from pageserver.client import PageServerError

        with self._pageserver() as ps:
            try:
                ps.delete_timeline(tenant, timeline)
            except PageServerError as exc:
                if exc.code == grpc.StatusCode.NOT_FOUND:
                    return
                if exc.code == grpc.StatusCode.FAILED_PRECONDITION:
                    raise Conflict(_details(exc)) from exc
                raise Unavailable(f"page server: {exc}") from exc

    def close(self) -> None:
        with self._lock:
            conns, self._conns = list(self._conns.values()), {}
        for conn in conns:
            with contextlib.suppress(Exception):
                conn.close()
        self._prober.close()


def _details(exc: Exception) -> str:
    return str(getattr(exc, "message", "") or exc)
