"""REST API: bearer auth, Problem JSON for every error, validation, and the checked-in OpenAPI."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from control.api import PROBLEM_JSON, create_app, document_app
from control.errors import Conflict, InvalidRequest, NotFound

TOKEN = "s3cret-token"
REPO = Path(__file__).resolve().parents[2]


class FakeController:
    def __init__(self) -> None:
        self.replicas = 1
        self.branches: dict[str, dict[str, Any]] = {}
        self.calls: list[tuple[str, Any]] = []
        self.commit_lsn = 1000
        self.users: dict[str, str] = {}

    def status(self) -> dict[str, Any]:
        return {"phase": "ready", "detail": "", "dir": "/x", "tenant": "default",
                "timeline": "main", "replicas": self.replicas, "rest_address": "127.0.0.1:1",
                "dsn": "postgresql://postgres:pw@127.0.0.1:55432/postgres",
                "primary_dsn": "postgresql://postgres:pw@127.0.0.1:55433/postgres",
                "components": [{"kind": "compute", "name": "compute-1", "role": "primary",
                                "pid": 1, "address": "127.0.0.1:55433", "data_dir": "",
                                "state": "running", "restarts": 0, "detail": "",
                                "timeline": "main", "dsn": "postgresql://x", "term": 3,
                                "lsn": 5, "lag_bytes": 0, "node_state": "writable"}],
                "branches": list(self.branches.values())}

    def set_replicas(self, n: int) -> None:
        self.calls.append(("replicas", n))
        self.replicas = n

    def failover(self, timeline: str | None = None) -> dict[str, Any]:
        raise Conflict("no live replica of 'main' to fail over to")

    def list_branches(self) -> list[dict[str, Any]]:
        return list(self.branches.values())

    def create_branch(self, name: str, lsn: int | None = None, timestamp_us: int | None = None,
                      timestamp_text: str = "", kind: str = "branch") -> dict[str, Any]:
        self.calls.append(("branch", (name, lsn, timestamp_us, kind)))
        if name in self.branches:
            raise Conflict(f"branch {name!r} already exists")
        if lsn is not None and lsn > self.commit_lsn:
            raise InvalidRequest(f"LSN {lsn} is in the future")
        b = {"name": name, "ancestor": "main", "ancestor_lsn": lsn or self.commit_lsn,
             "ancestor_lsn_text": "0/0", "kind": kind, "created_at": "", "timestamp": timestamp_text,
             "dsn": "postgresql://postgres@127.0.0.1:55435/postgres", "state": "starting"}
        self.branches[name] = b
        return b

    def delete_branch(self, name: str) -> None:
        if name not in self.branches:
            raise NotFound(f"no branch named {name!r}")
        del self.branches[name]

    def list_users(self) -> list[str]:
        return sorted(self.users)

    def create_user(self, name: str, password: str) -> None:
        if name in self.users:
            raise Conflict(f'role "{name}" already exists')
        self.users[name] = password

    def delete_user(self, name: str) -> None:
        if name not in self.users:
            raise NotFound(f'role "{name}" does not exist')
        del self.users[name]


@pytest.fixture
def ctl() -> FakeController:
    return FakeController()


@pytest.fixture
def client(ctl: FakeController) -> TestClient:
    return TestClient(create_app(ctl, TOKEN), raise_server_exceptions=False)


AUTH = {"Authorization": f"Bearer {TOKEN}"}


def _problem(resp: Any, status: int) -> dict[str, Any]:
    assert resp.status_code == status, resp.text
    assert resp.headers["content-type"].startswith(PROBLEM_JSON)
    body: dict[str, Any] = resp.json()
    assert body["status"] == status
    assert body["type"] and body["title"] and isinstance(body["detail"], str)
    return body


ROUTES = [("GET", "/v1/status", None), ("PUT", "/v1/replicas", {"replicas": 2}),
          ("POST", "/v1/failover", None), ("GET", "/v1/branches", None),
          ("POST", "/v1/branches", {"name": "x"}), ("DELETE", "/v1/branches/x", None),
          ("POST", "/v1/restore", {"name": "x", "lsn": 1})]


@pytest.mark.parametrize("method,path,body", ROUTES)
def test_every_route_needs_the_token(client: TestClient, ctl: FakeController, method: str,
                                     path: str, body: Any) -> None:
    resp = client.request(method, path, json=body)
    assert _problem(resp, 401)["detail"] == "missing bearer token"
    assert resp.headers["www-authenticate"] == "Bearer"
    resp = client.request(method, path, json=body, headers={"Authorization": "Bearer wrong"})
    assert _problem(resp, 401)["detail"] == "wrong bearer token"
    resp = client.request(method, path, json=body, headers={"Authorization": f"Basic {TOKEN}"})
    _problem(resp, 401)
    assert ctl.calls == []


def test_status(client: TestClient) -> None:
    resp = client.get("/v1/status", headers=AUTH)
    assert resp.status_code == 200
    data = resp.json()
    assert data["dsn"].startswith("postgresql://")
    assert data["components"][0]["kind"] == "compute" and data["components"][0]["term"] == 3


def test_replicas(client: TestClient, ctl: FakeController) -> None:
    resp = client.put("/v1/replicas", json={"replicas": 3}, headers=AUTH)
    assert resp.status_code == 200 and resp.json() == {"replicas": 3}
    assert ctl.replicas == 3
    body = _problem(client.put("/v1/replicas", json={"replicas": -1}, headers=AUTH), 422)
    assert "replicas" in body["detail"] and body["errors"][0]["loc"][-1] == "replicas"
    _problem(client.put("/v1/replicas", json={"replicas": "many"}, headers=AUTH), 422)
    _problem(client.put("/v1/replicas", json={}, headers=AUTH), 422)
    _problem(client.put("/v1/replicas", json={"replicas": 1, "extra": 1}, headers=AUTH), 422)
    _problem(client.put("/v1/replicas", content=b"{not json", headers=AUTH), 422)
    assert ctl.replicas == 3


def test_branches(client: TestClient, ctl: FakeController) -> None:
    resp = client.post("/v1/branches", json={"name": "dev", "lsn": "0/3E8"}, headers=AUTH)
    assert resp.status_code == 201, resp.text
    assert ctl.calls[-1] == ("branch", ("dev", 1000, None, "branch"))
    assert [b["name"] for b in client.get("/v1/branches", headers=AUTH).json()] == ["dev"]
    _problem(client.post("/v1/branches", json={"name": "dev"}, headers=AUTH), 409)
    _problem(client.post("/v1/branches", json={"name": "bad/name"}, headers=AUTH), 422)
    _problem(client.post("/v1/branches", json={"name": "x", "lsn": 5, "timestamp": "2020-01-01"},
                         headers=AUTH), 422)
    assert "future" in _problem(
        client.post("/v1/branches", json={"name": "f", "lsn": 10**9}, headers=AUTH), 422)["detail"]
    _problem(client.post("/v1/branches", json={"name": "g", "lsn": "zz/1"}, headers=AUTH), 422)
    assert client.delete("/v1/branches/dev", headers=AUTH).status_code == 204
    _problem(client.delete("/v1/branches/dev", headers=AUTH), 404)


def test_restore(client: TestClient, ctl: FakeController) -> None:
    _problem(client.post("/v1/restore", json={"name": "r"}, headers=AUTH), 422)
    resp = client.post("/v1/restore", json={"name": "r", "timestamp": "2024-01-01T00:00:00Z"},
                       headers=AUTH)
    assert resp.status_code == 201, resp.text
    assert resp.json()["kind"] == "restore"
    assert ctl.calls[-1] == ("branch", ("r", None, 1704067200000000, "restore"))
    _problem(client.post("/v1/restore", json={"name": "s", "timestamp": "2999-01-01"},
                         headers=AUTH), 422)
    _problem(client.post("/v1/restore", json={"name": "s", "timestamp": "yesterday"},
                         headers=AUTH), 422)


def test_failover_conflict_and_unknown_route(client: TestClient) -> None:
    assert "no live replica" in _problem(client.post("/v1/failover", headers=AUTH), 409)["detail"]
    _problem(client.get("/v1/nothing", headers=AUTH), 404)
    _problem(client.get("/v1/failover", headers=AUTH), 405)


def test_openapi_served_and_checked_in(client: TestClient) -> None:
    served = client.get("/openapi.json").json()
    checked_in = json.loads((REPO / "docs" / "openapi.json").read_text())
    assert served == checked_in, "regenerate: python3 -m strata control openapi > docs/openapi.json"
    assert document_app().openapi() == checked_in
    assert {"/v1/status", "/v1/replicas", "/v1/failover", "/v1/branches", "/v1/branches/{name}",
            "/v1/restore"} <= set(checked_in["paths"])
    assert client.get("/docs").status_code == 200


def test_users(client: TestClient, ctl: FakeController) -> None:
    auth = {"Authorization": f"Bearer {TOKEN}"}
    assert client.post("/v1/users", json={"name": "alice", "password": "pw"}).status_code == 401
    resp = client.post("/v1/users", json={"name": "alice", "password": "pw"}, headers=auth)
    assert resp.status_code == 201 and resp.json() == {"name": "alice"}
    assert ctl.users == {"alice": "pw"}
    again = client.post("/v1/users", json={"name": "alice", "password": "pw"}, headers=auth)
    assert again.status_code == 409 and again.json()["detail"] == 'role "alice" already exists'
    empty = client.post("/v1/users", json={"name": "bob", "password": ""}, headers=auth)
    assert empty.status_code == 422 and empty.headers["content-type"] == "application/problem+json"
    extra = client.post("/v1/users", json={"name": "bob", "password": "x", "admin": True}, headers=auth)
    assert extra.status_code == 422
    assert client.get("/v1/users", headers=auth).json() == [{"name": "alice"}]
    assert client.delete("/v1/users/alice", headers=auth).status_code == 204
    assert client.delete("/v1/users/alice", headers=auth).status_code == 404
