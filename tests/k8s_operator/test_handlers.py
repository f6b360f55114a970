"""The real kopf handlers (operator/handlers.py, run by KopfRunner) against kmock on
127.0.0.1, with fake services (tests/k8s_operator/operator_fakes.py) in place of the
gRPC/SQL calls: create renders the cluster with owner references and bootstraps it,
scaling 1 -> 3 -> 0 touches only the compute pods, a dead primary pod is replaced by
promoting a replica through the control plane, status and conditions are written."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from kopf._core.intents import registries
from kopf.testing import KopfRunner

from control import k8s_render
from control.k8s_driver import api_client
from tests.k8s_operator import operator_fakes
from tests.k8s_operator.kmock_server import KmockServer, kmock_server

HANDLERS = str(Path(__file__).resolve().parents[2] / "operator" / "handlers.py")
NS = "ns"
WAIT_S = 15.0
CR_PATH = f"/apis/strata.dev/v1alpha1/namespaces/{NS}/strataclusters"


def wait_for(what: str, check: Callable[[], Any]) -> Any:
    deadline = time.monotonic() + WAIT_S
    while time.monotonic() < deadline:
        value = check()
        if value:
            return value
        time.sleep(0.1)
    raise AssertionError(f"timed out waiting for {what}")


def call(srv: KmockServer, method: str, path: str, body: Any = None,
         ctype: str = "application/json") -> Any:
    api = api_client(srv.url)
    return api.call_api(path, method, body=body, response_type="object",
                        header_params={"Content-Type": ctype, "Accept": "application/json"},
                        _return_http_data_only=True, _request_timeout=10)


@pytest.fixture()
def operator(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[KmockServer]:
    with kmock_server() as srv:
        monkeypatch.setenv("STRATA_KUBE_API", srv.url)
        monkeypatch.setenv("STRATA_OPERATOR_SERVICES", "tests.k8s_operator.operator_fakes:make")
        monkeypatch.setenv("STRATA_OPERATOR_DIR", str(tmp_path / "operator"))
        operator_fakes.INSTANCES.clear()
        # kopf registers handlers in a process-wide registry: a fresh one per test, so an
        # earlier test's handlers (and their clusters) do not run here too
        monkeypatch.setattr(registries, "_default_registry", None)
        with KopfRunner(["run", "--standalone", "--namespace", NS, HANDLERS],
                        timeout=30) as runner:
            yield srv
        assert runner.exception is None, runner.output


def compute_pods(srv: KmockServer) -> list[str]:
    return sorted(n for n, p in srv.objects("v1/pods", NS).items()
                  if p["metadata"]["labels"]["app.kubernetes.io/component"] == "compute")


def writes(srv: KmockServer, since: int) -> list[tuple[str, str]]:
    """Create/patch/delete requests to anything but the StrataCluster itself."""
    return [(str(m).rpartition(".")[2].upper(), p) for m, p in srv.requests()[since:]
            if str(m).rpartition(".")[2].upper() in ("POST", "PATCH", "DELETE", "PUT")
            and "/strataclusters" not in p and "/secrets/" not in p]


def topology(srv: KmockServer) -> dict[str, Any]:
    import base64
    import json

    secret = srv.objects("v1/secrets", NS)["demo-auth"]
    data = secret.get("data", {}).get("topology.json")
    return dict(json.loads(base64.b64decode(data) if data else secret["stringData"]["topology.json"]))


def new_cluster(srv: KmockServer, replicas: int) -> dict[str, Any]:
    cr = {"apiVersion": "strata.dev/v1alpha1", "kind": "StrataCluster",
          "metadata": {"name": "demo", "namespace": NS, "uid": "uid-demo",
                       "resourceVersion": "1"},
          "spec": {"objectStore": {"bucket": "strata-demo"}, "compute": {"replicas": replicas}}}
    call(srv, "POST", CR_PATH, cr)
    return cr


def status(srv: KmockServer) -> dict[str, Any]:
    obj = srv.objects("strata.dev/v1alpha1/strataclusters", NS)["demo"]
    return dict(obj.get("status", {}))


def compute_roles(srv: KmockServer) -> dict[str, str]:
    return {n: p["metadata"]["labels"]["strata.dev/role"]
            for n, p in srv.objects("v1/pods", NS).items()
            if p["metadata"]["labels"]["app.kubernetes.io/component"] == "compute"
            and p.get("status", {}).get("phase") != "Failed"}


def scale(srv: KmockServer, replicas: int) -> None:
    call(srv, "PATCH", f"{CR_PATH}/demo", {"spec": {"compute": {"replicas": replicas}}},
         "application/merge-patch+json")


def test_create_scale_and_status(operator: KmockServer) -> None:
    srv = operator
    cr = new_cluster(srv, replicas=1)
    wait_for("the proxy service", lambda: "demo" in srv.objects("v1/services", NS))
    expected = k8s_render.render("demo", NS, cr["spec"], "uid-demo", computes=False)
    by_kind: dict[str, set[str]] = {"Pod": {"demo-compute-1", "demo-compute-2"}}
    for obj in expected:
        by_kind.setdefault(obj["kind"], set()).add(obj["metadata"]["name"])
    wait_for("the computes", lambda: compute_pods(srv) == ["demo-compute-1", "demo-compute-2"])
    live = {"StatefulSet": "apps/v1/statefulsets", "Deployment": "apps/v1/deployments",
            "Service": "v1/services", "Pod": "v1/pods",
            "PodDisruptionBudget": "policy/v1/poddisruptionbudgets"}
    for kind, resource in live.items():
        objs = srv.objects(resource, NS)
        assert set(objs) == by_kind[kind], kind
        for obj in objs.values():
            ref = obj["metadata"]["ownerReferences"][0]
            assert (ref["kind"], ref["name"], ref["uid"], ref["controller"]) == (
                "StrataCluster", "demo", "uid-demo", True)
    assert srv.objects("policy/v1/poddisruptionbudgets", NS)["demo-logstore"]["spec"][
        "maxUnavailable"] == 1
    secret = srv.objects("v1/secrets", NS)["demo-auth"]
    assert secret["metadata"]["ownerReferences"][0]["uid"] == "uid-demo"
    users = secret["stringData"]["users"]
    assert "postgres:SCRAM-SHA-256$" in users and "strata_control:SCRAM-SHA-256$" in users
    assert len(secret["stringData"]["password"].strip()) >= 32

    # the computes run what local mode runs, pointed at the in-cluster storage
    cmd = srv.objects("v1/pods", NS)["demo-compute-2"]["spec"]["containers"][0]["command"]
    assert cmd[:4] == ["python3", "-m", "strata", "compute"]
    assert cmd[cmd.index("--role") + 1] == "replica"
    assert cmd[cmd.index("--logstore") + 1] == ",".join(
        f"demo-logstore-{i}.demo-logstore.ns.svc:55401" for i in range(3))
    assert cmd[cmd.index("--pageserver") + 1] == "demo-pageserver-0.demo-pageserver.ns.svc:55410"
    assert cmd[cmd.index("--password-file") + 1] == "/etc/strata/users"

    # bootstrapped through the control plane (the main log, then its timeline), then Ready
    services = wait_for("the services", lambda: operator_fakes.INSTANCES)[-1]
    assert services.logs == {"main": 0} and "main" in services.timelines
    assert services.login[0] == "strata_control"
    st = wait_for("phase Ready", lambda: status(srv).get("phase") == "Ready" and status(srv))
    assert st["primary"] == "demo-compute-1" and st["readyReplicas"] == 1
    conds = {c["type"]: c for c in st["conditions"]}
    assert conds["Bootstrapped"]["status"] == "True"
    assert conds["PrimaryAvailable"]["status"] == "True"
    assert conds["ReplicasReady"]["message"] == "1 of 1 read replicas ready"
    assert st["commitLsn"] == "0/1388"  # the primary's durable LSN (5000)
    wait_for("topology", lambda: topology(srv)["replicas"])
    assert topology(srv) == {"primary": "compute-1.demo-compute.ns.svc:55433",
                             "replicas": ["compute-2.demo-compute.ns.svc:55434"]}

    # scale 1 -> 3: two new compute pods, nothing else written
    mark = len(srv.requests())
    scale(srv, 3)
    wait_for("4 computes", lambda: len(compute_pods(srv)) == 4)
    wait_for("3 ready replicas", lambda: status(srv).get("readyReplicas") == 3)
    assert sorted(writes(srv, mark)) == [
        ("POST", f"/api/v1/namespaces/{NS}/pods")] * 2
    assert compute_pods(srv) == [f"demo-compute-{k}" for k in range(1, 5)]

    # scale 3 -> 0: the three replicas go, the primary and everything else stay
    mark = len(srv.requests())
    scale(srv, 0)
    wait_for("1 compute", lambda: compute_pods(srv) == ["demo-compute-1"])
    wait_for("topology without replicas", lambda: topology(srv)["replicas"] == [])
    assert sorted(writes(srv, mark)) == sorted(
        ("DELETE", f"/api/v1/namespaces/{NS}/pods/demo-compute-{k}") for k in (2, 3, 4))
    assert set(srv.objects("apps/v1/statefulsets", NS)) == {"demo-logstore", "demo-pageserver"}
    assert status(srv)["readyReplicas"] == 0 and status(srv)["phase"] == "Ready"

    # delete: the handler releases its finalizer, so the API server removes the cluster and
    # (its garbage collector, by the owner references asserted above) everything it owns;
    # the operator stops acting on it
    assert srv.objects("strata.dev/v1alpha1/strataclusters", NS)["demo"]["metadata"][
        "finalizers"] == ["strata.dev/operator"]
    call(srv, "DELETE", f"{CR_PATH}/demo")
    wait_for("the cluster gone",
             lambda: "demo" not in srv.objects("strata.dev/v1alpha1/strataclusters", NS))
    mark = len(srv.requests())
    time.sleep(2.5)
    assert writes(srv, mark) == []


def test_dead_primary_pod_is_replaced_by_promotion(operator: KmockServer) -> None:
    srv = operator
    new_cluster(srv, replicas=2)
    wait_for("phase Ready", lambda: status(srv).get("phase") == "Ready")
    services = operator_fakes.INSTANCES[-1]
    with services.lock:
        services.replay.update({"compute-2": 100, "compute-3": 300})
    time.sleep(1.5)  # a status poll sees the LSNs
    assert compute_roles(srv) == {"demo-compute-1": "primary", "demo-compute-2": "replica",
                                  "demo-compute-3": "replica"}

    # the primary's container dies (as the kubelet reports it)
    srv.call(lambda: srv.emulator.objects["v1/pods", NS, "demo-compute-1"].patch({"status": {
        "phase": "Failed", "containerStatuses": [{
            "name": "compute", "ready": False, "restartCount": 0, "image": "strata",
            "imageID": "", "state": {"terminated": {"exitCode": 137, "reason": "Error"}}}]}}))
    wait_for("a promotion", lambda: services.promoted)
    assert services.promoted == ["compute-3"]  # the most caught-up replica
    wait_for("the new primary in status", lambda: status(srv).get("primary") == "demo-compute-3")
    # the dead slot comes back as a replica; the promoted pod is labelled primary
    wait_for("roles", lambda: compute_roles(srv) == {
        "demo-compute-1": "replica", "demo-compute-2": "replica", "demo-compute-3": "primary"})
    cmd = srv.objects("v1/pods", NS)["demo-compute-1"]["spec"]["containers"][0]["command"]
    assert cmd[cmd.index("--role") + 1] == "replica"
    wait_for("topology", lambda: topology(srv)["primary"] == "compute-3.demo-compute.ns.svc:55435")
    events = status(srv)["events"]
    assert "compute-1: primary process gone; promoting compute-3" in events


def test_branches_from_the_spec(operator: KmockServer) -> None:
    srv = operator
    new_cluster(srv, replicas=0)
    wait_for("phase Ready", lambda: status(srv).get("phase") == "Ready")
    services = operator_fakes.INSTANCES[-1]
    call(srv, "PATCH", f"{CR_PATH}/demo", {"spec": {"branches": [
        {"name": "dev"}, {"name": "at", "fromLsn": "0/FA0"},
        {"name": "later", "fromLsn": "0/FFFFF"}]}}, "application/merge-patch+json")
    wait_for("branch computes", lambda: {"demo-branch-dev", "demo-branch-at"} <= set(
        compute_pods(srv)))
    # timeline at the LSN (or main's commit LSN), then a log from there, then a compute
    assert services.timelines["dev"] == 5000 and services.timelines["at"] == 0xFA0
    assert services.logs["dev"] == 5000 and services.logs["at"] == 0xFA0
    cmd = srv.objects("v1/pods", NS)["demo-branch-at"]["spec"]["containers"][0]["command"]
    assert cmd[cmd.index("--timeline") + 1] == "at" and cmd[cmd.index("--role") + 1] == "primary"
    # an LSN past main's commit LSN is refused, said in a condition, and nothing is made
    st = wait_for("branch condition", lambda: next((
        c for c in status(srv).get("conditions", [])
        if c["type"] == "BranchesReady" and c["status"] == "False"), None))
    assert st["message"].startswith("later: LSN 0/FFFFF is in the future")
    assert "later" not in services.timelines and "demo-branch-later" not in compute_pods(srv)
    # removing a branch from the spec deletes its compute, log and timeline
    call(srv, "PATCH", f"{CR_PATH}/demo", {"spec": {"branches": [{"name": "dev"}]}},
         "application/merge-patch+json")
    wait_for("branch at gone", lambda: "demo-branch-at" not in compute_pods(srv))
    wait_for("timeline at gone", lambda: "at" not in services.timelines)
    assert "at" not in services.logs and "dev" in services.timelines
    wait_for("branches ready", lambda: {c["type"]: c["status"] for c in status(srv)[
        "conditions"]}["BranchesReady"] == "True")
    assert [b["name"] for b in status(srv)["branches"]] == ["dev"]


def test_invalid_spec_is_refused_with_a_condition(operator: KmockServer) -> None:
    srv = operator
    cr = {"apiVersion": "strata.dev/v1alpha1", "kind": "StrataCluster",
          "metadata": {"name": "bad", "namespace": NS, "uid": "uid-bad", "resourceVersion": "1"},
          "spec": {"objectStore": {"bucket": "b-1"}, "logstore": {"replicas": 4}}}
    call(srv, "POST", CR_PATH, cr)

    def status() -> dict[str, Any]:
        return dict(srv.objects("strata.dev/v1alpha1/strataclusters", NS)["bad"].get("status", {}))
    st = wait_for("failed status", lambda: status().get("phase") == "Failed" and status())
    assert "spec.logstore.replicas: must be odd" in st["conditions"][0]["message"]
    assert srv.objects("apps/v1/statefulsets", NS) == {}
