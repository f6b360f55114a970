"""SIGKILL at the worst moments of upload and compaction, and bad input of every kind."""

from __future__ import annotations

import os
import threading
import time
import urllib.request
from pathlib import Path

import grpc
import pytest

from pageserver.client import LsnNotReached, PageNotFound, PagePastEnd, PageServerError
from strata.wal import WalRecord
from tests.pageserver.conftest import Workload, check_samples, push
from tests.pageserver.test_lifecycle import manifest_names_existing_layers

T = "t"


def _maintenance_until_killed(ps, op: str) -> None:
    """Runs in a thread; the call is expected to die with the process."""
    try:
        ps.c.maintenance(T, "main", op)
    except (PageServerError, AssertionError):
        pass


@pytest.mark.parametrize(
    "failpoint",
    [
        "after-layer-upload=pause@3",  # layer object uploaded, manifest not yet
        "before-manifest-upload=pause@4",  # ditto, one step later
        "before-layer-upload=pause@3",  # layer written locally, not uploaded
        "compaction-after-write=pause",  # image written locally mid-compaction
        "compaction-image-upload",  # image uploaded, its manifest not
    ],
)
def test_kill9_mid_upload_and_compaction(ps_factory, failpoint: str, tmp_path: Path) -> None:
    compaction = failpoint.startswith("compaction")
    if failpoint == "compaction-image-upload":
        failpoint = "after-layer-upload=pause@4"  # 3 deltas then the image
    ps = ps_factory(None, "--checkpoint-mb", "100", "--no-auto-compact").start(
        env={"STRATA_PAGESERVER_FAILPOINTS": failpoint}
    )
    ps.c.create_timeline(T, "main")
    wl = Workload(seed=9)
    wl.run(240)
    n = len(wl.records)
    name = failpoint.split("=")[0]
    for i in range(3):  # three flushes -> three deltas
        push(ps, T, "main", wl.records[i * n // 4 : (i + 1) * n // 4])
        if compaction or i < 2:
            ps.c.maintenance(T, "main", "flush")
        else:
            threading.Thread(
                target=_maintenance_until_killed, args=(ps, "flush"), daemon=True
            ).start()
    if compaction:
        threading.Thread(
            target=_maintenance_until_killed, args=(ps, "compact"), daemon=True
        ).start()
    ps.wait_line(f"FAILPOINT {name}", 30)
    ps.kill()

    manifest_names_existing_layers(ps.object_store)
    for wipe in (False, True):
        if wipe:
            ps.kill()
            ps.wipe_disk()
        ps.start(env={"STRATA_PAGESERVER_FAILPOINTS": ""})
        manifest_names_existing_layers(ps.object_store)
        info = ps.c.timeline(T, "main")
        assert info.last_record_lsn == info.remote_consistent_lsn
        check_samples(ps, T, "main", wl, 80, seed=1, max_lsn=info.last_record_lsn)
        push(ps, T, "main", wl.records_from(info.last_record_lsn))
        check_samples(ps, T, "main", wl, 80, seed=2)
        ps.c.maintenance(T, "main", "flush")
        ps.c.maintenance(T, "main", "compact")
        manifest_names_existing_layers(ps.object_store)
    # no orphaned layer objects are left behind either
    store_dir = Path(ps.object_store)
    listed = {p.name for p in store_dir.rglob("layers/*")}
    named = {
        layer["name"]
        for m in manifest_names_existing_layers(ps.object_store).values()
        for layer in m["layers"]
    }
    assert listed == named


def test_bad_input(ps_factory) -> None:
    ps = ps_factory(None, "--checkpoint-mb", "0.2", "--no-auto-compact").start()
    ps.c.create_timeline(T, "main")
    wl = Workload(seed=3)
    wl.run(80)
    push(ps, T, "main", wl.records)
    c = ps.c

    with pytest.raises(PageNotFound, match="unknown tenant"):
        c.get_page("nope", "main", 0, 0, 1)
    with pytest.raises(PageNotFound, match="unknown timeline"):
        c.get_page(T, "nope", 0, 0, 1)
    with pytest.raises(PageNotFound):
        c.db_size(T, "nope", 0, 1)

    t0 = time.monotonic()
    with pytest.raises(
        LsnNotReached, match=f"waiting for LSN {wl.lsn + 100}.*ingested up to {wl.lsn}"
    ):
        c.get_page(T, "main", 0, 0, wl.lsn + 100, wait_ms=400)
    assert 0.35 < time.monotonic() - t0 < 3
    # a wait that is satisfied while waiting succeeds
    more = Workload(seed=3)
    more.run(81)
    tail = more.records_from(wl.lsn)

    def later() -> None:
        time.sleep(0.3)
        push(ps, T, "main", tail)

    threading.Thread(target=later).start()
    db = next(d for d in more.dbs if more.expected_size(d, more.lsn))
    assert c.get_page(T, "main", db, 0, more.lsn, wait_ms=5000) == more.expected(db, 0, more.lsn)

    size = more.expected_size(db, more.lsn) or 0
    with pytest.raises(PagePastEnd, match=f"page {size} is past the end of database {db}"):
        c.get_page(T, "main", db, size, more.lsn)
    with pytest.raises(PageServerError) as ei:
        c.get_page(T, "main", db, 0xFFFFFFFF, more.lsn)
    assert ei.value.code == grpc.StatusCode.INVALID_ARGUMENT

    # ingest errors: a gap, garbage, an empty record, a push to a missing timeline
    with pytest.raises(PageServerError, match="does not continue") as ei:
        c.ingest(T, "main", [(more.lsn + 10, WalRecord(1, True).encode())])
    assert ei.value.code == grpc.StatusCode.FAILED_PRECONDITION
    with pytest.raises(PageServerError, match="bad WAL record") as ei:
        c.ingest(T, "main", [(more.lsn, b"\x09garbage-garbage-garbage-garbage-garbage")])
    assert ei.value.code == grpc.StatusCode.INVALID_ARGUMENT
    with pytest.raises(PageServerError, match="empty WAL record"):
        c.ingest(T, "main", [(more.lsn, b"")])
    # duplicates are skipped (idempotent re-delivery)
    assert c.ingest(T, "main", tail[:3]) == more.lsn

    # timeline management errors
    with pytest.raises(PageServerError) as ei:
        c.create_timeline(T, "main")
    assert ei.value.code == grpc.StatusCode.ALREADY_EXISTS
    for bad_t, bad_tl in (("../x", "a"), ("ok", "a/b"), ("", "a"), ("ok", "x" * 65)):
        with pytest.raises(PageServerError) as ei:
            c.create_timeline(bad_t, bad_tl)
        assert ei.value.code == grpc.StatusCode.INVALID_ARGUMENT
    with pytest.raises(PageNotFound):
        c.create_timeline(T, "b", ancestor="nope")
    with pytest.raises(PageServerError):
        c.maintenance(T, "main", "explode")

    # the server is still fine after all that
    check_samples(ps, T, "main", more, 60, seed=4)
    # garbage on the gRPC port does not kill it
    import socket

    with socket.create_connection(("127.0.0.1", ps.port)) as s:
        s.sendall(os.urandom(4096))
    check_samples(ps, T, "main", more, 20, seed=5)


def test_corrupt_local_layer_redownloaded(ps_factory) -> None:
    ps = ps_factory(None, "--checkpoint-mb", "0.2", "--no-auto-compact").start()
    ps.c.create_timeline(T, "main")
    wl = Workload(seed=4)
    wl.run(150)
    push(ps, T, "main", wl.records)
    ps.c.maintenance(T, "main", "flush")
    ps.c.maintenance(T, "main", "compact")
    layer_dir = ps.data_dir / "tenants" / T / "timelines" / "main" / "layers"
    files = sorted(layer_dir.iterdir())
    assert len(files) >= 3
    for f in files:  # flip bytes in the middle of every local layer file
        data = bytearray(f.read_bytes())
        for i in range(len(data) // 2, len(data) // 2 + 16):
            data[i] ^= 0xFF
        f.write_bytes(bytes(data))
    ps.c.maintenance(T, "", "drop_caches")
    check_samples(ps, T, "main", wl, 150, seed=1)
    metrics = urllib.request.urlopen(f"http://127.0.0.1:{ps.metrics_port}/metrics").read().decode()
    corrupt = [
        ln
        for ln in metrics.splitlines()
        if ln.startswith("strata_pageserver_corrupt_layers_total ")
    ]
    assert corrupt and float(corrupt[0].split()[1]) >= 1
    # the re-downloaded files are intact again
    ps.kill()
    ps.start()
    check_samples(ps, T, "main", wl, 100, seed=2)


def test_metrics_exposed(ps_factory) -> None:
    ps = ps_factory(None, "--checkpoint-mb", "0.2").start()
    ps.c.create_timeline(T, "main")
    wl = Workload(seed=6)
    wl.run(100)
    push(ps, T, "main", wl.records)
    ps.c.maintenance(T, "main", "flush")
    check_samples(ps, T, "main", wl, 30)
    ps.c.status()
    text = urllib.request.urlopen(f"http://127.0.0.1:{ps.metrics_port}/metrics").read().decode()

    def value(prefix: str) -> float:
        lines = [ln for ln in text.splitlines() if ln.startswith(prefix)]
        assert lines, prefix
        return float(lines[0].rsplit(" ", 1)[1])

    assert value('strata_pageserver_applied_lsn{tenant="t",timeline="main"}') == wl.lsn
    assert value('strata_pageserver_received_lsn{tenant="t",timeline="main"}') == wl.lsn
    assert value('strata_pageserver_ingest_lag_bytes{tenant="t",timeline="main"}') == 0
    assert value("strata_pageserver_getpage_seconds_count") >= 10
    assert value("strata_pageserver_ingest_bytes_total") == sum(len(p) for _, p in wl.records)
    assert value('strata_pageserver_uploads_total{kind="delta"}') >= 1
    assert "strata_pageserver_upload_queue" in text and "strata_pageserver_gc_runs_total" in text
    assert value('strata_pageserver_layers{kind="delta",location="remote"}') >= 1
