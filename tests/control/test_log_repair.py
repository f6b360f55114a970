"""The reconciler re-creates every known log on a log store node that (re)starts.

``create_log`` needs only a majority, so a node that was down when a log was created (or
whose disk was replaced) would never host it: the log would run on 2 of 3 nodes for ever.
Real acceptor processes under the reconciler (LocalProcessDriver, RealServices): a node is
down while the main log and a branch log are created and written; once the reconciler
restarts it, it hosts both logs (with their start LSNs), the proposers bring it up to date,
and it counts in the quorum (commits go on with another node dead). Same after a node's
disk is wiped.
"""

from __future__ import annotations

import shutil
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from control.driver import LocalProcessDriver
from control.reconciler import Policy, Reconciler, Stage
from control.services import RealServices
from control.spec import ClusterSpec
from control.state import BranchState, ClusterDir, ClusterState
from logstore.client import LogStoreClient
from logstore.errors import LogstoreError
from logstore.proposer import SyncProposer
from tests.support import port_block

TENANT = "default"
BRANCH = "b1"


class World:
    def __init__(self, tmp_path: Path) -> None:
        self.cdir = ClusterDir(tmp_path / "c")
        self.cdir.create()
        spec = ClusterSpec(dir=str(self.cdir.path), replicas=0, logstore_port=port_block(3),
                           logstore_fast_port=port_block(3))
        self.state = ClusterState(spec=spec)
        self.driver = LocalProcessDriver()
        self.services = RealServices(spec.logstore_addresses(), spec.pageserver_address())
        self.rec = Reconciler(self.cdir, self.state, self.driver, self.services,
                              Policy(tick_s=0.1))
        self.rec.stage = Stage(logstore=True, pageserver=False, primary=False, replicas=False)
        self.addrs = spec.logstore_addresses()

    def step_until(self, cond: Callable[[], bool], what: str, timeout: float = 30.0) -> None:
        deadline = time.monotonic() + timeout
        while True:
            self.rec.step()
            if cond():
                return
            assert time.monotonic() < deadline, f"{what}; events: {self.rec.events[-10:]}"
            time.sleep(0.1)

    def running(self, name: str) -> bool:
        comp = self.state.component(name)
        return comp is not None and comp.state == "running"

    def close(self) -> None:
        self.rec.close()
        self.services.close()
        self.driver.stop_all([c.name for c in self.state.components], grace_s=5)


@pytest.fixture
def world(tmp_path: Path) -> Iterator[World]:
    w = World(tmp_path)
    try:
        yield w
    finally:
        w.close()


def logs_on(addr: str) -> dict[str, int]:
    """log name -> start LSN on one node ({} if unreachable)."""
    try:
        with LogStoreClient([addr], timeout_s=1.0) as c:
            return {i.timeline: i.start_lsn for i in c.list_logs(addr)}
    except LogstoreError:
        return {}


def flush_on(addr: str, log: str) -> int:
    try:
        with LogStoreClient([addr], timeout_s=1.0) as c:
            return c.log_status(addr, TENANT, log).flush_lsn
    except LogstoreError:
        return -1


def wait_for(cond: Callable[[], bool], what: str, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while not cond():
        assert time.monotonic() < deadline, what
        time.sleep(0.05)


def test_a_restarted_or_wiped_node_gets_every_log_back(world: World) -> None:
    w = world
    names = ["logstore-1", "logstore-2", "logstore-3"]
    w.step_until(lambda: all(w.running(n) for n in names), "log store nodes up")
    w.state.bootstrapped = True

    # node 3 is down while the logs are created and written
    w.driver.kill("logstore-3")
    w.services.create_log(TENANT, "main", 0)
    main = SyncProposer(w.addrs, tenant=TENANT, timeline="main")
    branch: SyncProposer | None = None
    try:
        main.elect()
        x = main.append([b"main-%05d" % i * 30 for i in range(50)])
        w.services.create_log(TENANT, BRANCH, x)
        w.state.branches.append(BranchState(name=BRANCH, ancestor="main", ancestor_lsn=x))
        branch = SyncProposer(w.addrs, tenant=TENANT, timeline=BRANCH)
        branch.elect()
        y = branch.append([b"branch-%05d" % i * 30 for i in range(20)])
        assert logs_on(w.addrs[2]) == {}

        # the reconciler restarts node 3 and gives it both logs, with their start LSNs
        w.step_until(lambda: logs_on(w.addrs[2]) == {"main": 0, BRANCH: x},
                     "node 3 never got the logs back")
        # the proposers (still running, same term) bring it up to date
        wait_for(lambda: flush_on(w.addrs[2], "main") == main.proposer.end_lsn,
                 f"main on node 3 at {flush_on(w.addrs[2], 'main')}")
        wait_for(lambda: flush_on(w.addrs[2], BRANCH) == y, "branch log not resynced on node 3")

        # node 3 counts: with node 1 dead, commits still reach a majority
        w.driver.kill("logstore-1")
        end = main.append([b"after-%05d" % i * 30 for i in range(10)])
        assert main.commit_lsn == end
        assert branch.append([b"b-after"]) > y
        w.step_until(lambda: w.running("logstore-1") and logs_on(w.addrs[0]) != {},
                     "node 1 back")

        # node 2 loses its disk: restarted empty, it gets both logs again and resyncs
        w.driver.kill("logstore-2")
        shutil.rmtree(w.state.component("logstore-2").data_dir)  # type: ignore[union-attr]
        w.step_until(lambda: logs_on(w.addrs[1]) == {"main": 0, BRANCH: x},
                     "node 2 (new disk) never got the logs back")
        wait_for(lambda: flush_on(w.addrs[1], "main") == main.proposer.end_lsn,
                 "main not resynced on node 2")
    finally:
        main.close()
        if branch is not None:
            branch.close()
