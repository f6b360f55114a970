"""The reconciler: moves the actual cluster to the spec, one small step every ``tick_s``.

Each step (under one lock, so REST operations see a consistent cluster):
1. makes the component list match the spec (log store nodes, the page server, the main
   timeline's computes: one primary + ``replicas``, one primary per branch);
2. polls every live compute's ``strata_node_status()`` (concurrently, bounded);
3. fails over a dead primary (process gone, status fenced, or unreachable for longer than
   ``dead_after_s``): the live replica with the highest replay LSN is promoted with
   ``pg_promote``; with none, the primary's slot restarts as a fresh primary (new term);
   the dead primary's slot comes back as a replica;
4. starts what is missing and restarts what died, with exponential backoff; after
   ``max_restarts`` consecutive failures a component is ``failed`` and left alone.

Decisions depend only on the driver, the `Services` seam and a clock, so tests drive them
with fakes. Side effects on services (logs, timelines) go through `Services`.
"""

from __future__ import annotations

import concurrent.futures
import functools
import logging
import os
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from control.driver import Driver, LocalProcessDriver, ProcessSpec
from control.errors import Conflict, ControlError, InvalidRequest, NotFound, Unavailable
from control.liveness import KINDS as LIVENESS_KINDS
from control.liveness import Liveness, Target
from control.services import Services
from control.spec import MAX_REPLICAS, port_in_use, ports
from control.state import (
    UNIX_SOCKETS_ENV,
    BranchState,
    ClusterDir,
    ClusterState,
    ComponentState,
    write_atomic,
)
from control.users import (
    PROXY_SECRET_FILE,
    TOPOLOGY_FILE,
    USERS_FILE,
    UserBook,
    cluster_dsn,
    local_dsn,
)

log = logging.getLogger("strata.control")

MAX_BRANCHES = 32
"""Branches per cluster; each has its own compute process."""
STATUS_WORKERS = 8
"""Threads polling compute status concurrently."""
MAX_PORT_SCAN = 200
"""How far past compute_port a new compute's port is searched for."""
LOG_REPAIR_RETRY_S = 2.0
"""A log store node whose logs could not all be (re)created is tried again after this."""
LOG_RESYNC_INTERVAL_S = 60.0

"""``off``: local computes listen on TCP only and the proxy reaches them over TCP."""
"""Even without a restart seen, every running node is checked for every log this often
(a node restarted behind the control plane's back, or its disk replaced)."""


@dataclass
class Policy:
    tick_s: float = 0.5
    backoff_base_s: float = 0.5
    """Second restart waits this long, then doubling (the first restart is immediate)."""
    backoff_max_s: float = 10.0
    max_restarts: int = 5
    """Consecutive restarts before a component is marked failed."""
    stable_s: float = 30.0
    """Running this long resets a component's restart count."""
    dead_after_s: float = 1.0
    """A primary whose status cannot be read for this long is dead."""
    start_timeout_s: float = 60.0
    """A component that does not come up within this is restarted."""
    status_timeout_s: float = 1.0
    """One status poll's bound; a slower answer is used on the next step."""
    status_hang_s: float = 3.0
    """A status poll still unanswered after this long means the compute is hung (a frozen
    process accepts the connection and never answers): it counts as unreachable from when
    the poll was sent, so a hung primary is failed over like an unreachable one."""
    liveness_interval_s: float = 1.0
    """A running log store node, page server or proxy is probed this often (control/liveness.py)."""
    liveness_timeout_s: float = 2.0
    """One liveness probe's deadline."""
    liveness_hang_s: float = 10.0
    """A log store node, page server or proxy whose liveness probes go unanswered this long
    (from the first unanswered one's sending) is hung: SIGKILLed and restarted. Generous: a
    busy node answers a cheap call within it; 0 turns the probes off (Kubernetes: the
    kubelet's livenessProbe does it)."""
    stop_grace_s: float = 10.0


@dataclass
class _Runtime:
    """What the reconciler knows about a component beyond cluster.json."""

    started_at: float = 0.0
    next_start_at: float = 0.0
    unreachable_since: float | None = None
    status: dict[str, Any] | None = None
    poll: concurrent.futures.Future[dict[str, Any] | None] | None = None
    poll_sent_at: float = 0.0
    next_log_repair_at: float | None = None
    """Log store nodes: when to (re)issue create_log for every log; None = not yet due."""
    log_repair: concurrent.futures.Future[None] | None = None
    log_repair_for: float = 0.0
    """``started_at`` of the process the running repair talks to (a restart meanwhile: redo)."""


@dataclass
class Stage:
    """Which components the bootstrap lets the reconciler start (all, once ready)."""

    logstore: bool = True
    pageserver: bool = True
    primary: bool = True
    replicas: bool = True


class Reconciler:
    def __init__(
        self,
        cdir: ClusterDir,
        state: ClusterState,
        driver: Driver,
        services: Services,
        policy: Policy | None = None,
        clock: Callable[[], float] = time.monotonic,
        python: str = sys.executable,
        port_free: Callable[[str, int], bool] | None = None,
        tls_dir: Path | None = None,
    ) -> None:
        self.cdir = cdir
        self.state = state
        self.spec = state.spec
        self.driver = driver
        self.services = services
        self.policy = policy or Policy()
        self.clock = clock
        self.python = python
        self.port_free = port_free or (lambda host, port: not port_in_use(host, port))
        self.tls_dir = tls_dir
        """The cluster CA and per-component certificates (strata.tls.ensure_component);
        None: services run with --insecure (plaintext gRPC)."""
        self.users = UserBook(cdir.path / USERS_FILE)
        self._topology = ""
        """The topology file's content as last written (rewritten only on change)."""
        self.lock = threading.RLock()
        self.stage = Stage()
        self._rt: dict[str, _Runtime] = {}
        self._pool = concurrent.futures.ThreadPoolExecutor(
            max_workers=STATUS_WORKERS, thread_name_prefix="status")
        self._dirty = False
        self.events: list[str] = []
        """Recent decisions (bounded), for tests and the daemon log."""
        self.liveness = Liveness(
            self.services.probe, clock, interval_s=self.policy.liveness_interval_s,
            timeout_s=self.policy.liveness_timeout_s, hang_s=self.policy.liveness_hang_s)

    # -- the loop ------------------------------------------------------------------------

    def run(self, stop: threading.Event) -> None:
        while not stop.is_set():
            try:
                self.step()
            except Exception:  # noqa: BLE001 - the loop must outlive one bad step
                log.exception("reconcile step failed")
            stop.wait(self.policy.tick_s)

    def step(self) -> None:
        with self.lock:
            self._shape()
            self._poll_statuses()
            self._check_liveness()
            for tl in self._timelines():
                self._check_primary(tl)
            for comp in list(self.state.components):
                self._converge(comp)
            self._repair_logs()
            self._write_topology()
            self._save_if_dirty()

    def close(self) -> None:
        self._pool.shutdown(wait=False, cancel_futures=True)
        self.liveness.close()

    # -- desired shape -------------------------------------------------------------------

    def _timelines(self) -> list[str]:
        return [self.spec.timeline] + [b.name for b in self.state.branches]

    def computes(self, timeline: str) -> list[ComponentState]:
        return [c for c in self.state.components if c.kind == "compute" and c.timeline == timeline]

    def primary(self, timeline: str) -> ComponentState | None:
        return next((c for c in self.computes(timeline) if c.role == "primary"), None)

    def _shape(self) -> None:
        spec = self.spec
        for i in range(1, spec.logstores + 1):
            if self.state.component(f"logstore-{i}") is None:
                self._add(ComponentState(
                    kind="logstore", name=f"logstore-{i}", node_id=i,
                    address=f"{spec.host}:{spec.logstore_port + i - 1}",
                    data_dir=str(self.cdir.path / f"logstore-{i}")))
        if self.state.component("pageserver-1") is None:
            self._add(ComponentState(
                kind="pageserver", name="pageserver-1", address=spec.pageserver_address(),
                data_dir=str(self.cdir.path / "pageserver-1")))
        main = self.computes(spec.timeline)
        if not any(c.role == "primary" for c in main):
            if main:  # no primary recorded (never happens in normal runs): make the first one
                main[0].role = "primary"
                self._dirty = True
            else:
                self._add_compute(spec.timeline, "primary", port=spec.compute_port)
        replicas = [c for c in self.computes(spec.timeline) if c.role == "replica"]
        for _ in range(spec.replicas - len(replicas)):
            self._add_compute(spec.timeline, "replica")
        if len(replicas) > spec.replicas:
            # the newest first; a failed or not-running replica before a serving one
            extra = sorted(replicas, key=lambda c: (c.state == "running", -_index(c.name)))
            for comp in extra[: len(replicas) - spec.replicas]:
                self._remove(comp, "scaled down")
        for b in self.state.branches:
            if not self.computes(b.name):
                self._add_compute(b.name, "primary", name=f"branch-{b.name}")
        if self.state.component("proxy-1") is None:
            self._add(ComponentState(kind="proxy", name="proxy-1", address=spec.proxy_address))

    def _add(self, comp: ComponentState) -> None:
        self.state.components.append(comp)
        self._dirty = True

    def _add_compute(self, timeline: str, role: str, port: int | None = None,
                     name: str | None = None) -> ComponentState:
        if name is None:
            used = {c.name for c in self.state.components}
            k = 1
            while f"compute-{k}" in used:
                k += 1
            name = f"compute-{k}"
        comp = ComponentState(kind="compute", name=name, role=role, timeline=timeline,
                              address=f"{self.spec.host}:{port or self._free_port()}")
        self._add(comp)
        self._event(f"{name}: added as {role} of {timeline} on {comp.address}")
        return comp

    def _free_port(self) -> int:
        taken = {c.port for c in self.state.components}
        taken.update((self.spec.rest_port, self.spec.proxy_port))
        taken.update(port for label, port in ports(self.spec).items() if label.startswith("logstore_fast_port"))
        for port in range(self.spec.compute_port, self.spec.compute_port + MAX_PORT_SCAN):
            if port not in taken and self.port_free(self.spec.host, port):
                return port
        raise Unavailable(f"no free port in {self.spec.compute_port}..+{MAX_PORT_SCAN}")

    def _remove(self, comp: ComponentState, why: str) -> None:
        self.driver.stop(comp.name, self.policy.stop_grace_s)
        self.state.components.remove(comp)
        self._rt.pop(comp.name, None)
        self._dirty = True
        self._event(f"{comp.name}: removed ({why})")

    # -- observation ---------------------------------------------------------------------

    def rt(self, name: str) -> _Runtime:
        return self._rt.setdefault(name, _Runtime())

    def _poll_statuses(self) -> None:
        now = self.clock()
        polls: list[tuple[ComponentState, _Runtime]] = []
        for comp in self.state.components:
            if comp.kind != "compute":
                continue
            rt = self.rt(comp.name)
            if not self.driver.alive(comp.name):
                rt.status = None
                continue
            if rt.poll is None:
                rt.poll = self._pool.submit(self.services.node_status, comp.address)
                rt.poll_sent_at = now
            polls.append((comp, rt))
        futures = [rt.poll for _, rt in polls if rt.poll is not None]
        concurrent.futures.wait(futures, timeout=self.policy.status_timeout_s)
        for comp, rt in polls:
            if rt.poll is None:
                continue
            if not rt.poll.done():
                # Slow, not unreachable: keep the last status; but a poll that never returns
                # is a hung process (its thread is freed once the process is killed).
                if now - rt.poll_sent_at > self.policy.status_hang_s:
                    rt.status = None
                    if rt.unreachable_since is None:
                        rt.unreachable_since = rt.poll_sent_at
                continue
            try:
                status = rt.poll.result()
            except Exception:  # noqa: BLE001
                status = None
            rt.poll = None
            rt.status = status
            if status is None:
                if rt.unreachable_since is None:
                    rt.unreachable_since = now
            else:
                rt.unreachable_since = None
                if status.get("role") in ("primary", "replica") and comp.state == "starting":
                    self._running(comp)

    def _check_liveness(self) -> None:
        """SIGKILL and restart a running log store node, page server or proxy whose liveness
        probes went unanswered for ``liveness_hang_s`` (control/liveness.py: never waits)."""
        targets = [Target(c.name, c.kind, c.address, self.rt(c.name).started_at)
                   for c in self.state.components
                   if c.kind in LIVENESS_KINDS and c.state == "running" and self.driver.alive(c.name)]
        recovering = {c.kind for c in self.state.components if c.state != "running"}
        for name, why in self.liveness.check(targets, recovering):
            comp = self.state.component(name)
            if comp is None:
                continue
            self._event(f"{name}: {why}; killing and restarting it")
            self.driver.kill(name)
            comp.detail = why
            self._schedule_restart(comp, crashed=True)

    def _primary_dead(self, comp: ComponentState) -> str:
        """Why this primary counts as dead ("" if it does not)."""
        if comp.state in ("pending", "failed"):
            return ""
        rt = self.rt(comp.name)
        if not self.driver.alive(comp.name):
            return "process gone" if comp.state in ("running", "starting", "backoff") else ""
        if rt.status is not None and rt.status.get("state") == "fenced":
            return "fenced"
        if (comp.state == "running" and rt.unreachable_since is not None
                and self.clock() - rt.unreachable_since > self.policy.dead_after_s):
            return f"unreachable for {self.clock() - rt.unreachable_since:.1f}s"
        return ""

    # -- failover ------------------------------------------------------------------------

    def best_replica(self, timeline: str) -> ComponentState | None:
        """The live, reachable replica with the highest replay LSN."""
        best: tuple[int, ComponentState] | None = None
        for c in self.computes(timeline):
            if c.role != "replica" or not self.driver.alive(c.name):
                continue
            status = self.rt(c.name).status
            if status is None or status.get("state") in ("fenced", "no-quorum"):
                continue
            lsn = int(status.get("replay_lsn") or 0)
            if best is None or lsn > best[0]:
                best = (lsn, c)
        return best[1] if best else None

    def _check_primary(self, timeline: str) -> None:
        primary = self.primary(timeline)
        if primary is None:
            return
        why = self._primary_dead(primary)
        if not why:
            return
        candidate = self.best_replica(timeline)
        if candidate is None:
            if self.driver.alive(primary.name):
                self._event(f"{primary.name}: primary {why}; no replica, restarting it")
                self.driver.kill(primary.name)
            return  # _converge restarts the slot as a fresh primary
        self._event(f"{primary.name}: primary {why}; promoting {candidate.name}")
        self._promote(primary, candidate)

    def _promote(self, old: ComponentState, new: ComponentState, planned: bool = False) -> None:
        """Promote ``new``; ``old`` becomes a replica. A dead primary is killed first (it
        cannot even try to write; the new term fences it in the log anyway); a planned
        failover promotes first, so a refused promotion leaves the primary serving."""
        if not planned and self.driver.alive(old.name):
            self.driver.kill(old.name)
        try:
            self.services.promote(new.address)
        except ControlError as exc:
            self._event(f"{new.name}: promotion failed: {exc}")
            new.detail = str(exc)
            self._dirty = True
            if planned:
                raise
            return
        new.role = "primary"
        new.detail = ""
        old.role = "replica"
        old.detail = "was primary; back as a replica"
        self.rt(new.name).status = None
        self._dirty = True
        self._event(f"{new.name}: promoted to primary of {new.timeline}")

    def failover(self, timeline: str | None = None) -> dict[str, Any]:
        """Planned failover: promote the most caught-up replica, demote the primary."""
        with self.lock:
            timeline = timeline or self.spec.timeline
            primary = self.primary(timeline)
            candidate = self.best_replica(timeline)
            if primary is None or candidate is None:
                raise Conflict(f"no live replica of {timeline!r} to fail over to")
            self._event(f"{primary.name}: planned failover to {candidate.name}")
            self._promote(primary, candidate, planned=True)
            # The old primary (fenced by the new term) restarts as a replica right away: a
            # planned move, not a crash.
            self._schedule_restart(primary, crashed=False)
            self._save_if_dirty()
            return {"primary": candidate.name, "previous": primary.name,
                    "dsn": cluster_dsn(self.cdir, self.spec, candidate.address)}

    # -- convergence ---------------------------------------------------------------------

    def _wanted(self, comp: ComponentState) -> bool:
        if comp.kind == "logstore":
            return self.stage.logstore
        if comp.kind == "pageserver":
            return self.stage.pageserver
        if comp.kind == "proxy":
            return self.stage.replicas  # last: it needs computes to route to
        if comp.role == "primary" and comp.timeline == self.spec.timeline:
            return self.stage.primary
        return self.stage.replicas

    def _converge(self, comp: ComponentState) -> None:
        if comp.state == "failed" or not self._wanted(comp):
            return
        rt = self.rt(comp.name)
        now = self.clock()
        if self.driver.alive(comp.name):
            if comp.state == "starting":
                if comp.kind != "compute" and self.services.accepts_connections(comp.address):
                    self._running(comp)
                elif now - rt.started_at > self.policy.start_timeout_s:
                    self._event(f"{comp.name}: not up after {self.policy.start_timeout_s:.0f}s")
                    self.driver.kill(comp.name)
                    self._schedule_restart(comp, crashed=True)
            elif (comp.state == "running" and comp.restarts
                  and now - rt.started_at > self.policy.stable_s):
                comp.restarts = 0
                self._dirty = True
            return
        if comp.state in ("starting", "running"):
            detail = self.driver.exit_detail(comp.name) or "exited"
            self._event(f"{comp.name}: died ({detail})")
            comp.detail = detail
            self._schedule_restart(comp, crashed=True)
        if comp.state == "backoff" and now < rt.next_start_at:
            return
        if comp.state in ("pending", "stopped", "backoff"):
            self._start(comp)

    def _schedule_restart(self, comp: ComponentState, crashed: bool) -> None:
        rt = self.rt(comp.name)
        if crashed:
            comp.restarts += 1
            if comp.restarts > self.policy.max_restarts:
                comp.state = "failed"
                comp.detail = (f"gave up after {self.policy.max_restarts} restarts "
                               f"(last: {comp.detail or 'exited'})")
                comp.pid = 0
                self._event(f"{comp.name}: failed ({comp.detail})")
                self._dirty = True
                return
            delay = 0.0 if comp.restarts == 1 else min(
                self.policy.backoff_max_s,
                self.policy.backoff_base_s * 2 ** (comp.restarts - 2))
        else:
            delay = 0.0
            self.driver.stop(comp.name, self.policy.stop_grace_s)
        rt.next_start_at = self.clock() + delay
        rt.status = None
        rt.unreachable_since = None
        comp.state = "backoff"
        comp.pid = 0
        self._dirty = True

    def _start(self, comp: ComponentState) -> None:
        try:
            comp.pid = self.driver.start(self.process_spec(comp))
        except Exception as exc:  # noqa: BLE001 - a start failure is a crash, not a daemon bug
            comp.detail = f"start failed: {exc}"
            comp.state = "starting"
            self._schedule_restart(comp, crashed=True)
            return
        rt = self.rt(comp.name)
        rt.started_at = self.clock()
        rt.status = None
        rt.unreachable_since = None
        comp.state = "starting"
        self._dirty = True
        self._event(f"{comp.name}: started (pid {comp.pid}, {comp.role or comp.kind})")

    def adopted(self, comp: ComponentState) -> None:
        """``comp`` runs under an earlier daemon's pid, now tracked by the driver: its
        runtime starts now (start timeout, stable time, liveness) and a log store node's logs
        are checked at once."""
        rt = self.rt(comp.name)
        rt.started_at = self.clock()
        if comp.kind == "logstore":
            rt.next_log_repair_at = self.clock()
        self._event(f"{comp.name}: adopted (pid {comp.pid}, {comp.role or comp.kind}, {comp.state})")

    def _running(self, comp: ComponentState) -> None:
        if comp.kind == "logstore":
            self.rt(comp.name).next_log_repair_at = self.clock()  # a (re)start: repair now
        comp.state = "running"
        if comp.detail and not comp.detail.startswith("was primary"):
            comp.detail = ""
        self._dirty = True

    # -- log store membership ------------------------------------------------------------

    def known_logs(self) -> list[tuple[str, str, int]]:
        """(tenant, log, start LSN) of every log the cluster has: main and each branch."""
        tenant = self.spec.tenant
        return [(tenant, self.spec.timeline, 0)] + [
            (tenant, b.name, b.ancestor_lsn) for b in self.state.branches]

    def _repair_logs(self) -> None:
        """(Re)issue create_log (idempotent) for every known log on each log store node that
        (re)started, and on every node every LOG_RESYNC_INTERVAL_S: create_log needs only a
        majority, so a node that was down (or got a new disk) would otherwise never host the
        log again; once it does, the proposer brings it up to date. On the status pool, so a
        hung node never stalls the reconciler."""
        if not self.state.bootstrapped:
            return  # the bootstrap creates the main log once every node runs
        now = self.clock()
        for comp in self.state.components:
            if comp.kind != "logstore":
                continue
            rt = self.rt(comp.name)
            if rt.log_repair is not None:
                if not rt.log_repair.done():
                    continue
                try:
                    rt.log_repair.result()
                    restarted = rt.started_at != rt.log_repair_for
                    rt.next_log_repair_at = now if restarted else now + LOG_RESYNC_INTERVAL_S
                except Exception as exc:  # noqa: BLE001 - retried below
                    self._event(f"{comp.name}: re-creating logs failed: {exc}")
                    rt.next_log_repair_at = now + LOG_REPAIR_RETRY_S
                rt.log_repair = None
            if (comp.state != "running" or not self.driver.alive(comp.name)
                    or rt.next_log_repair_at is None or now < rt.next_log_repair_at):
                continue
            rt.log_repair_for = rt.started_at
            rt.log_repair = self._pool.submit(self._ensure_logs, comp.address, self.known_logs())

    def _ensure_logs(self, address: str, logs: list[tuple[str, str, int]]) -> None:
        for tenant, name, start in logs:
            self.services.ensure_log(address, tenant, name, start)

    def process_spec(self, comp: ComponentState) -> ProcessSpec:
        spec = self.spec
        strata = [self.python, "-m", "strata"]
        logstores = ",".join(spec.logstore_addresses())
        if comp.kind == "logstore":
            argv = [*strata, "logstore", "--id", str(comp.node_id), "--data-dir", comp.data_dir,
                    "--listen", comp.address, "--object-store", spec.object_store_url]
            fast = spec.logstore_fast_address(comp.node_id)
            if fast and os.environ.get("STRATA_LOGSTORE_FAST_APPEND", "on") != "off":
                argv += ["--fast-append-listen", fast]
        elif comp.kind == "pageserver":
            argv = [*strata, "pageserver", "--listen", comp.address, "--data-dir", comp.data_dir,
                    "--object-store", spec.object_store_url, "--logstore", logstores]
        elif comp.kind == "proxy":
            argv = [*strata, "proxy", *self._proxy_args(comp)]
        else:
            argv = [*strata, "compute", "--role", comp.role, "--listen", comp.address,
                    "--logstore", logstores, "--pageserver", spec.pageserver_address(),
                    "--tenant", spec.tenant, "--timeline", comp.timeline,
                    "--node-name", comp.name,
                    "--proxy-secret-file", str(self.cdir.path / PROXY_SECRET_FILE)]
            if spec.auth == "scram":
                argv += ["--auth", "scram", "--password-file", str(self.users.path)]
            if self.socket_dir is not None:
                argv += ["--unix-socket-dir", self.socket_dir]
        env: dict[str, str] = {}
        if comp.kind == "compute":
            env.update(self._local_log_sockets())
        if comp.kind != "proxy":
            argv += self._tls_args(comp)
        return ProcessSpec(name=comp.name, argv=argv, log_file=self.cdir.log_file(comp.name),
                           env=env, cwd=str(Path(__file__).resolve().parent.parent))

    def _local_log_sockets(self) -> dict[str, str]:
        """A compute's environment naming the acceptors' fast append Unix sockets (decision
        0018), when they run as processes of this machine (the local driver) with the fast
        append stream: its primary then appends over them, without TLS. Empty otherwise
        (Kubernetes: the acceptors are other pods and keep mutual TLS)."""
        # import here: the log store client (grpc) loads only when a compute is started
        from logstore.client import UNIX_SOCKETS_ENV as LOG_SOCKETS_ENV
        from logstore.client import unix_socket_path

        spec = self.spec
        if (not isinstance(self.driver, LocalProcessDriver) or not spec.logstore_fast_port
                or os.environ.get("STRATA_LOGSTORE_FAST_APPEND", "on") == "off"
                or os.environ.get("STRATA_LOGSTORE_FAST_APPEND_UNIX", "on").lower() in ("off", "0", "false")):
            return {}
        told = []
        for comp in self.state.components:
            if comp.kind == "logstore" and comp.data_dir:
                path = unix_socket_path(comp.data_dir)
                if path is not None:
                    told.append(f"{comp.address}={path}")
        return {LOG_SOCKETS_ENV: ",".join(sorted(told))} if told else {}

    def _proxy_args(self, comp: ComponentState) -> list[str]:
        from strata.tls import ensure_server_cert

        cert, key = ensure_server_cert(self.cdir.path / "tls" / "proxy-clients", "strata proxy",
                                       hosts=[self.spec.host])
        return ["--listen", comp.address, "--topology", str(self.cdir.path / TOPOLOGY_FILE),
                "--users-file", str(self.users.path), "--auth", self.spec.auth,
                "--proxy-secret-file", str(self.cdir.path / PROXY_SECRET_FILE),
                "--tls-cert", str(cert), "--tls-key", str(key),
                "--replica-pack", str(self.spec.replica_pack),
                *(["--compute-socket-dir", self.socket_dir, "--unix-socket-dir", self.socket_dir]
                  if self.socket_dir is not None else [])]

    @functools.cached_property
    def socket_dir(self) -> str | None:
        """Where local computes and the proxy listen on Unix sockets (``ClusterDir.socket_dir``)."""
        directory = self.cdir.socket_dir()
        if directory is None and os.environ.get(UNIX_SOCKETS_ENV, "on") != "off":
            log.warning("computes and the proxy stay on TCP only: %s/run is too long for a "
                        "Unix socket path", self.cdir.path)
        return directory

    def topology(self) -> dict[str, Any]:
        """The main timeline's computes as the proxy routes to them: the primary (whatever
        its state: the proxy's own health checks decide) and the running replicas."""
        primary = self.primary(self.spec.timeline)
        replicas = sorted(c.address for c in self.computes(self.spec.timeline)
                          if c.role == "replica" and c.state == "running")
        return {"primary": primary.address if primary else None, "replicas": replicas}

    def _write_topology(self) -> None:
        import json

        text = json.dumps(self.topology(), sort_keys=True) + "\n"
        if text != self._topology:
            write_atomic(self.cdir.path / TOPOLOGY_FILE, text.encode())
            self._topology = text

    def _tls_args(self, comp: ComponentState) -> list[str]:
        if self.tls_dir is None:
            return ["--insecure"]
        from strata.tls import ensure_component

        files = ensure_component(self.tls_dir, comp.name, comp.kind)  # kind names the role
        return ["--internal-tls-dir", str(files.cert.parent)]

    # -- operations for the REST API -----------------------------------------------------

    def set_replicas(self, n: int) -> None:
        if not 0 <= n <= MAX_REPLICAS:
            raise InvalidRequest(f"replicas must be between 0 and {MAX_REPLICAS}, got {n}")
        with self.lock:
            self.spec.replicas = n
            self._dirty = True
            self._event(f"replicas set to {n}")
            self._save_if_dirty()

    def list_branches(self) -> list[dict[str, Any]]:
        with self.lock:
            return [self._branch_json(b) for b in self.state.branches]

    def create_branch(self, name: str, lsn: int | None = None, timestamp_us: int | None = None,
                      timestamp_text: str = "", kind: str = "branch") -> dict[str, Any]:
        with self.lock:
            if name == self.spec.timeline or self.state.branch(name) is not None:
                raise Conflict(f"branch {name!r} already exists")
            if len(self.state.branches) >= MAX_BRANCHES:
                raise Conflict(f"at most {MAX_BRANCHES} branches")
            tenant, main = self.spec.tenant, self.spec.timeline
            if lsn is not None:
                commit = self.services.commit_lsn(tenant, main)
                if lsn > commit:
                    raise InvalidRequest(
                        f"LSN {format_lsn(lsn)} is in the future: {main} is committed up to "
                        f"{format_lsn(commit)}")
            elif timestamp_us is None:
                lsn = self.services.commit_lsn(tenant, main)
            start = self.services.create_timeline(
                tenant, name, ancestor=main, ancestor_lsn=lsn or 0,
                ancestor_timestamp_us=timestamp_us or 0)
            try:
                self.services.create_log(tenant, name, start)
            except ControlError:
                self.services.delete_timeline(tenant, name)
                raise
            branch = BranchState(name=name, ancestor=main, ancestor_lsn=start, kind=kind,
                                 created_at=datetime.now(UTC).isoformat(timespec="seconds"),
                                 timestamp=timestamp_text)
            self.state.branches.append(branch)
            self._dirty = True
            self._event(f"branch {name}: created at {format_lsn(start)}")
            self._shape()
            self._save_if_dirty()
            return self._branch_json(branch)

    def delete_branch(self, name: str) -> None:
        with self.lock:
            branch = self.state.branch(name)
            if branch is None:
                if name == self.spec.timeline:
                    raise Conflict(f"the main timeline {name!r} cannot be deleted")
                raise NotFound(f"no branch named {name!r}")
            for comp in self.computes(name):
                self._remove(comp, f"branch {name} deleted")
            self.services.delete_log(self.spec.tenant, name)
            self.services.delete_timeline(self.spec.tenant, name)
            self.state.branches.remove(branch)
            self._dirty = True
            self._event(f"branch {name}: deleted")
            self._save_if_dirty()

    def _branch_json(self, b: BranchState) -> dict[str, Any]:
        out = asdict(b)
        comp = self.primary(b.name)
        out["ancestor_lsn_text"] = format_lsn(b.ancestor_lsn)
        out["dsn"] = cluster_dsn(self.cdir, self.spec, comp.address) if comp else ""
        out["state"] = comp.state if comp else "pending"
        return out

    def status(self) -> dict[str, Any]:
        with self.lock:
            comps: list[dict[str, Any]] = []
            for c in self.state.components:
                d = asdict(c)
                d.pop("node_id")
                if c.kind == "compute":
                    d.update(self._compute_view(c))
                elif (unanswered := self.liveness.unanswered_s(c.name)) is not None:
                    d["node_state"] = "unanswering"
                    d["detail"] = (f"liveness probes unanswered for {unanswered:.1f}s (restarted "
                                   f"at {self.policy.liveness_hang_s:g}s)")
                comps.append(d)
            primary = self.primary(self.spec.timeline)
            return {
                "phase": self.state.phase,
                "detail": self.state.detail,
                "dir": str(self.cdir.path),
                "tenant": self.spec.tenant,
                "timeline": self.spec.timeline,
                "replicas": self.spec.replicas,
                "rest_address": self.state.rest_address,
                "dsn": cluster_dsn(self.cdir, self.spec),
                "local_dsn": local_dsn(self.cdir, self.spec),
                "primary_dsn": cluster_dsn(self.cdir, self.spec, primary.address) if primary else "",
                "components": comps,
                "branches": [self._branch_json(b) for b in self.state.branches],
            }

    def _compute_view(self, c: ComponentState) -> dict[str, Any]:
        status = self.rt(c.name).status or {}
        lsn = _node_lsn(c.role, status)
        lag = 0
        primary = self.primary(c.timeline)
        if c.role == "replica" and primary is not None:
            plsn = _node_lsn("primary", self.rt(primary.name).status or {})
            lag = max(0, plsn - lsn) if plsn else 0
        return {"dsn": cluster_dsn(self.cdir, self.spec, c.address), "term": int(status.get("term") or 0), "lsn": lsn,
                "lag_bytes": lag, "node_state": str(status.get("state", ""))}

    # -- the proxy's view (the REST API's /v1/proxy/...) -------------------------------

    def proxy_show(self, what: str) -> list[dict[str, Any]]:
        """The proxy's pools or servers, asked over SQL (outside the lock: it may wait)."""
        with self.lock:
            proxy = self.state.component("proxy-1")
            if proxy is None or proxy.state != "running":
                raise Unavailable("the proxy is not running")
            address = proxy.address
        return self.services.proxy_show(address, what)

    # -- users (the REST API's /v1/users) -------------------------------------------------

    def list_users(self) -> list[str]:
        return self.users.names()

    def create_user(self, name: str, password: str) -> None:
        self.users.create(name, password)
        self._event(f"user {name}: created")

    def delete_user(self, name: str) -> None:
        self.users.delete(name)
        self._event(f"user {name}: deleted")

    # -- helpers -------------------------------------------------------------------------

    def _event(self, text: str) -> None:
        log.info("%s", text)
        self.events.append(text)
        del self.events[:-200]

    def _save_if_dirty(self) -> None:
        if self._dirty:
            self._dirty = False
            self.cdir.save(self.state)


def _node_lsn(role: str, status: dict[str, Any]) -> int:
    key = "durable_lsn" if role == "primary" else "replay_lsn"
    return int(status.get(key) or 0)


def _index(name: str) -> int:
    tail = name.rpartition("-")[2]
    return int(tail) if tail.isdigit() else 0


def format_lsn(lsn: int) -> str:
    """PostgreSQL's LSN text form: high/low 32 bits in hex."""
    return f"{lsn >> 32:X}/{lsn & 0xFFFFFFFF:X}"


def parse_lsn(text: str | int) -> int:
    """An LSN from an integer or PostgreSQL's ``X/Y`` hex form; InvalidRequest if neither."""
    if isinstance(text, int):
        if text < 0:
            raise InvalidRequest(f"LSN must not be negative, got {text}")
        return text
    s = text.strip()
    try:
        if "/" in s:
            hi, lo = s.split("/", 1)
            value = (int(hi, 16) << 32) | int(lo, 16)
            if int(lo, 16) > 0xFFFFFFFF:
                raise ValueError
            return value
        value = int(s, 0)
    except ValueError:
        raise InvalidRequest(f"not an LSN: {text!r} (an integer or X/Y in hex)") from None
    if value < 0:
        raise InvalidRequest(f"LSN must not be negative, got {text!r}")
    return value


def parse_timestamp_us(text: str) -> int:
    """Microseconds since the epoch from an ISO 8601 time (no zone: UTC)."""
    try:
        when = datetime.fromisoformat(text.strip())
    except ValueError:
        raise InvalidRequest(f"not an ISO 8601 timestamp: {text!r}") from None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    us = int(when.timestamp() * 1_000_000)
    if us <= 0:
        raise InvalidRequest(f"timestamp before 1970: {text!r}")
    if us > int(time.time() * 1_000_000):
        raise InvalidRequest(f"timestamp {text!r} is in the future")
    return us


