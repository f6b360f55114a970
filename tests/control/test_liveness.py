"""Liveness probes of log store nodes, the page server and the proxy (control/liveness.py):
the reconciler's decisions with fakes and a fake clock, and the real probes against small
servers of this process."""

from __future__ import annotations

import concurrent.futures
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import grpc
import pytest

from control import k8s_render
from control.liveness import Liveness, ProbeFailed, Prober, Target, probe_postgres
from control.probe import main as probe_main
from tests.control.test_reconciler import World
from tests.support import REPO

KIND_OF = {"logstore-2": "logstore", "pageserver-1": "pageserver", "proxy-1": "proxy"}


def steps(w: World, n: int, dt: float = 0.5) -> None:
    """Reconciler steps; after each, the probes that can finish get a moment to (their
    threads run in real time, the clock is fake)."""
    for _ in range(n):
        w.rec.step()
        concurrent.futures.wait(w.rec.liveness.pending(), timeout=0.02)
        w.clock.now += dt


def steps_until_a_kill(w: World, most: int = 20) -> None:
    """Reconciler steps, one at a time, until the driver has killed something (at most ``most``)."""
    for _ in range(most):
        steps(w, 1)
        if w.driver.kills:
            return


def world(tmp_path: Path, **policy: float) -> World:
    w = World(tmp_path, replicas=1, **policy)
    steps(w, 4)
    assert all(c.state == "running" for c in w.state.components), w.state.components
    return w


@pytest.mark.parametrize("name", sorted(KIND_OF))
def test_hung_component_is_killed_and_restarted_after_liveness_hang(tmp_path: Path, name: str) -> None:
    """A frozen process keeps its pid and its listening socket: alive and accepting forever.
    Its probe never answers; once unanswered for liveness_hang_s it is SIGKILLed and
    restarted by the usual restart path."""
    w = world(tmp_path, liveness_hang_s=10.0)
    w.services.hung.add(name)
    try:
        steps(w, 18)  # 9 s: unanswered, not yet hung
        assert w.driver.kills == [] and w.comp(name).state == "running"
        view = next(c for c in w.rec.status()["components"] if c["name"] == name)
        assert view["node_state"] == "unanswering"
        assert view["detail"].startswith("liveness probes unanswered for ")
        assert 8.0 <= float(view["detail"].split()[4].rstrip("s")) <= 9.5
        for _ in range(6):  # up to 12 s
            steps(w, 1)
            if w.driver.kills:
                break
        assert w.driver.kills == [name]
        w.services.hung.discard(name)  # the new process answers
        assert any(e.startswith(f"{name}: hung: no answer to liveness probes for 1")
                   for e in w.rec.events), w.rec.events
        assert w.comp(name).restarts == 1  # a crash for the backoff and max_restarts
        steps(w, 4)
        assert w.driver.starts.count(name) == 2 and w.comp(name).state == "running"
        steps(w, 40)  # 20 s more: the new process answers and stays
        assert w.driver.kills == [name]
        assert all(c.state == "running" for c in w.state.components)
        assert {k for k, _ in w.services.probes} == {"logstore", "pageserver", "proxy"}
        assert not any(k == "compute" for k, _ in w.services.probes)
    finally:
        w.services.unhung.set()


def test_slow_but_answering_components_are_not_killed(tmp_path: Path) -> None:
    """A busy node misses some deadlines, or answers late but within its deadline: each
    answer starts the count again, so it is never killed."""
    w = world(tmp_path, liveness_hang_s=10.0)
    # logstore-1: three probes in four miss their deadline (up to ~8 s without an answer)
    w.services.probe_answers["logstore-1"] = [False, False, False, True] * 10
    gate = threading.Event()
    w.services.probe_gates["pageserver-1"] = gate  # each probe answers only when let through
    for _ in range(12):
        steps(w, 3)  # 1.5 s pending: within the probe's deadline
        gate.set()
        concurrent.futures.wait(w.rec.liveness.pending(), timeout=1.0)
        gate.clear()
    assert w.clock.now - 100.0 >= 18.0
    assert w.driver.kills == []
    assert all(c.state == "running" and c.restarts == 0 for c in w.state.components)
    assert sum(1 for _, n in w.services.probes if n == "logstore-1") >= 12


def test_a_hung_probe_never_stalls_the_loop_and_all_silent_kills_nothing(tmp_path: Path) -> None:
    """Every liveness probe blocks: each step still returns at
    once and the computes are still watched (a crashed primary is failed over). With no
    component answering at all, the observer is suspect, not every component: none is
    killed."""
    w = world(tmp_path, liveness_hang_s=4.0)
    w.services.hung.update(KIND_OF)
    w.services.hung.update({"logstore-1", "logstore-3"})
    try:
        slowest = 0.0
        for _ in range(30):  # 15 s
            t0 = time.monotonic()
            w.rec.step()
            slowest = max(slowest, time.monotonic() - t0)
            w.clock.now += 0.5
        assert slowest < 0.5, slowest
        assert w.driver.kills == []
        w.driver.crash("compute-1")
        steps(w, 2, dt=0.0)
        assert w.services.promoted == ["compute-2"]
    finally:
        w.services.unhung.set()


def test_liveness_off_with_zero_hang(tmp_path: Path) -> None:
    w = world(tmp_path, liveness_hang_s=0.0)
    w.services.hung.add("pageserver-1")
    try:
        steps(w, 40)
        assert w.driver.kills == [] and w.services.probes == []
    finally:
        w.services.unhung.set()


def test_pending_probe_within_its_deadline_gets_its_chance() -> None:
    """After a stall of everything (a paused machine), the probes in flight missed their
    deadlines together; the next probe of each answers at once. A component is not judged
    while its latest probe is still within its deadline."""
    now = [0.0]
    gates = {n: threading.Event() for n in ("a", "b")}
    fail = {"a": True, "b": True}

    def probe(kind: str, address: str, timeout_s: float) -> None:
        if fail[address]:
            raise ProbeFailed("deadline")
        gates[address].wait(5)

    live = Liveness(probe, lambda: now[0], interval_s=1.0, timeout_s=2.0, hang_s=10.0)
    targets = [Target(n, "logstore", n, 0.0) for n in ("a", "b")]
    try:
        for _ in range(25):  # both silent for 12 s
            assert live.check(targets) == []
            concurrent.futures.wait(live.pending(), timeout=0.05)
            now[0] += 0.5
        fail.update(a=False, b=False)
        gates["b"].set()  # b answers its next probe at once, a's takes a while
        for _ in range(4):  # 2 s: a's new probe is pending within its deadline
            assert live.check(targets) == []
            concurrent.futures.wait(live.pending(), timeout=0.05)
            now[0] += 0.5
        assert live.unanswered_s("b") is None and live.unanswered_s("a") is not None
        assert live.unanswered_s("a") >= 12.0  # type: ignore[operator]
        gates["a"].set()
        concurrent.futures.wait(live.pending(), timeout=1.0)
        now[0] += 0.5
        assert live.check(targets) == [] and live.unanswered_s("a") is None
    finally:
        for g in gates.values():
            g.set()
        live.close()


# -- the real probes -----------------------------------------------------------------------


@pytest.fixture
def listener() -> Iterator[socket.socket]:
    """A listening socket nobody accepts on: the kernel completes handshakes (a frozen
    process's socket)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen(8)
        yield s


def test_postgres_probe(listener: socket.socket) -> None:
    frozen = f"127.0.0.1:{listener.getsockname()[1]}"
    t0 = time.monotonic()
    with pytest.raises(ProbeFailed):
        probe_postgres(frozen, 0.3)
    assert 0.25 <= time.monotonic() - t0 < 2.0
    with socket.socket() as gone:
        gone.bind(("127.0.0.1", 0))
        port = gone.getsockname()[1]
    with pytest.raises(ProbeFailed):
        probe_postgres(f"127.0.0.1:{port}", 0.3)  # refused

    with socket.socket() as srv:
        srv.bind(("127.0.0.1", 0))
        srv.listen(1)
        got: list[bytes] = []

        def answer() -> None:
            conn, _ = srv.accept()
            with conn:
                got.append(conn.recv(8))
                conn.sendall(b"N")

        t = threading.Thread(target=answer)
        t.start()
        probe_postgres(f"127.0.0.1:{srv.getsockname()[1]}", 2.0)
        t.join(5)
    assert got == [b"\x00\x00\x00\x08\x04\xd2\x16\x30"]  # GSSENCRequest


class _Status(grpc.GenericRpcHandler):
    """A LogStore / PageServer whose Status answers, refuses (an error status is an
    answer too) or hangs."""

    def __init__(self) -> None:
        self.mode = "answer"
        self.release = threading.Event()
        self.calls: list[str] = []

    def service(self, details: grpc.HandlerCallDetails) -> grpc.RpcMethodHandler | None:
        method = details.method  # type: ignore[attr-defined]
        if not method.endswith("/Status"):
            return None

        def status(request: bytes, context: grpc.ServicerContext) -> bytes:
            self.calls.append(method)
            if self.mode == "refuse":
                context.abort(grpc.StatusCode.PERMISSION_DENIED, "role")
            if self.mode == "hang":
                self.release.wait(10)
            return b""

        return grpc.unary_unary_rpc_method_handler(status)


@pytest.mark.parametrize("kind", ["logstore", "pageserver"])
def test_grpc_status_probe(kind: str) -> None:
    handler = _Status()
    server = grpc.server(concurrent.futures.ThreadPoolExecutor(max_workers=4))
    server.add_generic_rpc_handlers((handler,))
    port = server.add_insecure_port("127.0.0.1:0")
    server.start()
    prober = Prober()
    address = f"127.0.0.1:{port}"
    try:
        prober(kind, address, 2.0)
        handler.mode = "refuse"
        prober(kind, address, 2.0)
        handler.mode = "hang"
        t0 = time.monotonic()
        with pytest.raises(ProbeFailed):
            prober(kind, address, 0.3)
        assert time.monotonic() - t0 < 2.0
        handler.release.set()
        handler.mode = "answer"
        prober(kind, address, 2.0)  # on a fresh channel after the failure
        service = "strata.logstore.v1.LogStore" if kind == "logstore" else "strata.pageserver.PageServer"
        assert {c.rsplit("/", 1)[0].lstrip("/") for c in handler.calls} == {service}
    finally:
        handler.release.set()
        server.stop(0)
        prober.close()
    with pytest.raises(ProbeFailed):
        Prober()(kind, address, 0.5)  # nothing listens any more


# -- Kubernetes: the kubelet runs the same probe -----------------------------------------


def test_rendered_pods_have_liveness_probes() -> None:
    """Log store, page server and proxy containers get a livenessProbe running
    ``control.probe`` against their own port (a TCP probe cannot tell a frozen process:
    the kernel completes the handshake), judged only once the startup probe saw the port
    open. Computes get none: the control plane's status poll decides about them."""
    objects = k8s_render.render("demo", "ns", {"objectStore": {"bucket": "b-1"}})
    containers = {o["metadata"]["name"]: o["spec"]["template"]["spec"]["containers"][0]
                  for o in objects if o["kind"] in ("StatefulSet", "Deployment")}
    ports = {"demo-logstore": ("logstore", k8s_render.LOGSTORE_PORT),
             "demo-pageserver": ("pageserver", k8s_render.PAGESERVER_PORT),
             "demo-proxy": ("proxy", k8s_render.PROXY_PORT)}
    assert set(containers) == set(ports)
    for name, (kind, port) in ports.items():
        c = containers[name]
        live = c["livenessProbe"]
        argv = live["exec"]["command"]
        assert argv[:3] == ["python3", "-m", "control.probe"]
        assert argv[3:5] == [kind, f"127.0.0.1:{port}"]
        assert ("--tls-dir" in argv) == (kind != "proxy")
        if kind != "proxy":
            assert argv[argv.index("--tls-dir") + 1] == k8s_render.INTERNAL_TLS_DIR
        timeout = float(argv[argv.index("--timeout") + 1])
        assert timeout < live["timeoutSeconds"]  # the kubelet's bound includes interpreter start
        assert live["periodSeconds"] * live["failureThreshold"] >= 30  # generous: not a busy node
        assert c["startupProbe"]["tcpSocket"]["port"] == port
        assert c["readinessProbe"]["tcpSocket"]["port"] == port
    pods = [o for o in objects if o["kind"] == "Pod"]
    assert pods and all("livenessProbe" not in p["spec"]["containers"][0] for p in pods)


def test_probe_command(listener: socket.socket) -> None:
    """``python3 -m control.probe``: exit 0 on an answer, 1 on none (a frozen process)."""
    frozen = f"127.0.0.1:{listener.getsockname()[1]}"
    assert probe_main(["proxy", frozen, "--timeout", "0.3"]) == 1
    handler = _Status()
    server = grpc.server(concurrent.futures.ThreadPoolExecutor(max_workers=2))
    server.add_generic_rpc_handlers((handler,))
    port = server.add_insecure_port("127.0.0.1:0")
    server.start()
    try:
        assert probe_main(["pageserver", f"127.0.0.1:{port}", "--timeout", "2"]) == 0
        handler.mode = "hang"
        assert probe_main(["logstore", f"127.0.0.1:{port}", "--timeout", "0.3"]) == 1
    finally:
        handler.release.set()
        server.stop(0)
    proc = subprocess.run([sys.executable, "-m", "control.probe", "proxy", frozen, "--timeout", "0.3"],
                          cwd=REPO, capture_output=True, text=True, timeout=30)
    assert proc.returncode == 1 and "no answer" in proc.stderr


def test_a_hung_component_that_cannot_die_yet_is_replaced_once_gone(tmp_path: Path) -> None:
    """A process in uninterruptible sleep outlives its SIGKILL for a while: the reconciler
    neither waits for it nor starts a second copy beside it; the replacement starts once it
    is gone."""
    w = world(tmp_path, liveness_hang_s=4.0)
    w.driver.unkillable.add("logstore-3")
    w.services.hung.add("logstore-3")
    try:
        steps_until_a_kill(w)
        assert w.driver.kills == ["logstore-3"]
        w.services.hung.discard("logstore-3")
        steps(w, 10)
        assert w.driver.starts.count("logstore-3") == 1 and w.comp("logstore-3").state == "backoff"
        w.driver.unkillable.discard("logstore-3")
        w.driver.crash("logstore-3")  # the kernel let it go
        steps(w, 3)
        assert w.driver.starts.count("logstore-3") == 2 and w.comp("logstore-3").state == "running"
    finally:
        w.services.unhung.set()


def test_log_store_nodes_are_killed_one_at_a_time(tmp_path: Path) -> None:
    """Two log store nodes silent at once (one disk stalled under both, or both frozen):
    one is killed; the other only once the first is running again, so liveness never takes
    down more than one node of the quorum. Both frozen ones are still replaced."""
    w = world(tmp_path, liveness_hang_s=4.0)
    w.services.hung.update({"logstore-1", "logstore-3"})
    w.driver.unkillable.add("logstore-1")  # the first one killed takes a while to die
    w.driver.unkillable.add("logstore-3")
    try:
        steps_until_a_kill(w)
        assert len(w.driver.kills) == 1
        first = w.driver.kills[0]
        other = ({"logstore-1", "logstore-3"} - {first}).pop()
        w.services.hung.discard(first)
        steps(w, 10)  # 5 s: the first is still dying; the other is hung but waits
        assert w.driver.kills == [first] and w.comp(other).state == "running"
        w.driver.unkillable.discard(first)
        w.driver.crash(first)
        for _ in range(10):
            steps(w, 1)
            if len(w.driver.kills) == 2:
                break
        assert w.driver.kills == [first, other]
        assert w.comp(first).state == "running"  # back before the second was killed
    finally:
        w.services.unhung.set()
