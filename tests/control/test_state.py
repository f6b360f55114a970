"""The cluster directory: atomic cluster.json, a private random token."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest

from control.spec import ClusterSpec
from control.state import BranchState, ClusterDir, ClusterState, ComponentState, NoCluster


def test_roundtrip_and_token(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    cdir = ClusterDir(tmp_path / "c")
    with pytest.raises(NoCluster):
        cdir.load()
    cdir.create()
    state = ClusterState(spec=ClusterSpec(dir=str(cdir.path), replicas=2))
    state.components.append(ComponentState(kind="compute", name="compute-1", role="primary",
                                           address="127.0.0.1:1234", timeline="main", pid=42))
    state.branches.append(BranchState(name="dev", ancestor="main", ancestor_lsn=99))
    cdir.save(state)
    loaded = cdir.load()
    assert loaded.spec.replicas == 2
    assert loaded.components[0].pid == 42 and loaded.components[0].port == 1234
    assert loaded.branch("dev") is not None and loaded.branch("dev").ancestor_lsn == 99  # type: ignore[union-attr]
    assert not list(cdir.path.glob(".*.tmp.*"))

    token = cdir.ensure_token()
    assert len(token) >= 32
    assert stat.S_IMODE(cdir.token_file.stat().st_mode) == 0o600
    assert cdir.ensure_token() == token  # stable
    monkeypatch.delenv("STRATA_ADMIN_TOKEN", raising=False)
    assert cdir.token() == token
    monkeypatch.setenv("STRATA_ADMIN_TOKEN", "from-env")
    assert cdir.token() == "from-env"
    other = ClusterDir(tmp_path / "d")
    other.create()
    assert other.ensure_token() != token
