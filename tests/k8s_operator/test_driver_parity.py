"""One reconciler, two drivers: the same spec changes give the same decisions with the
local fake driver (tests/control/fakes.py) and with KubernetesDriver against a Kubernetes
API (kmock) on 127.0.0.1."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from control.driver import ProcessSpec
from control.k8s_driver import KubernetesDriver, api_client
from control.reconciler import Policy, Reconciler
from control.spec import ClusterSpec
from control.state import ClusterDir, ClusterState
from tests.control.fakes import FakeDriver, FakeServices
from tests.k8s_operator.kmock_server import KmockServer, kmock_server

NS = "ns"
CLUSTER = "demo"


class PodView:
    """What FakeServices needs of a driver (``running``, ``role_of``), read from the pods
    in the API server: the reconciler under test only talks to KubernetesDriver."""

    def __init__(self, srv: KmockServer) -> None:
        self.srv = srv

    @property
    def running(self) -> dict[str, ProcessSpec]:
        out = {}
        for pod in self.srv.objects("v1/pods", NS).values():
            if pod.get("status", {}).get("phase") in ("Failed", "Succeeded"):
                continue
            name = pod["metadata"]["labels"]["strata.dev/component-name"]
            argv = [a.replace("0.0.0.0:", "127.0.0.1:") for a in pod["spec"]["containers"][0]["command"]]
            out[name] = ProcessSpec(name=name, argv=argv, log_file=Path("/dev/null"))
        return out

    def role_of(self, name: str) -> str:
        argv = self.running[name].argv
        return argv[argv.index("--role") + 1]


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def crash_pod(srv: KmockServer, name: str) -> None:
    """The container died (as after an OOM kill): the pod is Failed, exit code 137."""
    def patch() -> None:
        srv.emulator.objects["v1/pods", NS, f"{CLUSTER}-{name}"].patch({"status": {
            "phase": "Failed", "containerStatuses": [{
                "name": "compute", "ready": False, "restartCount": 0, "image": "strata",
                "imageID": "", "state": {"terminated": {"exitCode": 137, "reason": "OOMKilled"}}}]}})
    srv.call(patch)


def run_scenario(tmp: Path, driver: Any, view: Any, crash: Any) -> dict[str, Any]:
    cdir = ClusterDir(tmp / "c")
    cdir.create()
    state = ClusterState(spec=ClusterSpec(dir=str(cdir.path), replicas=1, compute_port=56433))
    services = FakeServices(view)
    clock = Clock()
    rec = Reconciler(cdir, state, driver, services, Policy(status_timeout_s=2.0), clock=clock,
                     port_free=lambda host, port: True)

    def steps(n: int, dt: float = 0.5) -> None:
        for _ in range(n):
            rec.step()
            clock.now += dt

    def snapshot() -> dict[str, Any]:
        return {"roles": {c.name: c.role for c in state.components if c.kind == "compute"},
                "states": {c.name: c.state for c in state.components},
                "alive": sorted(c.name for c in state.components if driver.alive(c.name))}

    out: dict[str, Any] = {}
    steps(3)
    out["up"] = snapshot()
    rec.set_replicas(3)
    steps(3)
    out["scaled to 3"] = snapshot()
    services.replay.update({"compute-2": 100, "compute-3": 300, "compute-4": 200})
    steps(1)
    crash("compute-1")
    steps(3)
    out["failover"] = snapshot()
    out["promoted"] = list(services.promoted)
    rec.set_replicas(0)
    steps(3)
    out["scaled to 0"] = snapshot()
    out["events"] = [re.sub(r"pid \d+", "pid N", e) for e in rec.events]
    out["exit details"] = [e for e in out["events"] if ": died (" in e]
    rec.close()
    return out


def test_same_decisions_with_local_and_kubernetes_drivers(tmp_path: Path) -> None:
    fake = FakeDriver()
    local = run_scenario(tmp_path / "local", fake, fake, fake.crash)
    # the scenario does what it says (so an equal result is not two empty ones)
    assert local["up"]["roles"] == {"compute-1": "primary", "compute-2": "replica"}
    assert len(local["scaled to 3"]["roles"]) == 4
    assert local["promoted"] == ["compute-3"]
    assert local["failover"]["roles"]["compute-3"] == "primary"
    assert local["failover"]["roles"]["compute-1"] == "replica"
    assert local["scaled to 0"]["roles"] == {"compute-3": "primary"}

    with kmock_server() as srv:
        driver = KubernetesDriver(api_client(srv.url), NS, CLUSTER, "uid-1")
        k8s = run_scenario(tmp_path / "k8s", driver, PodView(srv), lambda n: crash_pod(srv, n))
        pods = srv.objects("v1/pods", NS)
    # how a death is worded is the driver's own (a signal here, a container status there)
    assert local.pop("exit details") == ["compute-1: died (killed by signal 9)"]
    assert k8s.pop("exit details") == ["compute-1: died (exit code 137 (OOMKilled))"]
    for events in (local["events"], k8s["events"]):
        events[:] = [re.sub(r"died \(.*\)$", "died", e) for e in events]
    assert k8s == local
    # what is left in the API server is exactly what the reconciler wants running
    assert sorted(pods) == sorted(f"{CLUSTER}-{n}" for n in local["scaled to 0"]["alive"])
    primary = pods[f"{CLUSTER}-compute-3"]
    assert primary["metadata"]["ownerReferences"][0]["uid"] == "uid-1"
    cmd = primary["spec"]["containers"][0]["command"]
    assert cmd[:4] == ["python3", "-m", "strata", "compute"]
    assert cmd[cmd.index("--listen") + 1] == "0.0.0.0:56435"

