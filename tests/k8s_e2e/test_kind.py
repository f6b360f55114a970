"""End to end on a real Kubernetes cluster (kind or k3d): install, create, scale, delete.

Skipped unless STRATA_K8S_E2E=1: these machines have no container runtime, so no API
server. Commands (docs/kubernetes.md):

    kind create cluster --name strata-e2e
    docker build -f operator/deploy/Dockerfile -t strata:latest .
    kind load docker-image strata:latest --name strata-e2e
    STRATA_K8S_E2E=1 python3 -m pytest -q tests/k8s_e2e
    kind delete cluster --name strata-e2e
"""

from __future__ import annotations

import json
import os
import subprocess
import time
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[2]
NS = "strata-e2e"
WAIT_S = 180.0
KUBECTL_TIMEOUT_S = 60.0

pytestmark = pytest.mark.skipif(
    os.environ.get("STRATA_K8S_E2E") != "1",
    reason="needs a Kubernetes cluster (kind/k3d); set STRATA_K8S_E2E=1 (see docs/kubernetes.md)")


def kubectl(*args: str, stdin: str | None = None) -> str:
    out = subprocess.run(["kubectl", *args], input=stdin, capture_output=True, text=True,
                         timeout=KUBECTL_TIMEOUT_S)
    if out.returncode != 0:
        raise AssertionError(f"kubectl {' '.join(args)}: {out.stderr}")
    return out.stdout


def get(kind: str, *args: str) -> Any:
    return json.loads(kubectl("-n", NS, "get", kind, *args, "-o", "json"))


def wait_for(what: str, check: Any) -> Any:
    deadline = time.monotonic() + WAIT_S
    while time.monotonic() < deadline:
        try:
            value = check()
        except AssertionError:
            value = None
        if value:
            return value
        time.sleep(2)
    raise AssertionError(f"timed out waiting for {what}")


def compute_pods() -> list[str]:
    pods = get("pods", "-l", "app.kubernetes.io/instance=e2e,app.kubernetes.io/component=compute")
    return sorted(p["metadata"]["name"] for p in pods["items"]
                  if not p["metadata"].get("deletionTimestamp"))


MINIO = """
apiVersion: v1
kind: Secret
metadata: {name: strata-s3, namespace: strata-e2e}
stringData: {AWS_ACCESS_KEY_ID: strata, AWS_SECRET_ACCESS_KEY: strata-e2e-secret}
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: minio, namespace: strata-e2e}
spec:
  selector: {matchLabels: {app: minio}}
  template:
    metadata: {labels: {app: minio}}
    spec:
      containers:
        - name: minio
          image: minio/minio:latest
          command: [sh, -c, "mkdir -p /data/strata-e2e && exec minio server /data"]
          env:
            - {name: MINIO_ROOT_USER, value: strata}
            - {name: MINIO_ROOT_PASSWORD, value: strata-e2e-secret}
          ports: [{containerPort: 9000}]
---
apiVersion: v1
kind: Service
metadata: {name: minio, namespace: strata-e2e}
spec:
  selector: {app: minio}
  ports: [{port: 9000, targetPort: 9000}]
"""


def test_install_create_scale_delete() -> None:
    kubectl("apply", "-f", str(ROOT / "operator/crds/stratacluster.yaml"))
    subprocess.run(["kubectl", "create", "namespace", NS], capture_output=True, timeout=60)
    for name in ("namespace.yaml", "rbac.yaml", "operator.yaml"):
        kubectl("apply", "-f", str(ROOT / "operator/deploy" / name))
    kubectl("-n", "strata-system", "rollout", "status", "deploy/strata-operator", "--timeout=180s")
    kubectl("apply", "-f", "-", stdin=MINIO)
    kubectl("-n", NS, "rollout", "status", "deploy/minio", "--timeout=180s")
    cluster = {"apiVersion": "strata.dev/v1alpha1", "kind": "StrataCluster",
               "metadata": {"name": "e2e", "namespace": NS},
               "spec": {"objectStore": {"bucket": "strata-e2e", "region": "us-east-1",
                                        "endpoint": f"http://minio.{NS}.svc:9000",
                                        "credentialsSecret": "strata-s3"},
                        "compute": {"replicas": 1},
                        "logstore": {"storage": "1Gi"}, "pageserver": {"storage": "1Gi"}}}
    kubectl("apply", "-f", "-", stdin=json.dumps(cluster))
    try:
        # invalid specs are refused by the API server (schema + CEL)
        bad = json.loads(json.dumps(cluster))
        bad["spec"]["logstore"]["replicas"] = 4
        out = subprocess.run(["kubectl", "apply", "--dry-run=server", "-f", "-"],
                             input=json.dumps(bad), capture_output=True, text=True, timeout=60)
        assert out.returncode != 0 and "must be odd" in out.stderr, out.stderr

        # storage first, then (after the operator's bootstrap) the computes, then Ready
        wait_for("the rendered objects", lambda: get("statefulsets")["items"]
                 and compute_pods() == ["e2e-compute-1", "e2e-compute-2"])
        wait_for("phase Ready", lambda: get("stratacluster", "e2e").get("status", {})
                 .get("phase") == "Ready")
        uid = get("stratacluster", "e2e")["metadata"]["uid"]
        for kind in ("statefulsets", "deployments", "services", "poddisruptionbudgets"):
            for obj in get(kind, "-l", "app.kubernetes.io/instance=e2e")["items"]:
                assert obj["metadata"]["ownerReferences"][0]["uid"] == uid, obj["metadata"]["name"]

        kubectl("-n", NS, "scale", "stratacluster/e2e", "--replicas=3")
        wait_for("4 computes", lambda: len(compute_pods()) == 4)
        wait_for("3 ready replicas", lambda: get("stratacluster", "e2e")["status"]
                 .get("readyReplicas") == 3)
        # failover: the primary pod dies, a replica is promoted through the control plane
        kubectl("-n", NS, "delete", "pod", "e2e-compute-1", "--grace-period=0", "--force")
        wait_for("a new primary", lambda: get("stratacluster", "e2e")["status"]
                 .get("primary") not in ("", "e2e-compute-1"))
        kubectl("-n", NS, "scale", "stratacluster/e2e", "--replicas=0")
        wait_for("1 compute", lambda: len(compute_pods()) == 1)
        status = wait_for("status", lambda: get("stratacluster", "e2e").get("status", {})
                          .get("conditions"))
        assert {c["type"] for c in status} >= {"PrimaryAvailable", "ReplicasReady"}
    finally:
        kubectl("-n", NS, "delete", "stratacluster", "e2e", "--wait=true", "--timeout=180s")
        subprocess.run(["kubectl", "-n", NS, "delete", "deploy/minio", "svc/minio"],
                       capture_output=True, timeout=60)
    wait_for("owned objects gone", lambda: not get("statefulsets")["items"] and not compute_pods())
