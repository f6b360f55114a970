"""Page server test fixtures: real `strata pageserver` processes on loopback, a WAL workload
generator with a reference model (page -> [(LSN, bytes)]), and the moto S3 server."""

from __future__ import annotations

import os
import random
import shutil
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from pageserver.client import PageServerClient
from pageserver.server import PageServer, ServerConf
from pageserver.timeline import TimelineConf
from strata.objectstore import ObjectStore, open_object_store
from strata.wal import PAGE_SIZE, PageImage, WalRecord, split_transaction
from tests.s3_fixture import S3Server, free_port, s3_server  # noqa: F401
from tests.support import stop_process

REPO = Path(__file__).resolve().parents[2]


class PageServerProc:
    """One `strata pageserver` process; restartable on the same or a wiped data dir."""

    def __init__(
        self, data_dir: Path, object_store: str, *args: str, env: dict[str, str] | None = None
    ):
        self.data_dir = data_dir
        self.object_store = object_store
        self.args = list(args)
        self.env = dict(env or {})
        self.proc: subprocess.Popen[str] | None = None
        self.port = 0
        self.metrics_port = 0
        self.lines: list[str] = []
        self.client: PageServerClient | None = None
        self.log_path = data_dir.parent / f"{data_dir.name}.log"

    @property
    def addr(self) -> str:
        return f"127.0.0.1:{self.port}"

    def start(self, *extra: str, env: dict[str, str] | None = None) -> PageServerProc:
        assert self.proc is None
        self.port, self.metrics_port = free_port(), free_port()
        cmd = [
            sys.executable, "-m", "strata.cli", "pageserver",
            "--listen", self.addr,
            "--data-dir", str(self.data_dir),
            "--object-store", self.object_store,
            "--metrics-listen", f"127.0.0.1:{self.metrics_port}",
            "--insecure", *self.args, *extra,
        ]  # fmt: skip
        full_env = dict(os.environ, PYTHONUNBUFFERED="1", **self.env, **(env or {}))
        self.lines = []
        log = open(self.log_path, "a")  # noqa: SIM115 - lives as long as the process
        self.proc = subprocess.Popen(
            cmd, cwd=REPO, env=full_env, stdout=subprocess.PIPE, stderr=log, text=True
        )
        threading.Thread(target=self._pump, args=(self.proc,), daemon=True).start()
        self.wait_line("pageserver listening", 60)
        self.client = PageServerClient(self.addr)
        return self

    def _pump(self, proc: subprocess.Popen[str]) -> None:
        assert proc.stdout is not None
        for line in proc.stdout:
            self.lines.append(line.rstrip("\n"))

    def wait_line(self, text: str, timeout: float = 30) -> None:
        deadline = time.monotonic() + timeout
        while not any(text in ln for ln in self.lines):
            assert self.proc is not None
            if self.proc.poll() is not None:
                raise AssertionError(
                    f"pageserver exited ({self.proc.returncode}) before {text!r}:\n"
                    + self.log_path.read_text()[-4000:]
                )
            if time.monotonic() > deadline:
                raise AssertionError(
                    f"no {text!r} within {timeout}s:\n" + self.log_path.read_text()[-4000:]
                )
            time.sleep(0.02)

    def kill(self) -> None:
        """SIGKILL: no flush, no goodbye."""
        if self.client is not None:
            self.client.close()
            self.client = None
        if self.proc is not None:
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait(10)
            self.proc = None

    def stop(self) -> None:
        if self.client is not None:
            self.client.close()
            self.client = None
        stop_process(self.proc)
        self.proc = None

    def wipe_disk(self) -> None:
        assert self.proc is None
        shutil.rmtree(self.data_dir, ignore_errors=True)

    @property
    def c(self) -> PageServerClient:
        assert self.client is not None
        return self.client


@pytest.fixture(params=["local", "s3"])
def object_store_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "local":
        return str(tmp_path / "objects")
    server: S3Server = request.getfixturevalue("s3_server")
    return server.url("ps")


@pytest.fixture
def ps_factory(tmp_path: Path) -> Iterator[object]:
    procs: list[PageServerProc] = []

    def make(
        object_store: str | None = None, *args: str, env: dict[str, str] | None = None
    ) -> PageServerProc:
        p = PageServerProc(
            tmp_path / f"ps{len(procs)}", object_store or str(tmp_path / "objects"), *args, env=env
        )
        procs.append(p)
        return p

    yield make
    for p in procs:
        p.stop()


def open_store(url: str) -> ObjectStore:
    return open_object_store(url)


# ---------------------------------------------------------------------- workload model


@dataclass
class Workload:
    """Random transactions over a few databases, with the reference model of every page.

    ``start_lsn`` lets a branch continue its ancestor's LSN space. Includes chunked
    transactions, abandoned transactions (never committed) and database truncation.
    """

    seed: int
    start_lsn: int = 0
    dbs: tuple[int, ...] = (0, 7)
    base: Workload | None = None  # ancestor model below branch_lsn
    branch_lsn: int = 0
    records: list[tuple[int, bytes]] = field(default_factory=list)
    pages: dict[tuple[int, int], list[tuple[int, bytes]]] = field(default_factory=dict)
    sizes: dict[int, list[tuple[int, int]]] = field(default_factory=dict)
    commits: list[tuple[int, int]] = field(default_factory=list)  # (lsn, ts_us)

    def __post_init__(self) -> None:
        self.rng = random.Random(self.seed)
        self.lsn = self.start_lsn
        self.xid = self.seed * 1_000_000
        self.ts = 1_700_000_000_000_000 + self.seed * 10_000_000_000 + self.start_lsn

    def _page(self, db: int, page: int) -> bytes:
        head = f"db{db} p{page} x{self.xid} s{self.seed} ".encode()
        block = self.rng.randbytes(32)
        return (head + block * (PAGE_SIZE // 32))[:PAGE_SIZE]

    def _emit(self, rec: WalRecord) -> int:
        payload = rec.encode()
        self.records.append((self.lsn, payload))
        self.lsn += len(payload)
        return self.lsn

    def cur_size(self, db: int) -> int:
        v = self.expected_size(db, self.lsn)
        return v or 0

    def txn(self) -> int:
        """One committed transaction (maybe preceded by an abandoned one). Returns its LSN."""
        rng = self.rng
        if rng.random() < 0.05:  # an abandoned transaction: chunks that never commit
            self.xid += 1
            ghost = [PageImage(self.dbs[0], 0, b"GHOST" * 800)]
            self._emit(WalRecord(self.xid, False, 0, (), tuple(ghost)))
        self.xid += 1
        self.ts += rng.randint(1000, 50_000)
        db = rng.choice(self.dbs)
        size = self.cur_size(db)
        writes: dict[int, bytes] = {}
        r = rng.random()
        if size == 0 or r < 0.25:  # grow
            new = size + rng.randint(1, 6)
            for p in range(size, new):
                writes[p] = self._page(db, p)
            size = new
        elif r < 0.30 and size > 4:  # truncate
            size = size - rng.randint(1, 3)
        for _ in range(rng.randint(1, 5)):
            if size:
                p = rng.randrange(size)
                writes[p] = self._page(db, p)
        max_bytes = 3 * (PAGE_SIZE + 64) if rng.random() < 0.2 else 256 * 1024
        return self.commit(db, size, writes, max_bytes)

    def commit(self, db: int, size: int, writes: dict[int, bytes], max_bytes: int) -> int:
        """Emit transaction ``self.xid`` writing ``writes`` (database ``db`` now ``size``
        pages), in records of at most ``max_bytes``, and remember what it wrote. Its LSN."""
        images = [PageImage(db, p, d) for p, d in sorted(writes.items())]
        end = 0
        for rec in split_transaction(self.xid, images, ((db, size),), self.ts, max_bytes):
            end = self._emit(rec)
        for p, d in writes.items():
            self.pages.setdefault((db, p), []).append((end, d))
        self.sizes.setdefault(db, []).append((end, size))
        self.commits.append((end, self.ts))
        return end

    def run(self, n: int) -> int:
        for _ in range(n):
            self.txn()
        return self.lsn

    def expected_size(self, db: int, lsn: int) -> int | None:
        best = None
        for at, n in self.sizes.get(db, []):
            if at <= lsn:
                best = n
        if best is None and self.base is not None:
            return self.base.expected_size(db, min(lsn, self.branch_lsn))
        return best

    def expected(self, db: int, page: int, lsn: int) -> bytes | None:
        best = None
        for at, d in self.pages.get((db, page), []):
            if at <= lsn:
                best = d
        if best is None and self.base is not None:
            return self.base.expected(db, page, min(lsn, self.branch_lsn))
        return best

    def records_from(self, lsn: int) -> list[tuple[int, bytes]]:
        return [(s, p) for s, p in self.records if s + len(p) > lsn]

    def sample(
        self, rng: random.Random, n: int, min_lsn: int = 0, max_lsn: int | None = None
    ) -> list[tuple[int, int, int]]:
        """(db, page, lsn) triples: commit LSNs, LSNs between records, and the end."""
        top = self.lsn if max_lsn is None else max_lsn
        points = [c for c, _ in self.commits if min_lsn <= c <= top] + [top]
        out = []
        for _ in range(n):
            db = rng.choice(self.dbs)
            lsn = rng.choice(points)
            if rng.random() < 0.3:
                lsn = rng.randint(max(min_lsn, self.start_lsn), top)
            size = self.expected_size(db, lsn) or 0
            page = rng.randrange(size + 2) if size else rng.randrange(3)
            out.append((db, page, lsn))
        return out


def push(
    ps: PageServerProc,
    tenant: str,
    timeline: str,
    records: list[tuple[int, bytes]],
    batch: int = 64,
) -> int:
    last = 0
    for i in range(0, len(records), batch):
        last = ps.c.ingest(tenant, timeline, records[i : i + batch])
    return last


def check_samples(
    ps: PageServerProc,
    tenant: str,
    timeline: str,
    wl: Workload,
    n: int = 200,
    seed: int = 1,
    min_lsn: int = 0,
    max_lsn: int | None = None,
) -> int:
    """GetPage/DbSize for sampled (page, LSN) pairs must equal the model. Returns #checked."""
    from pageserver.client import PagePastEnd

    rng = random.Random(seed)
    checked = 0
    for db, page, lsn in wl.sample(rng, n, min_lsn, max_lsn):
        size = wl.expected_size(db, lsn)
        assert ps.c.db_size(tenant, timeline, db, lsn) == (size or 0), (db, lsn)
        want = wl.expected(db, page, lsn)
        if size is not None and page >= size:
            with pytest.raises(PagePastEnd):
                ps.c.get_page(tenant, timeline, db, page, lsn)
        else:
            got = ps.c.get_page(tenant, timeline, db, page, lsn)
            assert got == want, f"db {db} page {page} @ {lsn}: got {got[:40] if got else None!r}"
        checked += 1
    return checked


def in_process_server(tmp_path: Path, name: str = "data", **conf: Any) -> PageServer:
    """A started page server object in this process (no housekeeping, no automatic compaction,
    no retention window): tests drive its timelines directly."""
    tconf = TimelineConf(retention_lsn=0, wait_lsn_timeout_s=1.0)
    ps = PageServer(ServerConf(data_dir=str(tmp_path / name), object_store=str(tmp_path / "objects"),
                               housekeeping_interval_s=3600, auto_compact=False, timeline=tconf,
                               **conf))
    ps.start()
    return ps


@pytest.fixture
def servers() -> Iterator[list[PageServer]]:
    """In-process page servers a test appends to (and may remove after stopping one itself):
    stopped at the end."""
    made: list[PageServer] = []
    yield made
    for ps in made:
        ps.stop()

