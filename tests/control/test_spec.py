"""Spec validation refuses bad specs before anything starts, naming the field."""

from __future__ import annotations

import socket
from pathlib import Path

import pytest

from control.spec import ClusterSpec, SpecError, env_overrides, validate
from tests.cluster_support import distinct_ports
from tests.support import free_port


def _spec(tmp_path: Path, **kw: object) -> ClusterSpec:
    # free ports of which no two collide (free_port() may repeat a just-released one)
    # (the proxy's too: its default 55432 lies in Linux's ephemeral range, so any client
    # socket of the suite may hold it for a moment; a CI run failed on that)
    logstore, fast, compute, pageserver, rest, proxy = distinct_ports()
    defaults: dict[str, object] = dict(dir=str(tmp_path), logstore_port=logstore, logstore_fast_port=fast,
                                       pageserver_port=pageserver,
                                       compute_port=compute, rest_port=rest, proxy_port=proxy,
                                       replicas=0)
    defaults.update(kw)
    return ClusterSpec(**defaults)  # type: ignore[arg-type]


def _field(spec: ClusterSpec, **kw: bool) -> str:
    with pytest.raises(SpecError) as info:
        validate(spec, **kw)
    assert info.value.field in str(info.value)
    return info.value.field


def test_good_spec_passes(tmp_path: Path) -> None:
    validate(_spec(tmp_path, logstores=1))


@pytest.mark.parametrize("n", [0, -1, 2, 4])
def test_logstore_count_must_be_odd_and_positive(tmp_path: Path, n: int) -> None:
    assert _field(_spec(tmp_path, logstores=n)) == "logstores"


def test_negative_replicas(tmp_path: Path) -> None:
    assert _field(_spec(tmp_path, replicas=-1)) == "replicas"


def test_too_many_replicas(tmp_path: Path) -> None:
    assert _field(_spec(tmp_path, replicas=10_000)) == "replicas"


@pytest.mark.parametrize("n", [-1, 10_001])
def test_replica_pack_out_of_range(tmp_path: Path, n: int) -> None:
    assert _field(_spec(tmp_path, replica_pack=n)) == "replica_pack"


def test_duplicated_port(tmp_path: Path) -> None:
    spec = _spec(tmp_path, logstores=1)
    spec.rest_port = spec.pageserver_port
    assert _field(spec, check_ports=False) == "rest_port"


def test_logstore_range_overlapping_compute(tmp_path: Path) -> None:
    spec = _spec(tmp_path, logstores=3)
    spec.compute_port = spec.logstore_port + 2
    assert _field(spec, check_ports=False) == "compute_port"


def test_port_in_use(tmp_path: Path) -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen()
        busy = s.getsockname()[1]
        assert _field(_spec(tmp_path, logstores=1, pageserver_port=busy)) == "pageserver_port"
        assert _field(_spec(tmp_path, logstores=1, rest_port=busy)) == "rest_port"


def test_invalid_port_number(tmp_path: Path) -> None:
    assert _field(_spec(tmp_path, logstores=1, rest_port=70000), check_ports=False) == "rest_port"


def test_unreachable_object_store(tmp_path: Path) -> None:
    a_file = tmp_path / "plain-file"
    a_file.write_text("x")
    assert _field(_spec(tmp_path, logstores=1, object_store=str(a_file / "objects"))) == "object_store"
    assert _field(_spec(tmp_path, logstores=1, object_store="ftp://example/x")) == "object_store"
    port = free_port()  # nothing listens there
    url = f"s3://bucket/p?endpoint_url=http://127.0.0.1:{port}&region=us-east-1"
    assert _field(_spec(tmp_path, logstores=1, object_store=url)) == "object_store"


def test_bad_ids(tmp_path: Path) -> None:
    assert _field(_spec(tmp_path, logstores=1, tenant="a/b")) == "tenant"
    assert _field(_spec(tmp_path, logstores=1, timeline="")) == "timeline"


def test_default_object_store_is_under_dir(tmp_path: Path) -> None:
    spec = ClusterSpec(dir=str(tmp_path))
    assert spec.object_store_url == str(tmp_path.resolve() / "objects")
    assert spec.compute_port == 55433 and spec.rest_port == 55480 and spec.pageserver_port == 55410
    assert spec.logstore_addresses() == ["127.0.0.1:55401", "127.0.0.1:55402", "127.0.0.1:55403"]


def test_env_overrides() -> None:
    env = {"STRATA_CLUSTER_REPLICAS": "3", "STRATA_CLUSTER_OBJECT_STORE": "/x"}
    assert env_overrides(env) == {"replicas": 3, "object_store": "/x"}
    with pytest.raises(SpecError) as info:
        env_overrides({"STRATA_CLUSTER_REST_PORT": "abc"})
    assert info.value.field == "rest_port"


def test_up_help_shows_the_defaults() -> None:
    """The defaults written in `strata up --help` (rich markup would eat a bare "[default: 3]")."""
    import os  # import here: only this test runs the CLI
    import subprocess
    import sys

    from tests.support import REPO

    done = subprocess.run([sys.executable, "-m", "strata", "up", "--help"], capture_output=True,
                          text=True, cwd=REPO, timeout=60, env=dict(os.environ, COLUMNS="200"))
    assert done.returncode == 0, done.stderr
    for shown in ("Read replicas [default: 1]", "Log store nodes (odd) [default: 3]",
                  "[default: 55401]", "the least busy [default: 8]", "password [default]"):
        assert shown in done.stdout, (shown, done.stdout)
