"""The proxy's half of lending a client's socket to the primary (decision 0017).

``SideSockets`` keeps one connected side socket per local compute (descriptors travel there
with SCM_RIGHTS); ``lendable_names`` is the statement map a HANDOFF carries; ``Lending``
counts what happened (exported as ``proxy_lendings_total`` and
``proxy_lent_transactions_total``). The session's state
changes live in proxy/client.py (``_lend`` and ``_handback_hook``). Formats and the compute's
half: strata/pgwire/handoff.py, compute/pgwire/lent.py.
"""

from __future__ import annotations

import contextlib
import logging
import socket
from collections.abc import Iterator
from typing import TYPE_CHECKING

from prometheus_client.core import CounterMetricFamily
from prometheus_client.registry import Collector

from strata.classify import PLAIN_KINDS, Classifier
from strata.pgwire import handoff

if TYPE_CHECKING:
    from proxy.backend import CommitWatermark

log = logging.getLogger("strata.proxy.lend")


class SideSockets:
    """Side sockets to local computes, by their PostgreSQL socket path; connected on first use,
    dropped when a send fails (the next lending connects again)."""

    def __init__(self, commits: CommitWatermark) -> None:
        self._by_path: dict[str, socket.socket] = {}
        self._commits = commits

    def get(self, unix_path: str) -> socket.socket | None:
        """The side socket to the compute at ``unix_path``, with its commit board mapped into
        the read watermark (no board, no lending: its commits would miss the watermark)."""
        side = self._by_path.get(unix_path)
        if side is not None:
            return side
        path = handoff.side_path(unix_path)
        if path is None:
            return None
        side = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        try:
            side.connect(path)  # a local socket: connects at once or fails
            board = handoff.CommitBoard(handoff.board_path(unix_path), writer=False)
        except (OSError, ValueError) as exc:
            log.info("no lending to %s: %s", unix_path, exc)
            side.close()
            return None
        old = self._commits.boards.get(unix_path)
        self._commits.boards[unix_path] = board  # mapped again at each connect: a new file
        if old is not None:
            self._commits.note(old.read())
            old.close()
        side.setblocking(False)
        self._by_path[unix_path] = side
        return side

    def send(self, unix_path: str, token: int, fd: int) -> bool:
        """Send the client's descriptor; False: relay instead (no side socket, or it is full
        or broken)."""
        side = self.get(unix_path)
        if side is None:
            return False
        try:
            return handoff.send_descriptor(side, token, fd)
        except OSError as exc:
            log.info("side socket to %s failed: %s", unix_path, exc)
            self.drop(unix_path)
            return False

    def drop(self, unix_path: str) -> None:
        side = self._by_path.pop(unix_path, None)
        if side is not None:
            with contextlib.suppress(OSError):
                side.close()

    def close(self) -> None:
        for path in list(self._by_path):
            self.drop(path)
        for board in self._commits.boards.values():
            board.close()
        self._commits.boards.clear()


def lendable_names(statements: dict[str, tuple[str, str, list[int]]], prepared: set[str],
                   classifier: Classifier) -> dict[str, str]:
    """{client name: server name} of the client's named statements that the server
    connection has and that hold plain statements only (at most MAX_LENT_NAMES)."""
    names: dict[str, str] = {}
    for name, (server_name, sql, _) in statements.items():
        if not name or server_name not in prepared:
            continue
        if all(s.kind in PLAIN_KINDS for s in classifier.classify(sql)):
            names[name] = server_name
            if len(names) >= handoff.MAX_LENT_NAMES:
                break
    return names


class Lending(Collector):
    """``proxy_lendings_total{outcome}``: client sockets lent to the primary, by how the
    lending ended: ``handed_back``, or ``dropped`` (the compute's connection ended while it
    held the socket, and the client was disconnected); ``proxy_lent_transactions_total``:
    the transactions that ended on sockets handed back (a lending lasts one transaction, or
    several begun within the compute's ``--lend-linger-ms``). Plain ints, exported when
    scraped."""

    def __init__(self) -> None:
        self.handed_back = 0
        self.dropped = 0
        self.transactions = 0

    def collect(self) -> Iterator[CounterMetricFamily]:
        family = CounterMetricFamily("proxy_lendings", "Client sockets lent to the primary "
                                     "for write transactions, by outcome", labels=["outcome"])
        family.add_metric(["handed_back"], self.handed_back)
        family.add_metric(["dropped"], self.dropped)
        yield family
        yield CounterMetricFamily("proxy_lent_transactions", "Transactions that ended on client "
                                  "sockets lent to the primary and handed back",
                                  value=self.transactions)
