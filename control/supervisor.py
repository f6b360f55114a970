"""The supervisor of a detached cluster: restarts the control daemon if it dies.

`strata up --detach` starts ``python3 -m strata control supervise --dir DIR``, which runs
the daemon (`strata control run`) as its child and waits. When the daemon exits it reads
``cluster.json``: a daemon that stopped the cluster itself (SIGTERM, a failed bootstrap)
left ``phase`` stopped or failed, and the supervisor exits with it; any other exit
(SIGKILL, the OOM killer, a crash) left the components running, and a new daemon is
started at once, which adopts them (`Daemon.adopt_leftovers`). Bounded: after
``MAX_RESTARTS`` deaths within ``WINDOW_S`` it gives up and says why in
``cluster.json``'s ``supervisor_detail``. SIGTERM (what `strata down` sends) is passed to
the daemon and ends the supervisor once the daemon has stopped the cluster: no restart
during a stop. Decision record: docs/decisions/0019-supervisor-restarts-the-daemon.md.
"""

from __future__ import annotations

import collections
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

from control.state import ClusterDir

MAX_RESTARTS = 5
"""Daemon deaths tolerated within WINDOW_S; one more and the supervisor gives up."""
WINDOW_S = 60.0
BACKOFF_BASE_S = 0.1
"""Wait before the n-th restart within the window: BACKOFF_BASE_S * 2**(n-1)."""


def _say(text: str) -> None:
    sys.stderr.write(f"{time.strftime('%Y-%m-%d %H:%M:%S')} supervisor: {text}\n")
    sys.stderr.flush()


def _how(rc: int) -> str:
    return f"killed by signal {-rc}" if rc < 0 else f"exit code {rc}"


def supervise(cluster_dir: str | os.PathLike[str]) -> int:
    cdir = ClusterDir(cluster_dir)
    stopping = threading.Event()
    child: subprocess.Popen[bytes] | None = None

    def on_signal(signum: int, frame: object) -> None:
        stopping.set()
        if child is not None and child.poll() is None:
            child.send_signal(signal.SIGTERM)

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    state = cdir.load()
    state.supervisor_pid = os.getpid()
    state.supervisor_detail = ""
    cdir.save(state)
    deaths: collections.deque[float] = collections.deque()
    code = 0
    try:
        while not stopping.is_set():
            child = subprocess.Popen(
                [sys.executable, "-m", "strata", "control", "run", "--dir", str(cdir.path)],
                stdin=subprocess.DEVNULL, env=dict(os.environ, PYTHONUNBUFFERED="1"),
                cwd=str(Path(__file__).resolve().parent.parent))
            if stopping.is_set():  # SIGTERM arrived while it was being started
                child.send_signal(signal.SIGTERM)
            rc = child.wait()
            if stopping.is_set():
                break
            state = cdir.load()
            if state.phase in ("stopped", "failed"):
                code = rc
                break  # it stopped the cluster itself: nothing left to supervise
            now = time.monotonic()
            deaths.append(now)
            while deaths and now - deaths[0] > WINDOW_S:
                deaths.popleft()
            if len(deaths) > MAX_RESTARTS:
                state.supervisor_detail = (
                    f"gave up at {time.strftime('%Y-%m-%d %H:%M:%S')}: the control daemon died "
                    f"{len(deaths)} times within {WINDOW_S:.0f}s (last: {_how(rc)}); its "
                    f"components run unsupervised: `strata up` supervises them again")
                state.supervisor_pid = 0
                cdir.save(state)
                _say(state.supervisor_detail)
                return 1
            delay = BACKOFF_BASE_S * 2 ** (len(deaths) - 1)
            _say(f"the control daemon (pid {child.pid}) died ({_how(rc)}) without stopping the "
                 f"cluster; restarting it in {delay:.1f}s ({len(deaths)} of {MAX_RESTARTS} "
                 f"restarts allowed within {WINDOW_S:.0f}s)")
            stopping.wait(delay)
    finally:
        state = cdir.load()
        if state.supervisor_pid == os.getpid():
            state.supervisor_pid = 0
            cdir.save(state)
    return code
