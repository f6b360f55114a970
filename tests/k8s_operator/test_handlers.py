"""The real kopf handlers (operator/handlers.py, run by KopfRunner) against kmock on
127.0.0.1: create renders the cluster with owner references, scaling 1 -> 3 -> 0 touches
only the compute pods, status (phase, readyReplicas, conditions) is written."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from kopf.testing import KopfRunner

from control import k8s_render
from control.k8s_driver import api_client
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
def operator(monkeypatch: pytest.MonkeyPatch) -> Iterator[KmockServer]:
    with kmock_server() as srv:
        monkeypatch.setenv("STRATA_KUBE_API", srv.url)
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


def test_create_scale_and_status(operator: KmockServer) -> None:
    srv = operator
    cr = {"apiVersion": "strata.dev/v1alpha1", "kind": "StrataCluster",
          "metadata": {"name": "demo", "namespace": NS, "uid": "uid-demo", "resourceVersion": "1"},
          "spec": {"objectStore": {"bucket": "strata-demo"}, "compute": {"replicas": 1}}}
    call(srv, "POST", CR_PATH, cr)
    wait_for("the proxy service", lambda: "demo" in srv.objects("v1/services", NS))
    expected = k8s_render.render("demo", NS, cr["spec"], "uid-demo")
    by_kind: dict[str, set[str]] = {}
    for obj in expected:
        by_kind.setdefault(obj["kind"], set()).add(obj["metadata"]["name"])
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
    assert compute_pods(srv) == ["demo-compute-1", "demo-compute-2"]
    secret = srv.objects("v1/secrets", NS)["demo-auth"]
    assert secret["metadata"]["ownerReferences"][0]["uid"] == "uid-demo"
    assert secret["stringData"]["users"].startswith("postgres:SCRAM-SHA-256$")
    assert len(secret["stringData"]["password"]) >= 32

    # status: nothing is ready (no kubelet here), and the conditions say so
    def status() -> dict[str, Any]:
        obj = srv.objects("strata.dev/v1alpha1/strataclusters", NS)["demo"]
        return dict(obj.get("status", {}))
    st = wait_for("status", lambda: status().get("conditions") and status())
    assert st["phase"] == "Creating" and st["readyReplicas"] == 0
    conds = {c["type"]: c for c in st["conditions"]}
    assert conds["PrimaryAvailable"]["status"] == "False"
    assert conds["ReplicasReady"]["message"] == "0 of 1 read replicas ready"

    # pods become ready (as a kubelet would report): the health timer sees it
    def ready(pod: str) -> None:
        srv.call(lambda: srv.emulator.objects["v1/pods", NS, pod].patch(
            {"status": {"phase": "Running", "conditions": [{"type": "Ready", "status": "True"}]}}))
    ready("demo-compute-1")
    ready("demo-compute-2")
    wait_for("phase Ready", lambda: status().get("phase") == "Ready")
    assert status()["primary"] == "demo-compute-1" and status()["readyReplicas"] == 1
    assert topology(srv) == {"primary": "compute-1.demo-compute.ns.svc:55433",
                             "replicas": ["compute-2.demo-compute.ns.svc:55433"]}

    # scale 1 -> 3: two new compute pods, nothing else written
    mark = len(srv.requests())
    call(srv, "PATCH", f"{CR_PATH}/demo", {"spec": {"compute": {"replicas": 3}}},
         "application/merge-patch+json")
    wait_for("4 computes", lambda: len(compute_pods(srv)) == 4)
    time.sleep(0.5)
    assert sorted(writes(srv, mark)) == [
        ("POST", f"/api/v1/namespaces/{NS}/pods")] * 2
    assert compute_pods(srv) == [f"demo-compute-{k}" for k in range(1, 5)]

    # scale 3 -> 0: the three replicas go, the primary and everything else stay
    mark = len(srv.requests())
    call(srv, "PATCH", f"{CR_PATH}/demo", {"spec": {"compute": {"replicas": 0}}},
         "application/merge-patch+json")
    wait_for("1 compute", lambda: compute_pods(srv) == ["demo-compute-1"])
    time.sleep(0.5)
    assert sorted(writes(srv, mark)) == sorted(
        ("DELETE", f"/api/v1/namespaces/{NS}/pods/demo-compute-{k}") for k in (2, 3, 4))
    assert set(srv.objects("apps/v1/statefulsets", NS)) == {"demo-logstore", "demo-pageserver"}
    # the proxy no longer routes to the removed replica
    wait_for("topology without replicas", lambda: topology(srv)["replicas"] == [])
    assert status()["readyReplicas"] == 0


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
