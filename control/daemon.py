"""The control daemon: one process per cluster that owns its children.

`python3 -m strata control run --dir DIR` loads ``DIR/cluster.json`` (written by
`strata up`), boots the cluster in order — log store nodes, the log, the page server, the
timeline, the primary compute (until it is writable), replicas and branch computes —
serves the admin REST API, and runs the reconciler until SIGTERM/SIGINT, then stops every
child (computes first, storage last). Progress is recorded in ``cluster.json`` (``phase``,
``detail``) so `strata up` can show it without a token.
"""

from __future__ import annotations

import contextlib
import logging
import os
import signal
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path

from control.driver import LocalProcessDriver, _signal_group
from control.errors import Conflict, ControlError, Unavailable
from control.reconciler import Policy, Reconciler, Stage
from control.services import RealServices
from control.state import ClusterDir, ClusterState, ComponentState
from control.users import control_login, ensure_credentials

log = logging.getLogger("strata.control")

BOOT_STEP_TIMEOUT_S = 60.0
"""Bound on each bootstrap step (a component coming up, a log or timeline being created)."""
REST_START_TIMEOUT_S = 10.0


class Stopped(Exception):
    """SIGTERM/SIGINT arrived during bootstrap."""


class BootError(Exception):
    pass


def is_strata_process(pid: int) -> bool:
    """The pid runs a strata command (guards against killing a recycled pid)."""
    argv = process_argv(pid)
    return argv is not None and b"strata" in argv


def process_argv(pid: int) -> list[bytes] | None:
    """The pid's command line (None: no such process, or a zombie / kernel thread)."""
    try:
        raw = Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return None
    return raw.split(b"\0")[:-1] if raw else None


def runs_component(comp: ComponentState, argv: list[bytes] | None) -> bool:
    """``argv`` is ``comp`` of this cluster: `python -m strata <kind> ... --listen <its
    address>`. A recycled pid (anything else) fails this and is never signalled."""
    if argv is None or len(argv) < 4 or argv[1:4] != [b"-m", b"strata", comp.kind.encode()]:
        return False
    try:
        return argv[argv.index(b"--listen") + 1] == comp.address.encode()
    except (ValueError, IndexError):
        return False


def live_components(state: ClusterState) -> list[ComponentState]:
    """The cluster's components whose recorded pid still runs them."""
    return [c for c in state.components
            if c.pid and runs_any(c.pid) and runs_component(c, process_argv(c.pid))]


def _kill_and_wait(pids: list[int], timeout_s: float = 5.0) -> None:
    for pid in pids:
        with contextlib.suppress(OSError):
            if os.getpgid(pid) == pid:
                _signal_group(pid, signal.SIGKILL)
            else:
                os.kill(pid, signal.SIGKILL)
    deadline = time.monotonic() + timeout_s
    while any(runs_any(pid) for pid in pids) and time.monotonic() < deadline:
        time.sleep(0.05)


def runs_any(pid: int) -> bool:
    """Alive and not a zombie (a SIGKILLed orphan may wait to be reaped by init)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_bytes()
    except OSError:
        return False
    return stat.rpartition(b")")[2].split()[0] not in (b"Z", b"X")


def _promoted(argv: list[bytes] | None, want: list[bytes]) -> bool:
    """``argv`` is ``want`` but for ``--role replica`` where ``want`` says primary: a replica
    promoted with pg_promote keeps the command line it was started with. (The other way
    round, a primary process recorded as a replica, is not adopted: it is killed.)"""
    if argv is None or len(argv) != len(want) or b"--role" not in want:
        return False
    at = want.index(b"--role") + 1
    return (want[at] == b"primary" and argv[at] == b"replica"
            and argv[:at] + argv[at + 1:] == want[:at] + want[at + 1:])


def kill_leftovers(state: ClusterState) -> list[str]:
    """SIGKILL the components of a daemon that died without stopping them (only processes
    that are still those components: a recycled pid is left alone); returns their names."""
    mine = live_components(state)
    _kill_and_wait([c.pid for c in mine])
    for comp in state.components:
        comp.pid = 0
    return [c.name for c in mine]


class Daemon:
    def __init__(self, cdir: ClusterDir, policy: Policy | None = None) -> None:
        self.cdir = cdir
        self.state = cdir.load()
        self.stop = threading.Event()
        self.driver = LocalProcessDriver()
        spec = self.state.spec
        from strata.tls import ensure_component

        tls_dir = cdir.path / "tls"
        ensure_credentials(cdir, spec)
        if spec.auth == "trust":
            log.warning("auth=trust: anyone who reaches the proxy (%s) or a compute logs in as any "
                        "user without a password", spec.proxy_address)
        self.services = RealServices(spec.logstore_addresses(), spec.pageserver_address(),
                                     tls=ensure_component(tls_dir, "control", "control"),
                                     login=control_login(cdir))
        self.rec = Reconciler(cdir, self.state, self.driver, self.services, policy,
                              tls_dir=tls_dir)

    # -- progress ------------------------------------------------------------------------

    def progress(self, phase: str, detail: str) -> None:
        with self.rec.lock:
            self.state.phase = phase
            self.state.detail = detail
            self.cdir.save(self.state)
        log.info("%s: %s", phase, detail)

    def wait_until(self, cond: Callable[[], bool], what: str,
                   timeout_s: float = BOOT_STEP_TIMEOUT_S) -> None:
        deadline = time.monotonic() + timeout_s
        while True:
            self.rec.step()
            if cond():
                return
            failed = [c for c in self.state.components if c.state == "failed"]
            if failed:
                c = failed[0]
                raise BootError(f"{c.name} failed: {c.detail} (see {self.cdir.log_file(c.name)})")
            if self.stop.is_set():
                raise Stopped()
            if time.monotonic() > deadline:
                raise BootError(f"timed out after {timeout_s:.0f}s waiting for {what}")
            self.stop.wait(min(self.rec.policy.tick_s, 0.2))

    def retry(self, fn: Callable[[], None], what: str) -> None:
        """Retry a service call that fails while the service is still settling."""
        deadline = time.monotonic() + BOOT_STEP_TIMEOUT_S
        while True:
            try:
                fn()
                return
            except Conflict:
                return  # exists from an earlier run
            except (Unavailable, OSError, ControlError) as exc:
                if time.monotonic() > deadline:
                    raise BootError(f"{what}: {exc}") from exc
            except Exception as exc:  # noqa: BLE001 - e.g. gRPC UNAVAILABLE while starting
                if time.monotonic() > deadline:
                    raise BootError(f"{what}: {exc}") from exc
            if self.stop.wait(0.3):
                raise Stopped()

    # -- bootstrap -----------------------------------------------------------------------

    def bootstrap(self) -> None:
        spec = self.state.spec
        rec = self.rec
        rec.stage = Stage(logstore=True, pageserver=False, primary=False, replicas=False)
        self.progress("starting", f"starting {spec.logstores} log store nodes")
        self.wait_until(lambda: self._running("logstore"), "the log store nodes")
        if not self.state.bootstrapped:
            self.progress("starting", f"creating the log {spec.tenant}/{spec.timeline}")
            self.retry(lambda: self.services.create_log(spec.tenant, spec.timeline, 0),
                       "creating the log")
        rec.stage.pageserver = True
        self.progress("starting", "starting the page server")
        self.wait_until(lambda: self._running("pageserver"), "the page server")
        if not self.state.bootstrapped:
            self.progress("starting", f"creating the timeline {spec.timeline}")

            def create_timeline() -> None:
                if not self.services.timeline_exists(spec.tenant, spec.timeline):
                    self.services.create_timeline(spec.tenant, spec.timeline)

            self.retry(create_timeline, "creating the timeline")
            with rec.lock:
                self.state.bootstrapped = True
                self.cdir.save(self.state)
        rec.stage.primary = True
        self.progress("starting", "starting the primary compute")
        self.wait_until(self._primary_writable, "the primary compute to accept writes")
        rec.stage.replicas = True
        self.progress("starting", f"starting {spec.replicas} replica(s) and branch computes")
        self.wait_until(lambda: self._running("compute"), "replicas and branch computes")
        self.progress("starting", f"starting the proxy on {spec.proxy_address}")
        self.wait_until(lambda: self._running("proxy"), "the proxy")
        self.progress("ready", "")

    def _running(self, kind: str) -> bool:
        comps = [c for c in self.state.components if c.kind == kind]
        return bool(comps) and all(c.state == "running" for c in comps)

    def _primary_writable(self) -> bool:
        primary = self.rec.primary(self.state.spec.timeline)
        if primary is None:
            return False
        status = self.rec.rt(primary.name).status
        return status is not None and status.get("state") == "writable"

    # -- serving -------------------------------------------------------------------------

    def start_rest(self) -> object:
        import uvicorn

        from control.api import create_app

        spec = self.state.spec
        app = create_app(self.rec, self.cdir.token())
        config = uvicorn.Config(app, host=spec.host, port=spec.rest_port, log_level="warning",
                                access_log=False, lifespan="off")
        server = uvicorn.Server(config)
        thread = threading.Thread(target=server.run, name="rest", daemon=True)
        thread.start()
        deadline = time.monotonic() + REST_START_TIMEOUT_S
        while not server.started:
            if not thread.is_alive() or time.monotonic() > deadline:
                raise BootError(f"the REST API could not listen on {spec.rest_address}")
            time.sleep(0.05)
        return server

    def shutdown(self) -> None:
        self.progress("stopping", "stopping computes, then storage")
        with self.rec.lock:
            for kinds in (("proxy",), ("compute",), ("pageserver",), ("logstore",)):
                names = [c.name for c in self.state.components if c.kind in kinds]
                self.driver.stop_all(names, self.rec.policy.stop_grace_s)
            for comp in self.state.components:
                comp.pid = 0
                if comp.state != "failed":
                    comp.state = "stopped"
            self.state.daemon_pid = 0
        self.rec.close()
        self.services.close()
        self.progress("stopped", "")

    def adopt_leftovers(self) -> set[str]:
        """Adopt the components an earlier daemon left running (it died: SIGKILL, OOM, a
        crash) instead of restarting them: each whose recorded pid runs exactly the command
        this daemon would run for it, as the leader of its own process group, is tracked by
        the driver and keeps its state (clients of the proxy keep their sessions). A pid that
        is not the component any more (recycled) is neither adopted nor signalled; one that
        is the component with another command line (an option changed) or outside its own
        process group is killed and started afresh. Returns the adopted names."""
        adopted: set[str] = set()
        kill: list[int] = []
        for comp in self.state.components:
            pid, comp.pid = comp.pid, 0
            if not pid or not runs_any(pid):
                continue
            argv = process_argv(pid)
            if not runs_component(comp, argv):
                log.warning("%s: pid %d is not %s any more (%s): not adopted, not signalled; "
                            "starting it afresh", comp.name, pid, comp.name,
                            b" ".join(argv or [b"?"])[:120].decode(errors="replace"))
                continue
            want = [a.encode() for a in self.rec.process_spec(comp).argv]
            if argv is not None and _promoted(argv, want):
                want = argv  # started as a replica, promoted since: the same process
            if argv != want:
                why = "its command line differs from this daemon's (an option changed)"
            elif os.getpgid(pid) != pid:
                why = "it does not lead its own process group"
            else:
                self.driver.adopt(comp.name, pid)
                comp.pid = pid
                if comp.state not in ("running", "starting"):
                    comp.state = "starting"
                self.rec.adopted(comp)
                adopted.add(comp.name)
                continue
            log.warning("%s: pid %d cannot be adopted (%s): killing it and starting it afresh",
                        comp.name, pid, why)
            kill.append(pid)
        _kill_and_wait(kill)
        if adopted:
            log.warning("adopted %d running component(s) of an earlier daemon: %s",
                        len(adopted), ", ".join(sorted(adopted)))
        return adopted

    def run(self) -> int:
        state = self.state
        if state.daemon_pid and state.daemon_pid != os.getpid() and runs_any(state.daemon_pid) \
                and is_strata_process(state.daemon_pid):
            print(f"error: a control daemon (pid {state.daemon_pid}) already runs this cluster",
                  file=sys.stderr)
            return 1
        adopted = self.adopt_leftovers()
        for comp in state.components:  # a fresh start: failed components get new tries
            if comp.name not in adopted:
                comp.state = "pending"
                comp.restarts = 0
                comp.detail = ""
        state.daemon_pid = os.getpid()
        state.rest_address = state.spec.rest_address
        self.progress("starting", "starting the admin API")

        def on_signal(signum: int, frame: object) -> None:
            self.stop.set()

        signal.signal(signal.SIGTERM, on_signal)
        signal.signal(signal.SIGINT, on_signal)
        server = None
        code = 0
        try:
            server = self.start_rest()
            self.bootstrap()
            self.rec.stage = Stage()
            self.rec.run(self.stop)
        except Stopped:
            pass
        except BootError as exc:
            log.error("bootstrap failed: %s", exc)
            code = 1
            with contextlib.suppress(Exception):
                self.progress("failed", str(exc))
        finally:
            failed_detail = state.detail if code else ""
            if server is not None:
                server.should_exit = True  # type: ignore[attr-defined]
            self.shutdown()
            if failed_detail:
                self.progress("failed", failed_detail)
        return code


def run(cluster_dir: str | os.PathLike[str]) -> int:
    logging.basicConfig(level=logging.INFO, stream=sys.stderr,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    cdir = ClusterDir(cluster_dir)
    return Daemon(cdir).run()
