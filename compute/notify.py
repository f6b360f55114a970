"""LISTEN / NOTIFY for one database on one compute node.

PostgreSQL's rules, which this follows:

- LISTEN and UNLISTEN take effect when their transaction commits; NOTIFY is delivered when
  the notifying transaction commits (never if it rolls back), in the order sent, to every
  session listening on the channel, the notifying session included;
- identical (channel, payload) pairs in one transaction are delivered once;
- a listener inside a transaction receives nothing until that transaction ends;
- channel names are 1..63 bytes; payloads shorter than 8000 bytes (22023 otherwise).

Everything here runs on the event loop: the session collects a transaction's notifications
(``Pending``) and hands them to ``NotificationHub.publish`` after its commit is durable; the
hub appends to each listener's bounded queue and calls its ``wake`` callback, which the
wire layer uses to send NotificationResponse messages when the listener is idle. A
transaction whose notifications do not fit a listener's queue fails at commit with 54000,
as PostgreSQL's "too many notifications in the NOTIFY queue".
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field

from compute.sql.api import SqlError

MAX_CHANNEL_BYTES = 63  # NAMEDATALEN - 1
MAX_PAYLOAD_BYTES = 7999  # payloads must be shorter than 8000 bytes
MAX_QUEUED_PER_LISTENER = 10_000  # notifications waiting for one idle session (entries)
MAX_PENDING_PER_TRANSACTION = 100_000  # distinct notifications one transaction may send


@dataclass(frozen=True, slots=True)
class Notification:
    channel: str
    payload: str
    sender_pid: int


def check_channel(channel: str) -> str:
    if not channel:
        raise SqlError("22023", "channel name cannot be empty")
    if len(channel.encode()) > MAX_CHANNEL_BYTES:
        raise SqlError("22023", "channel name too long")
    return channel


def check_payload(payload: str) -> str:
    if len(payload.encode()) > MAX_PAYLOAD_BYTES:
        raise SqlError("22023", "payload string too long")
    return payload


@dataclass
class Pending:
    """One transaction's LISTEN/UNLISTEN/NOTIFY, applied at commit, dropped at rollback."""

    notifications: list[tuple[str, str]] = field(default_factory=list)
    seen: set[tuple[str, str]] = field(default_factory=set)
    listen_ops: list[tuple[str, str | None]] = field(default_factory=list)  # ("listen"|"unlisten", channel|None=*)
    # savepoints of the transaction: (name, notifications, listen_ops) counts when it was made,
    # so ROLLBACK TO drops what was sent after it, as PostgreSQL drops a subtransaction's NOTIFYs
    marks: list[tuple[str, int, int]] = field(default_factory=list)

    def notify(self, channel: str, payload: str) -> None:
        item = (check_channel(channel), check_payload(payload))
        if item in self.seen:
            return
        if len(self.seen) >= MAX_PENDING_PER_TRANSACTION:
            raise SqlError("54000", "too many notifications in the NOTIFY queue",
                           detail=f"One transaction may send at most {MAX_PENDING_PER_TRANSACTION} "
                                  "distinct notifications.")
        self.seen.add(item)
        self.notifications.append(item)

    def listen(self, channel: str) -> None:
        self.listen_ops.append(("listen", check_channel(channel)))

    def unlisten(self, channel: str | None) -> None:
        self.listen_ops.append(("unlisten", channel))

    def savepoint(self, op: str, name: str) -> None:
        """Follow a SAVEPOINT / RELEASE / ROLLBACK TO that succeeded (``op`` is the Kind's value:
        "savepoint", "release", "rollback_to")."""
        if op == "savepoint":
            self.marks.append((name, len(self.notifications), len(self.listen_ops)))
            return
        names = [m[0] for m in self.marks]
        if name not in names:
            return
        index = len(names) - 1 - names[::-1].index(name)
        if op == "release":
            del self.marks[index:]
            return
        _, n_notes, n_ops = self.marks[index]
        del self.marks[index + 1:]  # ROLLBACK TO keeps the savepoint itself
        del self.notifications[n_notes:]
        del self.listen_ops[n_ops:]
        self.seen = set(self.notifications)

    def __bool__(self) -> bool:
        return bool(self.notifications or self.listen_ops or self.marks)


class NotificationHub:
    """Listeners of one database on this node, keyed by the session's backend pid."""

    def __init__(self, max_queued: int = MAX_QUEUED_PER_LISTENER) -> None:
        self._channels: dict[str, set[int]] = {}
        self._queues: dict[int, deque[Notification]] = {}
        self._wake: dict[int, Callable[[], None]] = {}
        self._max_queued = max_queued

    def attach(self, pid: int, wake: Callable[[], None]) -> None:
        """A session that may listen: ``wake`` is called when a notification is queued for it."""
        self._queues.setdefault(pid, deque())
        self._wake[pid] = wake

    def detach(self, pid: int) -> None:
        """Session end: its listens and undelivered notifications go."""
        for listeners in self._channels.values():
            listeners.discard(pid)
        self._channels = {c: s for c, s in self._channels.items() if s}
        self._queues.pop(pid, None)
        self._wake.pop(pid, None)

    def channels(self, pid: int) -> list[str]:
        """pg_listening_channels()."""
        return sorted(c for c, listeners in self._channels.items() if pid in listeners)

    def check_room(self, pending: Pending) -> None:
        """Before commit: refuse (54000) a transaction whose notifications would overflow a queue."""
        counts: dict[int, int] = {}
        for channel, _ in pending.notifications:
            for pid in self._channels.get(channel, ()):
                counts[pid] = counts.get(pid, 0) + 1
        for pid, n in counts.items():
            if len(self._queues.get(pid, ())) + n > self._max_queued:
                raise SqlError("54000", "too many notifications in the NOTIFY queue",
                               detail=f"Backend {pid} has {len(self._queues[pid])} undelivered "
                                      f"notifications (limit {self._max_queued}).")

    def commit(self, pid: int, pending: Pending) -> None:
        """After a durable commit: apply LISTEN/UNLISTEN, then deliver the notifications."""
        for op, channel in pending.listen_ops:
            if op == "listen" and channel is not None:
                self._channels.setdefault(channel, set()).add(pid)
            elif channel is None:
                for listeners in self._channels.values():
                    listeners.discard(pid)
            else:
                self._channels.get(channel, set()).discard(pid)
        self._channels = {c: s for c, s in self._channels.items() if s}
        woken: set[int] = set()
        for channel, payload in pending.notifications:
            for listener in self._channels.get(channel, ()):
                queue = self._queues.get(listener)
                if queue is None:
                    continue
                queue.append(Notification(channel, payload, pid))
                woken.add(listener)
        for listener in woken:
            wake = self._wake.get(listener)
            if wake is not None:
                wake()

    def take(self, pid: int) -> list[Notification]:
        """Everything queued for ``pid``, in order (the wire layer sends them when idle)."""
        queue = self._queues.get(pid)
        if not queue:
            return []
        out = list(queue)
        queue.clear()
        return out
