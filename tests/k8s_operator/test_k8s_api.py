"""The admin REST API in Kubernetes mode: the real FastAPI app (`control.api.create_app`)
with `control.k8s_api.KubernetesController` talking to a kmock Kubernetes API on
127.0.0.1. Every call becomes a read or a merge patch of the StrataCluster (or its auth
Secret), asserted request by request; failover goes through the real kopf handlers
(KopfRunner), which promote and clear the request."""

from __future__ import annotations

import base64
import json
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from kopf._core.intents import registries
from kopf.testing import KopfRunner

from control import k8s_render
from control.api import PROBLEM_JSON, create_app
from control.errors import Conflict
from control.k8s_api import (
    FAILOVER_REQUESTED,
    FAILOVER_RESULT,
    KubernetesController,
    failover_request,
)
from control.k8s_driver import api_client
from control.users import UserBook
from tests.k8s_operator import operator_fakes
from tests.k8s_operator.kmock_server import KmockServer, kmock_server
from tests.k8s_operator.test_handlers import HANDLERS, call, wait_for
from tests.support import free_port

NS = "ns"
TOKEN = "t0ken"
AUTH = {"Authorization": f"Bearer {TOKEN}"}
CR_PATH = f"/apis/strata.dev/v1alpha1/namespaces/{NS}/strataclusters"
CR = "strata.dev/v1alpha1/strataclusters"


def make_cluster(srv: KmockServer, replicas: int = 1,
                 status: dict[str, Any] | None = None) -> None:
    """A StrataCluster and its auth Secret, as the operator leaves them (no operator runs)."""
    call(srv, "POST", CR_PATH, {
        "apiVersion": "strata.dev/v1alpha1", "kind": "StrataCluster",
        "metadata": {"name": "demo", "namespace": NS, "uid": "uid-demo", "resourceVersion": "1"},
        "spec": {"objectStore": {"bucket": "strata-demo"}, "compute": {"replicas": replicas}},
        "status": status or {}})
    with tempfile.TemporaryDirectory() as tmp:
        book = UserBook(Path(tmp) / "users")
        book.create("postgres", "pw/1")
        book.create("strata_control", "ctl", reserved_ok=True)
        users = (Path(tmp) / "users").read_text()
    secret = k8s_render.auth_secret("demo", NS, "uid-demo", password="pw/1\n",
                                    proxy_secret="s", users=users, topology_json="{}")
    call(srv, "POST", f"/api/v1/namespaces/{NS}/secrets", secret)


@pytest.fixture()
def kube() -> Iterator[KmockServer]:
    with kmock_server() as srv:
        yield srv


def rest(srv: KmockServer, failover_wait_s: float = 15.0) -> TestClient:
    controller = KubernetesController(api_client(srv.url), NS, "demo",
                                      rest_address="127.0.0.1:8080",
                                      failover_wait_s=failover_wait_s)
    return TestClient(create_app(controller, TOKEN), raise_server_exceptions=False)


def writes(srv: KmockServer, since: int) -> list[tuple[str, str, Any]]:
    """(method, path, body) of every write since request number ``since``."""
    def read() -> list[tuple[str, str, Any]]:
        return [(str(r.method).rpartition(".")[2].upper(), str(r.url.path), r.data)
                for r in list(srv.emulator)[since:]]
    return [w for w in srv.call(read) if w[0] in ("POST", "PATCH", "PUT", "DELETE")]


def spec(srv: KmockServer) -> dict[str, Any]:
    return dict(srv.objects(CR, NS)["demo"]["spec"])


def problem(resp: Any, status: int) -> dict[str, Any]:
    assert resp.status_code == status, resp.text
    assert resp.headers["content-type"] == PROBLEM_JSON
    body = resp.json()
    assert body["status"] == status
    return dict(body)


def test_put_replicas_patches_only_spec_compute_replicas(kube: KmockServer) -> None:
    make_cluster(kube, replicas=1)
    api = rest(kube)
    before = spec(kube)
    mark = len(kube.requests())
    resp = api.put("/v1/replicas", json={"replicas": 3}, headers=AUTH)
    assert resp.status_code == 200 and resp.json() == {"replicas": 3}
    assert writes(kube, mark) == [("PATCH", f"{CR_PATH}/demo",
                                   {"spec": {"compute": {"replicas": 3}}})]
    assert spec(kube) == {**before, "compute": {"replicas": 3}}
    # bad input never reaches the API server
    mark = len(kube.requests())
    problem(api.put("/v1/replicas", json={"replicas": 17}, headers=AUTH), 422)
    problem(api.put("/v1/replicas", json={"replicas": 1, "x": 1}, headers=AUTH), 422)
    problem(api.put("/v1/replicas", json={"replicas": 1}), 401)
    assert writes(kube, mark) == []
    assert api.get("/v1/status", headers=AUTH).json()["replicas"] == 3


def test_branches_and_restore_edit_spec_branches(kube: KmockServer) -> None:
    make_cluster(kube)
    api = rest(kube)
    resp = api.post("/v1/branches", json={"name": "dev"}, headers=AUTH)
    assert resp.status_code == 201, resp.text
    assert resp.json()["name"] == "dev" and resp.json()["state"] == "pending"
    assert spec(kube)["branches"] == [{"name": "dev"}]
    assert api.post("/v1/branches", json={"name": "at", "lsn": 4000},
                    headers=AUTH).status_code == 201
    resp = api.post("/v1/restore", json={"name": "before", "timestamp": "2026-01-01T12:00:00Z"},
                    headers=AUTH)
    assert resp.status_code == 201 and resp.json()["kind"] == "restore"
    assert spec(kube)["branches"] == [
        {"name": "dev"}, {"name": "at", "fromLsn": "0/FA0"},
        {"name": "before", "fromTime": "2026-01-01T12:00:00Z"}]
    # the operator's answer (status.branches, BranchesReady) shows in GET /v1/branches
    kube.call(lambda: kube.emulator.objects[CR, NS, "demo"].patch({"status": {
        "branches": [{"name": "dev", "ancestorLsn": "0/1388", "state": "running"}],
        "conditions": [{"type": "BranchesReady", "status": "False",
                        "message": "at: LSN 0/FA0 is in the future"}]}}))
    got = {b["name"]: b for b in api.get("/v1/branches", headers=AUTH).json()}
    assert got["dev"]["state"] == "running" and got["dev"]["ancestor_lsn"] == 5000
    assert got["at"]["state"] == "refused: LSN 0/FA0 is in the future"
    assert got["before"]["state"] == "pending" and got["before"]["kind"] == "restore"

    mark = len(kube.requests())
    assert "already exists" in problem(
        api.post("/v1/branches", json={"name": "dev"}, headers=AUTH), 409)["detail"]
    problem(api.post("/v1/branches", json={"name": "main"}, headers=AUTH), 409)
    problem(api.post("/v1/branches", json={"name": "x", "lsn": 1, "timestamp": "2026-01-01"},
                     headers=AUTH), 422)
    problem(api.post("/v1/branches", json={"name": "x", "lsn": "zz"}, headers=AUTH), 422)
    problem(api.post("/v1/restore", json={"name": "x"}, headers=AUTH), 422)
    problem(api.delete("/v1/branches/nope", headers=AUTH), 404)
    problem(api.delete("/v1/branches/main", headers=AUTH), 409)
    assert writes(kube, mark) == []

    mark = len(kube.requests())
    assert api.delete("/v1/branches/at", headers=AUTH).status_code == 204
    assert spec(kube)["branches"] == [
        {"name": "dev"}, {"name": "before", "fromTime": "2026-01-01T12:00:00Z"}]
    [(method, path, body)] = writes(kube, mark)
    assert (method, path, set(body)) == ("PATCH", f"{CR_PATH}/demo", {"metadata", "spec"})
    assert set(body["spec"]) == {"branches"} and body["metadata"]["resourceVersion"]


def test_status_from_the_resource_and_its_pods(kube: KmockServer) -> None:
    make_cluster(kube, replicas=1, status={
        "phase": "Ready", "primary": "demo-compute-1", "readyReplicas": 1,
        "commitLsn": "0/1388", "replayLsns": {"demo-compute-2": "0/1000"},
        "conditions": [{"type": "PrimaryAvailable", "status": "True", "message": "ok"}]})
    full = k8s_render.validate_spec(spec(kube))
    for name, role, port in (("compute-1", "primary", 55433), ("compute-2", "replica", 55434)):
        argv = ["python3", "-m", "strata", "compute", "--role", role,
                "--listen", f"0.0.0.0:{port}", "--timeline", "main"]
        pod = k8s_render.compute_pod("demo", NS, full, "uid-demo", name, argv, role)
        pod["status"] = {"phase": "Running"}
        call(kube, "POST", f"/api/v1/namespaces/{NS}/pods", pod)
    st = rest(kube).get("/v1/status", headers=AUTH).json()
    assert st["phase"] == "running" and st["replicas"] == 1
    assert st["dsn"] == "postgresql://postgres:pw%2F1@demo.ns.svc:5432/postgres"
    assert st["primary_dsn"] == (
        "postgresql://postgres:pw%2F1@compute-1.demo-compute.ns.svc:55433/postgres")
    comps = {c["name"]: c for c in st["components"]}
    assert set(comps) == {"compute-1", "compute-2"}
    assert (comps["compute-1"]["role"], comps["compute-1"]["lsn"]) == ("primary", 5000)
    assert (comps["compute-2"]["role"], comps["compute-2"]["lsn"]) == ("replica", 4096)
    assert comps["compute-2"]["state"] == "running"
    assert comps["compute-2"]["address"] == "compute-2.demo-compute.ns.svc:55434"


def test_users_live_in_the_auth_secret(kube: KmockServer) -> None:
    make_cluster(kube)
    api = rest(kube)
    assert api.get("/v1/users", headers=AUTH).json() == [{"name": "postgres"}]
    mark = len(kube.requests())
    assert api.post("/v1/users", json={"name": "alice", "password": "pw"},
                    headers=AUTH).status_code == 201
    [(method, path, body)] = writes(kube, mark)
    assert (method, path) == ("PATCH", f"/api/v1/namespaces/{NS}/secrets/demo-auth")
    assert set(body["data"]) == {"users"}  # the password, topology etc. untouched
    users = base64.b64decode(body["data"]["users"]).decode()
    assert [line.split(":")[0] for line in users.splitlines()] == [
        "alice", "postgres", "strata_control"]
    assert users.splitlines()[0].startswith("alice:SCRAM-SHA-256$")
    assert api.get("/v1/users", headers=AUTH).json() == [{"name": "alice"}, {"name": "postgres"}]
    problem(api.post("/v1/users", json={"name": "alice", "password": "x"}, headers=AUTH), 409)
    problem(api.delete("/v1/users/bob", headers=AUTH), 404)
    problem(api.delete("/v1/users/strata_control", headers=AUTH), 422)
    assert api.delete("/v1/users/alice", headers=AUTH).status_code == 204
    assert api.get("/v1/users", headers=AUTH).json() == [{"name": "postgres"}]
    problem(api.get("/v1/proxy/pools", headers=AUTH), 501)


def test_unreachable_api_server_and_missing_cluster_are_503(kube: KmockServer) -> None:
    controller = KubernetesController(api_client(f"http://127.0.0.1:{free_port()}"), NS, "demo")
    api = TestClient(create_app(controller, TOKEN), raise_server_exceptions=False)
    assert "unreachable" in problem(api.get("/v1/status", headers=AUTH), 503)["detail"]
    problem(api.put("/v1/replicas", json={"replicas": 1}, headers=AUTH), 503)
    assert "no StrataCluster" in problem(rest(kube).post(
        "/v1/branches", json={"name": "dev"}, headers=AUTH), 503)["detail"]


def test_failover_request_unanswered_is_503_and_stays_requested(kube: KmockServer) -> None:
    make_cluster(kube, replicas=1)
    detail = problem(rest(kube, failover_wait_s=0.5).post("/v1/failover", headers=AUTH),
                     503)["detail"]
    assert "did not act" in detail
    assert FAILOVER_REQUESTED in kube.objects(CR, NS)["demo"]["metadata"]["annotations"]


def test_failover_request_is_answered_once() -> None:
    calls: list[int] = []

    def moved() -> dict[str, Any]:
        calls.append(1)
        return {"primary": "compute-3", "previous": "compute-1", "dsn": "local"}

    assert failover_request({}, moved) == {}
    notes = failover_request({FAILOVER_REQUESTED: "t1"}, moved)
    assert notes[FAILOVER_REQUESTED] is None
    assert json.loads(notes[FAILOVER_RESULT] or "") == {
        "requested": "t1", "primary": "compute-3", "previous": "compute-1"}
    # the clearing was lost: the same request is not acted on twice
    answered = {FAILOVER_REQUESTED: "t1", FAILOVER_RESULT: notes[FAILOVER_RESULT] or ""}
    assert failover_request(answered, moved) == {
        FAILOVER_REQUESTED: None}
    assert len(calls) == 1

    def refused() -> dict[str, Any]:
        raise Conflict("no live replica of 'main' to fail over to")

    notes = failover_request({FAILOVER_REQUESTED: "t2"}, refused)
    assert json.loads(notes[FAILOVER_RESULT] or "")["error"].startswith("no live replica")


@pytest.fixture()
def operator(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[KmockServer]:
    """The real kopf handlers against kmock (as tests/k8s_operator/test_handlers.py)."""
    with kmock_server() as srv:
        monkeypatch.setenv("STRATA_KUBE_API", srv.url)
        monkeypatch.setenv("STRATA_OPERATOR_SERVICES", "tests.k8s_operator.operator_fakes:make")
        monkeypatch.setenv("STRATA_OPERATOR_DIR", str(tmp_path / "operator"))
        operator_fakes.INSTANCES.clear()
        monkeypatch.setattr(registries, "_default_registry", None)
        with KopfRunner(["run", "--standalone", "--namespace", NS, HANDLERS],
                        timeout=30) as runner:
            yield srv
        assert runner.exception is None, runner.output


def test_failover_through_the_operator(operator: KmockServer) -> None:
    srv = operator
    call(srv, "POST", CR_PATH, {
        "apiVersion": "strata.dev/v1alpha1", "kind": "StrataCluster",
        "metadata": {"name": "demo", "namespace": NS, "uid": "uid-demo", "resourceVersion": "1"},
        "spec": {"objectStore": {"bucket": "strata-demo"}, "compute": {"replicas": 2}}})
    wait_for("phase Ready",
             lambda: srv.objects(CR, NS)["demo"].get("status", {}).get("phase") == "Ready")
    services = operator_fakes.INSTANCES[-1]
    with services.lock:
        services.replay.update({"compute-2": 100, "compute-3": 300})
    api = rest(srv)
    wait_for("replica LSNs polled", lambda: api.get("/v1/status", headers=AUTH).json()[
        "components"] and {c["name"]: c["lsn"] for c in api.get(
            "/v1/status", headers=AUTH).json()["components"]}.get("compute-3") == 300)

    resp = api.post("/v1/failover", headers=AUTH)
    assert resp.status_code == 200, resp.text
    out = resp.json()
    assert (out["primary"], out["previous"]) == ("compute-3", "compute-1")
    assert "@compute-3.demo-compute.ns.svc:55435/" in out["dsn"]  # its pod's port
    assert services.promoted == ["compute-3"]  # the reconciler's failover(): most caught up
    notes = srv.objects(CR, NS)["demo"]["metadata"].get("annotations", {})
    assert FAILOVER_REQUESTED not in notes  # cleared by the operator
    assert json.loads(notes[FAILOVER_RESULT])["primary"] == "compute-3"
    wait_for("the new primary in status",
             lambda: srv.objects(CR, NS)["demo"]["status"]["primary"] == "demo-compute-3")
    wait_for("REST sees it", lambda: "compute-3" in api.get(
        "/v1/status", headers=AUTH).json()["primary_dsn"])
    # one request, one promotion
    assert services.promoted == ["compute-3"]
