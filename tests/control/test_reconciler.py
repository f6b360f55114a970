"""Reconciler decisions with a fake driver, fake services and a fake clock."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from control.errors import Conflict, InvalidRequest, NotFound, Unavailable
from control.reconciler import Policy, Reconciler, format_lsn, parse_lsn
from control.spec import ClusterSpec
from control.state import ClusterDir, ClusterState
from tests.control.fakes import FakeDriver, FakeServices


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


class World:
    def __init__(self, tmp_path: Path, replicas: int = 1, **policy: float) -> None:
        self.cdir = ClusterDir(tmp_path / "c")
        self.cdir.create()
        spec = ClusterSpec(dir=str(self.cdir.path), replicas=replicas, compute_port=56433)
        self.state = ClusterState(spec=spec)
        self.driver = FakeDriver()
        self.services = FakeServices(self.driver)
        self.clock = Clock()
        self.rec = Reconciler(self.cdir, self.state, self.driver, self.services,
                              Policy(status_timeout_s=2.0, **policy), clock=self.clock,
                              port_free=lambda host, port: True)

    def steps(self, n: int = 1, dt: float = 0.5) -> None:
        for _ in range(n):
            self.rec.step()
            self.clock.now += dt

    def comp(self, name: str):  # type: ignore[no-untyped-def]
        c = self.state.component(name)
        assert c is not None
        return c

    def roles(self) -> dict[str, str]:
        return {c.name: c.role for c in self.state.components if c.kind == "compute"}


def test_brings_up_the_spec(tmp_path: Path) -> None:
    w = World(tmp_path, replicas=2)
    w.steps(3)
    names = sorted(c.name for c in w.state.components)
    assert names == ["compute-1", "compute-2", "compute-3", "logstore-1", "logstore-2",
                     "logstore-3", "pageserver-1", "proxy-1"]
    assert all(c.state == "running" for c in w.state.components), w.state.components
    assert w.roles() == {"compute-1": "primary", "compute-2": "replica", "compute-3": "replica"}
    assert w.comp("compute-1").address == "127.0.0.1:56433"
    assert w.driver.role_of("compute-2") == "replica"
    argv = w.driver.running["compute-1"].argv
    assert argv[argv.index("--logstore") + 1] == "127.0.0.1:55401,127.0.0.1:55402,127.0.0.1:55403"
    assert argv[argv.index("--timeline") + 1] == "main"
    # persisted
    assert {c.name for c in w.cdir.load().components} == set(names)
    status = w.rec.status()
    assert status["dsn"] == "postgresql://postgres@127.0.0.1:55432/postgres"  # the proxy
    assert status["primary_dsn"] == "postgresql://postgres@127.0.0.1:56433/postgres"
    topology = json.loads((w.cdir.path / "topology.json").read_text())
    assert topology == {"primary": "127.0.0.1:56433", "replicas": ["127.0.0.1:56434", "127.0.0.1:56435"]}
    proxy_argv = w.driver.running["proxy-1"].argv
    assert proxy_argv[proxy_argv.index("--topology") + 1] == str(w.cdir.path / "topology.json")
    assert "--insecure" not in proxy_argv and "--internal-tls-dir" not in proxy_argv
    replica = next(c for c in status["components"] if c["name"] == "compute-2")
    assert replica["lag_bytes"] == 5000 and replica["role"] == "replica"


def test_restart_with_backoff_then_failed(tmp_path: Path) -> None:
    w = World(tmp_path, replicas=0, max_restarts=3, backoff_base_s=1.0, backoff_max_s=4.0)
    w.steps(2)
    ls = w.comp("logstore-2")
    starts = lambda: w.driver.starts.count("logstore-2")  # noqa: E731
    assert starts() == 1
    w.driver.crash("logstore-2")
    w.steps(1, dt=0.0)
    assert starts() == 2 and ls.restarts == 1  # first restart: immediate
    w.driver.crash("logstore-2")
    w.steps(1, dt=0.0)
    assert starts() == 2 and ls.state == "backoff"  # second: waits backoff_base_s
    w.clock.now += 0.9
    w.steps(1, dt=0.0)
    assert starts() == 2
    w.clock.now += 0.2
    w.steps(1, dt=0.0)
    assert starts() == 3 and ls.restarts == 2
    w.driver.crash("logstore-2")
    w.steps(1, dt=0.0)
    w.clock.now += 1.9
    w.steps(1, dt=0.0)
    assert starts() == 3  # third waits 2 s
    w.clock.now += 0.2
    w.steps(1, dt=0.0)
    assert starts() == 4 and ls.restarts == 3
    w.driver.crash("logstore-2")
    w.steps(5, dt=5.0)
    assert ls.state == "failed" and "gave up after 3 restarts" in ls.detail
    assert starts() == 4
    assert w.rec.status()["components"][1]["state"] == "failed"


def test_stable_component_resets_restart_count(tmp_path: Path) -> None:
    w = World(tmp_path, replicas=0, stable_s=10.0)
    w.steps(2)
    w.driver.crash("pageserver-1")
    w.steps(2)
    assert w.comp("pageserver-1").restarts == 1
    w.steps(30, dt=0.5)
    assert w.comp("pageserver-1").restarts == 0


def test_start_failure_counts_as_crash(tmp_path: Path) -> None:
    w = World(tmp_path, replicas=0, max_restarts=2, backoff_base_s=0.1)
    w.driver.fail_start.add("logstore-1")
    w.steps(10)
    assert w.comp("logstore-1").state == "failed"
    assert "start failed" in w.comp("logstore-1").detail


def test_dead_primary_promotes_most_caught_up_replica(tmp_path: Path) -> None:
    w = World(tmp_path, replicas=3)
    w.steps(3)
    w.services.replay.update({"compute-2": 100, "compute-3": 300, "compute-4": 200})
    w.steps(1)
    w.driver.crash("compute-1")
    w.steps(1, dt=0.0)
    assert w.services.promoted == ["compute-3"]
    assert w.roles() == {"compute-1": "replica", "compute-2": "replica",
                         "compute-3": "primary", "compute-4": "replica"}
    assert w.driver.role_of("compute-1") == "replica"  # the slot came back as a replica
    assert w.rec.status()["primary_dsn"].endswith(f":{w.comp('compute-3').port}/postgres")
    topology = json.loads((w.cdir.path / "topology.json").read_text())
    assert topology["primary"] == w.comp("compute-3").address


def test_fenced_primary_is_replaced(tmp_path: Path) -> None:
    w = World(tmp_path, replicas=1)
    w.steps(3)
    w.services.states["compute-1"] = "fenced"
    w.steps(1, dt=0.0)
    assert w.services.promoted == ["compute-2"]
    assert "compute-1" in w.driver.kills
    assert w.roles() == {"compute-1": "replica", "compute-2": "primary"}


def test_unreachable_primary_after_dead_after(tmp_path: Path) -> None:
    w = World(tmp_path, replicas=1, dead_after_s=1.0)
    w.steps(3)
    w.services.unreachable.add("compute-1")
    w.steps(1, dt=0.6)
    w.steps(1, dt=0.6)
    assert w.services.promoted == []  # 0.6 s is not yet dead
    w.steps(2, dt=0.6)
    assert w.services.promoted == ["compute-2"]


def test_hung_primary_is_failed_over_after_status_hang(tmp_path: Path) -> None:
    """A frozen primary (SIGSTOP, a stuck loop) accepts the status connection and never
    answers: the poll used to stay "slow" forever and the primary was never failed over."""
    w = World(tmp_path, replicas=1, dead_after_s=1.0, status_hang_s=5.0)
    w.rec.policy.status_timeout_s = 0.05  # the step's wait for the blocked poll
    w.steps(3)
    w.services.hung.add("compute-1")
    try:
        w.steps(8, dt=0.5)  # 4 s: slow, not yet hung
        assert w.services.promoted == []
        assert w.roles() == {"compute-1": "primary", "compute-2": "replica"}
        w.steps(4, dt=0.5)
        assert w.services.promoted == ["compute-2"]
        assert "compute-1" in w.driver.kills
    finally:
        w.services.unhung.set()


def test_hung_replica_is_not_promoted(tmp_path: Path) -> None:
    w = World(tmp_path, replicas=2, dead_after_s=1.0, status_hang_s=2.0)
    w.rec.policy.status_timeout_s = 0.05
    w.steps(3)
    w.services.replay.update({"compute-2": 900, "compute-3": 500})
    w.steps(1)
    w.services.hung.add("compute-2")  # the most caught-up replica freezes
    try:
        w.steps(6, dt=0.5)
        w.driver.crash("compute-1")
        w.steps(2, dt=0.0)
        assert w.services.promoted == ["compute-3"]
    finally:
        w.services.unhung.set()


def test_no_replica_restarts_a_fresh_primary(tmp_path: Path) -> None:
    w = World(tmp_path, replicas=0)
    w.steps(3)
    w.driver.crash("compute-1")
    w.steps(1, dt=0.0)
    assert w.services.promoted == []
    assert w.driver.role_of("compute-1") == "primary"
    assert w.driver.starts.count("compute-1") == 2


def test_replica_not_serving_is_not_promoted(tmp_path: Path) -> None:
    w = World(tmp_path, replicas=1)
    w.steps(3)
    w.services.unreachable.add("compute-2")
    w.steps(1)
    w.driver.crash("compute-1")
    w.steps(1, dt=0.0)
    assert w.services.promoted == []
    assert w.driver.role_of("compute-1") == "primary"


def test_scale_up_and_down(tmp_path: Path) -> None:
    w = World(tmp_path, replicas=1)
    w.steps(3)
    w.rec.set_replicas(3)
    w.steps(2)
    assert sorted(w.roles().values()) == ["primary", "replica", "replica", "replica"]
    ports = sorted(c.port for c in w.state.components if c.kind == "compute")
    assert ports == [56433, 56434, 56435, 56436]
    w.rec.set_replicas(1)
    w.steps(1)
    assert w.roles() == {"compute-1": "primary", "compute-2": "replica"}
    assert sorted(w.driver.stops) == ["compute-3", "compute-4"]
    assert w.cdir.load().spec.replicas == 1
    with pytest.raises(InvalidRequest):
        w.rec.set_replicas(-1)


def test_scale_down_never_removes_the_primary(tmp_path: Path) -> None:
    w = World(tmp_path, replicas=2)
    w.steps(3)
    w.driver.crash("compute-1")
    w.services.replay["compute-3"] = 10
    w.steps(1)
    assert w.roles()["compute-3"] == "primary"
    w.rec.set_replicas(0)
    w.steps(1)
    assert w.roles() == {"compute-3": "primary"}


def test_planned_failover(tmp_path: Path) -> None:
    w = World(tmp_path, replicas=0)
    w.steps(3)
    with pytest.raises(Conflict):
        w.rec.failover()
    w.rec.set_replicas(1)
    w.steps(2)
    result = w.rec.failover()
    assert result["primary"] == "compute-2" and result["previous"] == "compute-1"
    assert "compute-1" in w.driver.stops  # graceful
    w.steps(1)
    assert w.driver.role_of("compute-1") == "replica"
    assert w.comp("compute-1").restarts == 0


def test_refused_planned_failover_keeps_the_primary(tmp_path: Path) -> None:
    w = World(tmp_path, replicas=1)
    w.steps(3)
    w.services.refuse_promote.add("compute-2")
    with pytest.raises(Unavailable, match="could not promote"):
        w.rec.failover()
    w.steps(2)
    assert w.roles() == {"compute-1": "primary", "compute-2": "replica"}
    assert w.driver.stops == [] and w.driver.kills == []
    assert w.driver.starts.count("compute-1") == 1


def test_branches(tmp_path: Path) -> None:
    w = World(tmp_path, replicas=0)
    w.steps(3)
    with pytest.raises(InvalidRequest, match="future"):
        w.rec.create_branch("dev", lsn=w.services.commit + 1)
    b = w.rec.create_branch("dev", lsn=1234)
    assert b["ancestor_lsn"] == 1234 and w.services.logs["dev"] == 1234
    assert w.services.timelines["dev"] == 1234
    latest = w.rec.create_branch("dev2")
    assert latest["ancestor_lsn"] == w.services.commit
    pitr = w.rec.create_branch("r1", timestamp_us=1, kind="restore")
    assert pitr["ancestor_lsn"] == 4000 and w.services.logs["r1"] == 4000
    with pytest.raises(Conflict):
        w.rec.create_branch("dev")
    with pytest.raises(Conflict):
        w.rec.create_branch("main")
    w.steps(2)
    comp = w.comp("branch-dev")
    assert comp.role == "primary" and comp.timeline == "dev" and comp.state == "running"
    argv = w.driver.running["branch-dev"].argv
    assert argv[argv.index("--timeline") + 1] == "dev"
    assert len({c.port for c in w.state.components}) == len(w.state.components)
    assert [b["state"] for b in w.rec.list_branches()] == ["running"] * 3
    w.rec.delete_branch("dev")
    assert "branch-dev" not in w.driver.running and "dev" not in w.services.logs
    assert "dev" not in w.services.timelines
    with pytest.raises(NotFound):
        w.rec.delete_branch("dev")
    with pytest.raises(Conflict):
        w.rec.delete_branch("main")
    # a branch primary that dies with no replica restarts as a primary of its branch
    w.driver.crash("branch-dev2")
    w.steps(1)
    assert w.driver.role_of("branch-dev2") == "primary"


def test_lsn_text() -> None:
    assert parse_lsn("0/16B3748") == 0x16B3748
    assert parse_lsn("1/0") == 1 << 32
    assert parse_lsn(42) == 42 and parse_lsn("42") == 42
    assert format_lsn((3 << 32) | 0x10) == "3/10"
    for bad in ("x", "1/ffffffffff", "-1", -5):
        with pytest.raises(InvalidRequest):
            parse_lsn(bad)
