"""A real cluster on 127.0.0.1 for the shared-storage compute tests: 3 log store acceptors,
a page server fed from the log store, computes (`strata compute --role ...`) as processes."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from tests.support import REPO, free_port, stop_process, wait_for_port

TENANT = "t1"
TIMELINE = "main"


class Proc:
    """A child process with a fixed port and log file; can be SIGKILLed and restarted."""

    def __init__(self, name: str, root: Path, args: list[str], port: int) -> None:
        self.name = name
        self.root = root
        self.args = args
        self.port = port
        self.log_path = root / f"{name}.log"
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def addr(self) -> str:
        return f"127.0.0.1:{self.port}"

    def start(self, wait: bool = True, timeout: float = 60.0) -> Proc:
        assert self.proc is None or self.proc.poll() is not None
        env = dict(os.environ, PYTHONUNBUFFERED="1")
        with open(self.log_path, "ab") as log:
            self.proc = subprocess.Popen([sys.executable, "-m", "strata", *self.args],
                                         stdout=log, stderr=subprocess.STDOUT, cwd=REPO, env=env)
        if wait:
            try:
                wait_for_port(self.port, self.proc, timeout)
            except Exception as exc:
                raise RuntimeError(f"{self.name} did not start: {self.log_tail()}") from exc
        return self

    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def kill(self) -> None:
        if self.alive():
            assert self.proc is not None
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait(10)

    def signal(self, sig: int) -> None:
        assert self.proc is not None
        self.proc.send_signal(sig)

    def stop(self) -> None:
        stop_process(self.proc)

    def log_tail(self, n: int = 4000) -> str:
        try:
            return self.log_path.read_text(errors="replace")[-n:]
        except OSError:
            return ""


class Cluster:
    """3 acceptors + 1 page server; ``compute(role)`` makes compute processes."""

    def __init__(self, root: Path, n_acceptors: int = 3) -> None:
        self.root = root
        self.acceptors = [
            Proc(f"acceptor-{i}", root,
                 ["logstore", "--id", str(i), "--data-dir", str(root / f"acceptor-{i}"), "--insecure"],
                 port)
            for i, port in ((i, free_port()) for i in range(1, n_acceptors + 1))
        ]
        for a in self.acceptors:
            a.args += ["--listen", a.addr]
        ps_port = free_port()
        self.pageserver = Proc("pageserver", root, [], ps_port)
        self.pageserver.args = [
            "pageserver", "--listen", self.pageserver.addr, "--data-dir", str(root / "ps"),
            "--object-store", str(root / "objects"), "--logstore", self.logstore_arg,
            "--insecure",
        ]
        self.computes: list[Proc] = []

    @property
    def logstore_addrs(self) -> list[str]:
        return [a.addr for a in self.acceptors]

    @property
    def logstore_arg(self) -> str:
        return ",".join(self.logstore_addrs)

    def start(self) -> Cluster:
        for a in self.acceptors:
            a.start(wait=False)
        for a in self.acceptors:
            assert a.proc is not None
            wait_for_port(a.port, a.proc, 30)
        self.pageserver.start()
        from logstore.client import LogStoreClient
        from pageserver.client import PageServerClient

        with LogStoreClient(self.logstore_addrs) as ls:
            deadline = time.monotonic() + 20
            while True:
                try:
                    ls.create_log(TENANT, TIMELINE)
                    break
                except Exception:
                    if time.monotonic() > deadline:
                        raise
                    time.sleep(0.1)
        with PageServerClient(self.pageserver.addr) as ps:
            ps.create_timeline(TENANT, TIMELINE, wal_source="logstore", log_timeline=TIMELINE)
        return self

    def compute_args(self, role: str, name: str, port: int, *extra: str) -> list[str]:
        return ["compute", "--role", role, "--listen", f"127.0.0.1:{port}",
                "--logstore", self.logstore_arg, "--pageserver", self.pageserver.addr,
                "--tenant", TENANT, "--timeline", TIMELINE, "--node-name", name, "--insecure",
                *extra]

    def compute(self, role: str, name: str, *extra: str, port: int | None = None) -> Proc:
        port = port or free_port()
        p = Proc(name, self.root, self.compute_args(role, name, port, *extra), port)
        self.computes.append(p)
        return p

    def ingested_lsn(self) -> int:
        from pageserver.client import PageServerClient

        with PageServerClient(self.pageserver.addr) as ps:
            return int(ps.timeline(TENANT, TIMELINE).last_record_lsn)

    def close(self) -> None:
        for p in [*self.computes, self.pageserver, *self.acceptors]:
            if p.alive() and p.proc is not None:
                try:
                    p.proc.send_signal(signal.SIGCONT)
                except ProcessLookupError:
                    pass
            p.stop()
