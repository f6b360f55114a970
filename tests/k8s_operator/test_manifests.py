"""Every manifest in operator/ and every object the renderer makes validates against the
Kubernetes 1.30 schemas (kubernetes-validate, offline, strict: unknown fields fail); the
example StrataCluster validates against the CRD's own schema; bad specs are refused with
the field named."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import jsonschema
import kubernetes_validate
import pytest
import yaml

from control import k8s_render

ROOT = Path(__file__).resolve().parents[2]
K8S_VERSION = "1.30.0"
MANIFESTS = sorted((ROOT / "operator").rglob("*.yaml"))


def docs(path: Path) -> list[dict[str, Any]]:
    return [d for d in yaml.safe_load_all(path.read_text()) if d]


def crd() -> dict[str, Any]:
    (doc,) = docs(ROOT / "operator" / "crds" / "stratacluster.yaml")
    return doc


def crd_schema() -> dict[str, Any]:
    return crd()["spec"]["versions"][0]["schema"]["openAPIV3Schema"]  # type: ignore[no-any-return]


def example() -> dict[str, Any]:
    (doc,) = docs(ROOT / "operator" / "deploy" / "example-stratacluster.yaml")
    return doc


def test_manifests_exist() -> None:
    names = {p.relative_to(ROOT).as_posix() for p in MANIFESTS}
    assert {"operator/crds/stratacluster.yaml", "operator/deploy/namespace.yaml",
            "operator/deploy/rbac.yaml", "operator/deploy/operator.yaml",
            "operator/deploy/example-stratacluster.yaml"} <= names


@pytest.mark.parametrize("path", MANIFESTS, ids=lambda p: p.name)
def test_manifest_validates_against_kubernetes_schema(path: Path) -> None:
    for doc in docs(path):
        if doc["kind"] == "StrataCluster":
            continue  # a custom resource: checked against the CRD below
        kubernetes_validate.validate(doc, K8S_VERSION, strict=True)


def test_rendered_objects_validate_against_kubernetes_schema() -> None:
    spec = example()["spec"]
    objects = k8s_render.render("demo", "default", spec, "uid-1")
    objects.append(k8s_render.auth_secret(
        "demo", "default", "uid-1", password="p", proxy_secret="s", users="postgres:x\n",
        topology_json=k8s_render.topology("demo", "default", "compute-1", ["compute-2"])))
    kinds = sorted({o["kind"] for o in objects})
    assert kinds == ["Deployment", "Pod", "PodDisruptionBudget", "Secret", "Service",
                     "StatefulSet"]
    for obj in objects:
        kubernetes_validate.validate(obj, K8S_VERSION, strict=True)
        assert obj["metadata"]["ownerReferences"][0]["uid"] == "uid-1"
        assert obj["metadata"]["labels"]["app.kubernetes.io/instance"] == "demo"


def test_strict_validation_catches_unknown_fields() -> None:
    """The validator is not a no-op: a misspelt field in a rendered object fails."""
    pod = next(o for o in k8s_render.render("x", "ns", {"objectStore": {"bucket": "b-1"}})
               if o["kind"] == "Pod")
    pod["spec"]["containers"][0]["commnd"] = ["x"]
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(pod, K8S_VERSION, strict=True)


def test_render_shape() -> None:
    spec = {"objectStore": {"bucket": "b-1", "endpoint": "http://s3.local:9000"},
            "logstore": {"replicas": 5}, "compute": {"replicas": 2},
            "branches": [{"name": "dev", "fromLsn": "0/1B18C"}]}
    objs = {k8s_render.key(o): o for o in k8s_render.render("x", "ns", spec)}
    sts = objs["StatefulSet", "x-logstore"]
    assert sts["spec"]["replicas"] == 5 and sts["spec"]["serviceName"] == "x-logstore"
    assert sts["spec"]["volumeClaimTemplates"][0]["spec"]["resources"]["requests"] == {
        "storage": "10Gi"}
    cmd = sts["spec"]["template"]["spec"]["containers"][0]["command"][2]
    assert "python3 -m strata logstore --id $(( ${HOSTNAME##*-} + 1 ))" in cmd
    assert "--listen 0.0.0.0:55401 --data-dir /data" in cmd
    assert '"s3://b-1/?endpoint_url=http://s3.local:9000"' in cmd
    assert objs["PodDisruptionBudget", "x-logstore"]["spec"]["maxUnavailable"] == 2
    assert objs["Service", "x-logstore"]["spec"]["clusterIP"] == "None"
    pods = sorted(n for k, n in objs if k == "Pod")
    assert pods == ["x-branch-dev", "x-compute-1", "x-compute-2", "x-compute-3"]
    primary = objs["Pod", "x-compute-1"]["spec"]["containers"][0]["command"]
    assert primary[primary.index("--role") + 1] == "primary"
    assert primary[primary.index("--logstore") + 1].split(",")[4] == \
        "x-logstore-4.x-logstore.ns.svc:55401"
    branch = objs["Pod", "x-branch-dev"]["spec"]["containers"][0]["command"]
    assert branch[branch.index("--timeline") + 1] == "dev"
    assert objs["Deployment", "x-proxy"]["spec"]["replicas"] == 1
    assert objs["Service", "x"]["spec"]["ports"][0]["targetPort"] == 55432


def test_pdb_keeps_a_majority() -> None:
    for n in (3, 5, 7, 9):
        spec = {"objectStore": {"bucket": "b-1"}, "logstore": {"replicas": n}}
        pdb = {k8s_render.key(o): o for o in k8s_render.render("x", "ns", spec)}[
            "PodDisruptionBudget", "x-logstore"]
        assert n - pdb["spec"]["maxUnavailable"] > n // 2  # what stays is a majority


def test_example_validates_against_the_crd_schema() -> None:
    jsonschema.validate(example(), crd_schema())
    versions = crd()["spec"]["versions"][0]
    assert versions["subresources"]["scale"] == {
        "specReplicasPath": ".spec.compute.replicas",
        "statusReplicasPath": ".status.readyReplicas"}


def _bad(change: Any) -> dict[str, Any]:
    doc = copy.deepcopy(example())
    change(doc["spec"])
    return doc


@pytest.mark.parametrize("change, field, schema_refuses", [
    (lambda s: s["logstore"].update(replicas=4), "spec.logstore.replicas", False),  # CEL
    (lambda s: s["logstore"].update(replicas=1), "spec.logstore.replicas", True),
    (lambda s: s["compute"].update(replicas=-1), "spec.compute.replicas", True),
    (lambda s: s["compute"].update(replicas=17), "spec.compute.replicas", True),
    (lambda s: s["objectStore"].pop("bucket"), "spec.objectStore.bucket", True),
    (lambda s: s["objectStore"].update(endpoint="minio:9000"), "spec.objectStore.endpoint", False),
    (lambda s: s["logstore"].update(storage="ten"), "spec.logstore.storage", True),
    (lambda s: s["branches"].append({"name": "b", "fromLsn": "0/1", "fromTime": "2026-01-01T00:00:00Z"}),
     "spec.branches[1]", False),
], ids=["even-logstores", "one-logstore", "negative-replicas", "too-many-replicas",
        "missing-bucket", "endpoint-not-url", "bad-storage", "lsn-and-time"])
def test_invalid_specs_are_refused(change: Any, field: str, schema_refuses: bool) -> None:
    doc = _bad(change)
    with pytest.raises(k8s_render.SpecInvalid) as err:
        k8s_render.render("demo", "default", doc["spec"])
    assert err.value.field == field
    if schema_refuses:
        with pytest.raises(jsonschema.ValidationError):
            jsonschema.validate(doc, crd_schema())
    else:  # said by a CEL rule in the CRD, which jsonschema cannot run: the rule is there
        assert "x-kubernetes-validations" in yaml.safe_dump(crd_schema())


def test_cel_rules_are_declared() -> None:
    text = yaml.safe_dump(crd())
    assert "self % 2 == 1" in text
    assert "!(has(self.fromLsn) && has(self.fromTime))" in text
