"""Drivers run components: the reconciler says what, a driver says how (processes, pods).

`LocalProcessDriver` runs each component as a child process in its own process group
(a signal to the daemon's terminal never reaches it directly; stopping a component kills
its whole group), with stdout and stderr appended to ``logs/<component>.log``.
"""

from __future__ import annotations

import contextlib
import os
import select
import signal
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

STOP_GRACE_S = 10.0
"""How long a component has to exit after SIGTERM before it gets SIGKILL."""
KILL_WAIT_S = 1.0
"""How long ``kill`` waits for the process to be gone. SIGKILL takes effect when the process
leaves the kernel: one in uninterruptible sleep (an fsync on a stalled disk) dies only once
that returns, and the reconciler's step must not wait for it. It stays ``alive`` until then,
and the reconciler starts its replacement once it is gone."""


@dataclass
class ProcessSpec:
    name: str
    argv: list[str]
    log_file: Path
    env: dict[str, str] = field(default_factory=dict)
    cwd: str | None = None


class Driver(Protocol):
    def start(self, proc: ProcessSpec) -> int:
        """Start the component; returns its pid (or another stable id)."""
        ...

    def stop(self, name: str, grace_s: float = STOP_GRACE_S) -> None:
        """Stop it (gracefully, then by force); a no-op if it is not running."""
        ...

    def kill(self, name: str) -> None:
        """Stop it at once (SIGKILL): used when a primary must be fenced off immediately."""
        ...

    def alive(self, name: str) -> bool: ...

    def exit_detail(self, name: str) -> str:
        """How it ended ("exit code 1", "signal 9"), "" if unknown or running."""
        ...


ADOPTED_EXIT = "exited (exit code unknown: adopted from an earlier daemon, not its child)"


class AdoptedProcess:
    """A component process started by an earlier daemon: watched, not waited for.

    Quacks like the part of ``subprocess.Popen`` the driver uses (``pid``, ``poll``,
    ``wait``, ``returncode``). A pidfd (Linux 5.3+) pins the process: it reads as ready once
    the process has exited, even while it is an unreaped zombie of another parent, and the
    pid cannot be recycled under it. Without pidfds, ``/proc/PID/stat`` is polled (a
    zombie counts as exited). Its exit code is unknown (only a parent can read it):
    ``returncode`` is then 0 and ``exit_detail`` says so."""

    def __init__(self, pid: int) -> None:
        self.pid = pid
        self.returncode: int | None = None
        self._pidfd: int | None = None
        with contextlib.suppress(AttributeError, OSError):
            self._pidfd = os.pidfd_open(pid)
        self._start_time = _start_time(pid)
        """Without a pidfd: the process's start time, so a recycled pid reads as exited."""

    def poll(self) -> int | None:
        if self.returncode is None and not self._running(0.0):
            self.returncode = 0
            self.close()
        return self.returncode

    def wait(self, timeout: float | None = None) -> int:
        deadline = None if timeout is None else time.monotonic() + timeout
        while self.poll() is None:
            left = 0.05 if deadline is None else min(0.05, deadline - time.monotonic())
            if left <= 0:
                raise subprocess.TimeoutExpired(["adopted", str(self.pid)], timeout or 0.0)
            self._running(left)
        return 0

    def _running(self, timeout_s: float) -> bool:
        if self._pidfd is not None:
            poller = select.poll()
            poller.register(self._pidfd, select.POLLIN)
            return not poller.poll(int(timeout_s * 1000))
        if timeout_s:
            time.sleep(timeout_s)
        try:
            fields = Path(f"/proc/{self.pid}/stat").read_bytes().rpartition(b")")[2].split()
        except OSError:
            return False
        return fields[0] not in (b"Z", b"X") and fields[19] == self._start_time

    def close(self) -> None:
        if self._pidfd is not None:
            os.close(self._pidfd)
            self._pidfd = None


class LocalProcessDriver:
    def __init__(self) -> None:
        self._procs: dict[str, subprocess.Popen[bytes] | AdoptedProcess] = {}

    def start(self, proc: ProcessSpec) -> int:
        old = self._procs.get(proc.name)
        if old is not None and old.poll() is None:
            raise RuntimeError(f"{proc.name} is already running (pid {old.pid})")
        proc.log_file.parent.mkdir(parents=True, exist_ok=True)
        env = dict(os.environ, PYTHONUNBUFFERED="1", **proc.env)
        with open(proc.log_file, "ab") as log:
            log.write(f"--- {time.strftime('%Y-%m-%d %H:%M:%S')} start: "
                      f"{' '.join(proc.argv)}\n".encode())
            log.flush()
            child = subprocess.Popen(
                proc.argv, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
                env=env, cwd=proc.cwd, start_new_session=True)
        self._procs[proc.name] = child
        return child.pid

    def adopt(self, name: str, pid: int) -> None:
        """Track ``pid`` (already checked to be this component, in its own process group)
        as ``name`` without being its parent: `alive`, `stop` and `kill` work as for a
        child; `exit_detail` cannot tell the exit code."""
        old = self._procs.get(name)
        if old is not None and old.poll() is None:
            raise RuntimeError(f"{name} is already running (pid {old.pid})")
        self._procs[name] = AdoptedProcess(pid)

    def alive(self, name: str) -> bool:
        child = self._procs.get(name)
        return child is not None and child.poll() is None

    def exit_detail(self, name: str) -> str:
        child = self._procs.get(name)
        if child is None or child.returncode is None:
            return ""
        if isinstance(child, AdoptedProcess):
            return ADOPTED_EXIT
        rc = child.returncode
        return f"killed by signal {-rc}" if rc < 0 else f"exit code {rc}"

    def kill(self, name: str) -> None:
        child = self._procs.get(name)
        if child is None or child.poll() is not None:
            return
        _signal_group(child.pid, signal.SIGKILL)
        with contextlib.suppress(subprocess.TimeoutExpired):
            child.wait(KILL_WAIT_S)

    def stop(self, name: str, grace_s: float = STOP_GRACE_S) -> None:
        child = self._procs.get(name)
        if child is None or child.poll() is not None:
            return
        _signal_group(child.pid, signal.SIGTERM)
        try:
            child.wait(grace_s)
        except subprocess.TimeoutExpired:
            _signal_group(child.pid, signal.SIGKILL)
            child.wait()

    def stop_all(self, names: list[str], grace_s: float = STOP_GRACE_S) -> None:
        """SIGTERM all of ``names`` at once, then wait (so shutdown takes one grace, not N)."""
        live = [(n, c) for n, c in self._procs.items() if n in names and c.poll() is None]
        for _, child in live:
            _signal_group(child.pid, signal.SIGTERM)
        deadline = time.monotonic() + grace_s
        for _, child in live:
            try:
                child.wait(max(0.0, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                _signal_group(child.pid, signal.SIGKILL)
                child.wait()


def _start_time(pid: int) -> bytes:
    """Field 22 of /proc/PID/stat (clock ticks after boot): with the pid, names one process."""
    try:
        return Path(f"/proc/{pid}/stat").read_bytes().rpartition(b")")[2].split()[19]
    except (OSError, IndexError):
        return b""


def _signal_group(pid: int, sig: signal.Signals) -> None:
    try:
        os.killpg(pid, sig)
    except ProcessLookupError:
        pass
    except PermissionError:
        os.kill(pid, sig)
