"""Fake services for the operator tests (STRATA_OPERATOR_SERVICES points here): computes
"run" when their Pod exists and has not failed, as the kmock API server shows it."""

from __future__ import annotations

import os
import threading
from typing import Any

from control.errors import Conflict, Unavailable
from control.k8s_driver import api_client
from strata.tls import TlsFiles

INSTANCES: list[FakeClusterServices] = []
"""Every instance made, newest last (the test reads what the operator did)."""


class FakeClusterServices:
    def __init__(self, logstores: list[str], pageserver: str, login: tuple[str, str],
                 tls: TlsFiles | None) -> None:
        self.logstores = logstores
        self.pageserver = pageserver
        self.login = login
        self.tls = tls
        """The control plane's TLS files the operator handed over (role control)."""
        self.api = api_client(os.environ["STRATA_KUBE_API"])
        self.lock = threading.Lock()
        self.replay: dict[str, int] = {}
        """compute name -> replay LSN it reports."""
        self.promoted: list[str] = []
        self.logs: dict[str, int] = {}
        self.timelines: dict[str, int] = {}
        self.term = 1
        self.commit = 5000

    def _pod(self, address: str) -> dict[str, Any] | None:
        host = address.rpartition(":")[0]  # compute-1.demo-compute.ns.svc
        name, svc, namespace = host.split(".")[:3]
        cluster = svc.removesuffix("-compute")
        try:
            pod = self.api.call_api(
                f"/api/v1/namespaces/{namespace}/pods/{cluster}-{name}", "GET",
                response_type="object", _return_http_data_only=True, _request_timeout=5)
        except Exception:  # noqa: BLE001 - not there
            return None
        if pod.get("status", {}).get("phase") in ("Failed", "Succeeded"):
            return None
        return dict(pod)

    def node_status(self, address: str) -> dict[str, Any] | None:
        pod = self._pod(address)
        if pod is None:
            return None
        cmd = pod["spec"]["containers"][0]["command"]
        role = cmd[cmd.index("--role") + 1]
        name = address.split(".")[0]
        with self.lock:
            if name in self.promoted and role == "replica" and self.promoted[-1] == name:
                role = "primary"  # pg_promote turned it into a primary in place
            lsn = self.replay.get(name, 0)
            return {"role": role, "state": "writable" if role == "primary" else "read-only",
                    "term": self.term, "written_lsn": lsn, "replay_lsn": lsn,
                    "durable_lsn": self.commit if role == "primary" else lsn}

    def promote(self, address: str) -> None:
        if self._pod(address) is None:
            raise Unavailable("not running")
        with self.lock:
            self.promoted.append(address.split(".")[0])
            self.term += 1

    def accepts_connections(self, address: str) -> bool:
        return True

    def create_log(self, tenant: str, timeline: str, start_lsn: int) -> None:
        if timeline in self.logs:
            raise Conflict("exists")
        self.logs[timeline] = start_lsn

    def ensure_log(self, address: str, tenant: str, timeline: str, start_lsn: int) -> None:
        pass

    def delete_log(self, tenant: str, timeline: str) -> None:
        self.logs.pop(timeline, None)

    def commit_lsn(self, tenant: str, timeline: str) -> int:
        return self.commit

    def timeline_exists(self, tenant: str, timeline: str) -> bool:
        return timeline in self.timelines

    def create_timeline(self, tenant: str, timeline: str, *, ancestor: str = "",
                        ancestor_lsn: int = 0, ancestor_timestamp_us: int = 0) -> int:
        if timeline in self.timelines:
            raise Conflict("exists")
        self.timelines[timeline] = ancestor_lsn
        return ancestor_lsn

    def delete_timeline(self, tenant: str, timeline: str) -> None:
        self.timelines.pop(timeline, None)

    def close(self) -> None:
        pass


def make(logstores: list[str], pageserver: str, login: tuple[str, str],
         tls: TlsFiles | None) -> FakeClusterServices:
    services = FakeClusterServices(logstores, pageserver, login, tls)
    INSTANCES.append(services)
    return services
