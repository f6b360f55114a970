"""LocalProcessDriver with real processes: logs, process groups, SIGTERM then SIGKILL."""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path

import pytest

from control.driver import LocalProcessDriver, ProcessSpec


def _spec(tmp_path: Path, name: str, code: str) -> ProcessSpec:
    return ProcessSpec(name=name, argv=[sys.executable, "-c", code], log_file=tmp_path / f"{name}.log")


def _wait_text(path: Path, text: str, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while text not in (path.read_text() if path.exists() else ""):
        assert time.monotonic() < deadline, path.read_text() if path.exists() else "no log"
        time.sleep(0.02)


def test_output_goes_to_the_log_and_exit_is_seen(tmp_path: Path) -> None:
    d = LocalProcessDriver()
    pid = d.start(_spec(tmp_path, "a", "import sys; print('hello'); sys.stderr.write('oops\\n'); sys.exit(3)"))
    assert pid > 0
    deadline = time.monotonic() + 10
    while d.alive("a"):
        assert time.monotonic() < deadline
        time.sleep(0.02)
    assert d.exit_detail("a") == "exit code 3"
    text = (tmp_path / "a.log").read_text()
    assert "hello" in text and "oops" in text and "start:" in text
    assert not d.alive("unknown")


def test_stop_kills_the_whole_group_and_escalates(tmp_path: Path) -> None:
    d = LocalProcessDriver()
    # ignores SIGTERM and has a grandchild: both must be gone after stop
    code = ("import signal, subprocess, sys, time; signal.signal(signal.SIGTERM, signal.SIG_IGN);"
            "p = subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(60)']);"
            "print('child', p.pid, flush=True); time.sleep(60)")
    pid = d.start(_spec(tmp_path, "b", code))
    _wait_text(tmp_path / "b.log", "child ")
    grandchild = int((tmp_path / "b.log").read_text().split("child ")[1].split()[0])
    assert os.getpgid(pid) == pid  # its own process group
    t0 = time.monotonic()
    d.stop("b", grace_s=0.5)
    assert 0.4 < time.monotonic() - t0 < 5
    assert not d.alive("b") and d.exit_detail("b") == "killed by signal 9"
    deadline = time.monotonic() + 5
    while Path(f"/proc/{grandchild}").exists() and "Z" not in _state(grandchild):
        assert time.monotonic() < deadline, "grandchild survived"
        time.sleep(0.02)


def test_graceful_stop_and_restart(tmp_path: Path) -> None:
    d = LocalProcessDriver()
    d.start(_spec(tmp_path, "c", "import time; print('up', flush=True); time.sleep(60)"))
    _wait_text(tmp_path / "c.log", "up")
    d.stop("c")
    assert d.exit_detail("c") == "killed by signal 15"
    d.start(_spec(tmp_path, "c", "import time; time.sleep(60)"))
    assert d.alive("c")
    d.kill("c")
    assert not d.alive("c")
    assert (tmp_path / "c.log").read_text().count("start:") == 2


def _state(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/stat").read_text().split(")")[1].split()[0]
    except OSError:
        return "Z"


def test_kill_does_not_wait_for_a_process_that_cannot_die_yet(tmp_path: Path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    """SIGKILL ends a process only when it leaves the kernel (one stuck in an fsync on a
    stalled disk dies when that returns): kill waits KILL_WAIT_S at most, and the process
    stays alive until it is gone."""
    import control.driver as driver_mod

    d = LocalProcessDriver()
    d.start(_spec(tmp_path, "a", "import time; print('up', flush=True); time.sleep(60)"))
    _wait_text(tmp_path / "a.log", "up")
    real = driver_mod._signal_group
    monkeypatch.setattr(driver_mod, "_signal_group", lambda pid, sig: None)  # not dying yet
    t0 = time.monotonic()
    d.kill("a")
    assert time.monotonic() - t0 < driver_mod.KILL_WAIT_S + 1.0
    assert d.alive("a")
    monkeypatch.setattr(driver_mod, "_signal_group", real)
    d.kill("a")
    assert not d.alive("a") and d.exit_detail("a") == "killed by signal 9"


def test_adopted_process_is_watched_and_stopped_with_its_group(tmp_path: Path) -> None:
    import subprocess

    from control.driver import ADOPTED_EXIT

    # started by someone else (an earlier daemon), in its own group, with a grandchild
    code = ("import subprocess, sys, time; subprocess.Popen([sys.executable, '-c', "
            "'import time; time.sleep(60)']); print('up', flush=True); time.sleep(60)")
    log = open(tmp_path / "x.log", "wb")  # noqa: SIM115
    orphan = subprocess.Popen([sys.executable, "-c", code], stdout=log, start_new_session=True)
    try:
        _wait_text(tmp_path / "x.log", "up")
        d = LocalProcessDriver()
        d.adopt("x", orphan.pid)
        assert d.alive("x") and d.exit_detail("x") == ""
        t0 = time.monotonic()
        d.stop("x", grace_s=5)
        assert time.monotonic() - t0 < 5
        assert not d.alive("x") and d.exit_detail("x") == ADOPTED_EXIT
        orphan.wait(5)
        deadline = time.monotonic() + 5
        while True:  # the grandchild got the group's SIGTERM too
            try:
                os.killpg(orphan.pid, 0)
            except ProcessLookupError:
                break
            assert time.monotonic() < deadline
            time.sleep(0.02)
    finally:
        log.close()
        if orphan.poll() is None:
            os.killpg(orphan.pid, 9)
            orphan.wait()


def test_runs_component_checks_kind_and_address() -> None:
    from control.daemon import runs_component
    from control.state import ComponentState

    comp = ComponentState(kind="compute", name="compute-1", address="127.0.0.1:5")
    argv = [b"/usr/bin/python3", b"-m", b"strata", b"compute", b"--listen", b"127.0.0.1:5"]
    assert runs_component(comp, argv)
    assert not runs_component(comp, [b"sleep", b"1000"])
    assert not runs_component(comp, argv[:-1] + [b"127.0.0.1:6"])
    assert not runs_component(comp, argv[:3] + [b"proxy"] + argv[4:])
    assert not runs_component(comp, None)


def test_a_promoted_replica_keeps_its_command_line() -> None:
    from control.daemon import _promoted

    want = [b"python3", b"-m", b"strata", b"compute", b"--role", b"primary", b"--listen", b"a"]
    started = [*want[:5], b"replica", *want[6:]]
    assert _promoted(started, want)
    assert not _promoted(want, [*want[:5], b"replica", *want[6:]])  # a primary recorded as replica
    assert not _promoted([*started[:-1], b"b"], want)


def test_adopted_process_without_pidfd_polls_proc(tmp_path: Path,
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    import signal
    import subprocess

    from control import driver

    monkeypatch.delattr(driver.os, "pidfd_open")
    orphan = subprocess.Popen(["sleep", "60"], start_new_session=True)
    try:
        proc = driver.AdoptedProcess(orphan.pid)
        assert proc.poll() is None
        proc._start_time = b"1"  # another process that got the same pid: not this one
        assert proc.poll() == 0
        proc = driver.AdoptedProcess(orphan.pid)
        os.kill(orphan.pid, signal.SIGKILL)
        time.sleep(0.2)  # a zombie (not reaped yet) counts as exited
        assert proc.wait(5) == 0
    finally:
        orphan.kill()
        orphan.wait()
