"""GetPage returns exactly the reference model's version through every storage state:
in memory, delta layers, image layers, uploaded, restarted on an empty disk, after GC."""

from __future__ import annotations

import json

import pytest

from pageserver.client import LsnBelowGc
from tests.pageserver.conftest import Workload, check_samples, open_store, push

T = "tenant1"


def manifest_names_existing_layers(url: str) -> dict:
    store = open_store(url)
    keys = set(store.list("tenants/"))
    manifests = [k for k in keys if k.endswith("index.json")]
    assert manifests
    out = {}
    for mk in manifests:
        m = json.loads(store.get(mk))
        for layer in m["layers"]:
            key = mk.rsplit("/", 1)[0] + "/layers/" + layer["name"]
            assert key in keys, f"manifest {mk} names missing layer {layer['name']}"
        out[m["timeline"]] = m
    return out


def test_lifecycle_matches_model(ps_factory, object_store_url: str) -> None:
    ps = ps_factory(
        object_store_url,
        "--checkpoint-mb", "0.25", "--no-auto-compact", "--gc-interval", "3600", "--lease-grace", "0",
        "--retention-lsn", "200000",
    ).start()  # fmt: skip
    ps.c.create_timeline(T, "main")
    wl = Workload(seed=11)
    wl.run(400)
    half = len(wl.records) // 2
    push(ps, T, "main", wl.records[:half])
    part_lsn = wl.records[half - 1][0] + len(wl.records[half - 1][1])
    # 1. mostly in memory + a few auto-flushed deltas
    assert check_samples(ps, T, "main", wl, 150, seed=1, max_lsn=part_lsn) == 150
    info = ps.c.timeline(T, "main")
    assert info.last_record_lsn == part_lsn

    push(ps, T, "main", wl.records[half:])
    assert ps.c.timeline(T, "main").last_record_lsn == wl.lsn
    # 2. flush everything to delta layers and upload
    res = ps.c.maintenance(T, "main", "flush")
    assert res["ok"] and res["remote_consistent_lsn"] <= wl.lsn
    info = ps.c.timeline(T, "main")
    assert info.layers_delta >= 4, info
    check_samples(ps, T, "main", wl, 200, seed=2)
    # 3. compaction into an image layer; reads now stop at the image
    res = ps.c.maintenance(T, "main", "compact")
    assert res["image"] and res["ok"]
    assert ps.c.timeline(T, "main").layers_image == 1
    ps.c.maintenance(T, "", "drop_caches")
    check_samples(ps, T, "main", wl, 200, seed=3)
    manifest_names_existing_layers(object_store_url)

    # 4. kill -9, wipe the disk, restart: everything comes back from object storage
    rcl = ps.c.timeline(T, "main").remote_consistent_lsn
    ps.kill()
    ps.wipe_disk()
    ps.start()
    info = ps.c.timeline(T, "main")
    assert info.remote_consistent_lsn == rcl and info.last_record_lsn == rcl
    # ingest resumes at the remote consistent LSN (what the log store would re-send)
    push(ps, T, "main", wl.records_from(rcl))
    assert ps.c.timeline(T, "main").last_record_lsn == wl.lsn
    check_samples(ps, T, "main", wl, 200, seed=4)
    assert ps.c.status()["local_layer_bytes"] > 0  # layers were downloaded on demand

    # 5. more history, another image, then GC inside the retention window
    wl.run(200)
    push(ps, T, "main", wl.records_from(ps.c.timeline(T, "main").last_record_lsn))
    ps.c.maintenance(T, "main", "flush")
    ps.c.maintenance(T, "main", "compact")
    before = ps.c.timeline(T, "main")
    gc = ps.c.maintenance(T, "main", "gc")
    assert gc["removed"], gc
    after = ps.c.timeline(T, "main")
    assert after.layers_delta + after.layers_image < before.layers_delta + before.layers_image
    cutoff = after.gc_cutoff_lsn
    assert 0 < cutoff <= wl.lsn - 200000 + 1
    check_samples(ps, T, "main", wl, 200, seed=5, min_lsn=cutoff)
    with pytest.raises(LsnBelowGc):
        ps.c.get_page(T, "main", 0, 0, cutoff - 1)
    m = manifest_names_existing_layers(object_store_url)["main"]
    assert m["gc_cutoff_lsn"] == cutoff
    # GC survives a restart on an empty disk too
    ps.kill()
    ps.wipe_disk()
    ps.start()
    push(ps, T, "main", wl.records_from(ps.c.timeline(T, "main").last_record_lsn))
    check_samples(ps, T, "main", wl, 150, seed=6, min_lsn=cutoff)
