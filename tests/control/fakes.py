"""A fake driver and fake services for reconciler tests: decisions without processes."""

from __future__ import annotations

import threading
from typing import Any

from control.driver import ProcessSpec
from control.errors import Conflict, Unavailable
from control.liveness import ProbeFailed


class FakeDriver:
    def __init__(self) -> None:
        self.running: dict[str, ProcessSpec] = {}
        self.starts: list[str] = []
        self.stops: list[str] = []
        self.kills: list[str] = []
        self.fail_start: set[str] = set()
        self.unkillable: set[str] = set()
        """Components a kill does not end yet (a process in uninterruptible sleep): they stay
        alive until ``crash``."""
        self._pid = 1000

    def start(self, proc: ProcessSpec) -> int:
        self.starts.append(proc.name)
        if proc.name in self.fail_start:
            raise OSError("cannot exec")
        self.running[proc.name] = proc
        self._pid += 1
        return self._pid

    def stop(self, name: str, grace_s: float = 10.0) -> None:
        if self.running.pop(name, None) is not None:
            self.stops.append(name)

    def kill(self, name: str) -> None:
        if name in self.unkillable and name in self.running:
            self.kills.append(name)
            return
        if self.running.pop(name, None) is not None:
            self.kills.append(name)

    def crash(self, name: str) -> None:
        """The process dies on its own (as after SIGKILL from outside)."""
        del self.running[name]

    def alive(self, name: str) -> bool:
        return name in self.running

    def exit_detail(self, name: str) -> str:
        return "" if name in self.running else "killed by signal 9"

    def role_of(self, name: str) -> str:
        argv = self.running[name].argv
        return argv[argv.index("--role") + 1]


class FakeServices:
    def __init__(self, driver: FakeDriver) -> None:
        self.driver = driver
        self.by_address: dict[str, str] = {}
        self.replay: dict[str, int] = {}
        """compute name -> replay LSN it reports."""
        self.states: dict[str, str] = {}
        """compute name -> status state override (e.g. fenced)."""
        self.unreachable: set[str] = set()
        self.hung: set[str] = set()
        """Components whose status poll or liveness probe blocks until ``unhung`` is set (a
        frozen process), then fails."""
        self.unhung = threading.Event()
        self.probe_gates: dict[str, threading.Event] = {}
        """Components whose liveness probe blocks until their event is set, then answers
        (a slow but live process)."""
        self.probe_answers: dict[str, list[bool]] = {}
        """Components whose next liveness probes answer (True) or miss their deadline
        (False) in this order; once the list is used up, they answer."""
        self.probes: list[tuple[str, str]] = []
        """(kind, name) of every liveness probe sent."""
        self.promoted: list[str] = []
        self.refuse_promote: set[str] = set()
        self.logs: dict[str, int] = {}
        self.ensured: list[tuple[str, str, int]] = []
        self.timelines: dict[str, int] = {}
        self.commit = 5000
        self.term = 1

    def _name(self, address: str) -> str:
        for name, proc in self.driver.running.items():
            if address in proc.argv:
                return name
        return ""

    def node_status(self, address: str) -> dict[str, Any] | None:
        name = self._name(address)
        if name in self.hung:
            self.unhung.wait(30)
            return None
        if not name or name in self.unreachable:
            return None
        role = self.driver.role_of(name)
        state = self.states.get(name, "writable" if role == "primary" else "read-only")
        lsn = self.replay.get(name, 0)
        return {"role": role, "state": state, "term": self.term, "written_lsn": lsn,
                "durable_lsn": self.commit if role == "primary" else lsn, "replay_lsn": lsn}

    def promote(self, address: str) -> None:
        name = self._name(address)
        if not name:
            raise Unavailable("not running")
        if name in self.refuse_promote:
            raise Unavailable("could not promote this node: the log follower is behind")
        self.promoted.append(name)
        self.term += 1

    def accepts_connections(self, address: str) -> bool:
        return bool(self._name(address))

    def probe(self, kind: str, address: str, timeout_s: float) -> None:
        name = self._name(address)
        self.probes.append((kind, name))
        if not name or name in self.unreachable:
            raise ProbeFailed(f"{address}: connection refused")
        if name in self.hung:
            self.unhung.wait(30)
            raise ProbeFailed(f"{address}: deadline exceeded")
        gate = self.probe_gates.get(name)
        if gate is not None:
            gate.wait(30)
        answers = self.probe_answers.get(name)
        if answers and not answers.pop(0):
            raise ProbeFailed(f"{address}: deadline exceeded")

    def create_log(self, tenant: str, timeline: str, start_lsn: int) -> None:
        if timeline in self.logs:
            raise Conflict("exists")
        self.logs[timeline] = start_lsn

    def ensure_log(self, address: str, tenant: str, timeline: str, start_lsn: int) -> None:
        self.ensured.append((address, timeline, start_lsn))

    def delete_log(self, tenant: str, timeline: str) -> None:
        self.logs.pop(timeline, None)

    def commit_lsn(self, tenant: str, timeline: str) -> int:
        return self.commit

    def timeline_exists(self, tenant: str, timeline: str) -> bool:
        return timeline in self.timelines

    def create_timeline(self, tenant: str, timeline: str, *, ancestor: str = "",
                        ancestor_lsn: int = 0, ancestor_timestamp_us: int = 0) -> int:
        if timeline in self.timelines:
            raise Conflict("exists")
        lsn = ancestor_lsn or (4000 if ancestor_timestamp_us else self.commit)
        self.timelines[timeline] = lsn
        return lsn

    def delete_timeline(self, tenant: str, timeline: str) -> None:
        self.timelines.pop(timeline, None)

    def proxy_show(self, address: str, what: str) -> list[dict[str, Any]]:
        return [{"address": address, "what": what}]

    def close(self) -> None:
        pass
