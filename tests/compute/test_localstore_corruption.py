"""Seeded corruption trials for the standalone store (issue 11, "must show").

A store is built once: a checkpoint (base page files), then more commits spread over several
log segments, closed cleanly. Each trial copies it, damages one file (random bit flips in
its used bytes, or a truncation), and opens the copy. Allowed outcomes: the store refuses to
open with a clear message (and changed nothing on disk), or it opens and every acknowledged
page is present and correct, or a damaged base page is reported as an error when read.
Never a silently shorter log, never a wrong page.
"""

from __future__ import annotations

import hashlib
import random
import shutil
from collections import Counter
from pathlib import Path

import pytest

from compute.localstore import LocalStore
from strata.storage import StorageError
from strata.wal import PAGE_SIZE, PageImage, WalRecord

SEED = 1111
TRIALS = 300
SEGMENT = 64 * 1024
DBS = (1, 2)
PAGES = 6


def _image(xid: int, db: int, page_no: int) -> bytes:
    return hashlib.sha256(f"{xid}/{db}/{page_no}".encode()).digest() * (PAGE_SIZE // 32)


def _build(data: Path) -> tuple[int, dict[tuple[int, int], bytes]]:
    """The template store; returns the last acknowledged LSN and the pages as of it."""
    expect: dict[tuple[int, int], bytes] = {}
    rng = random.Random(SEED)
    with LocalStore(data, segment_bytes=SEGMENT, auto_checkpoint=False, max_spares=0) as s:
        last = 0
        for xid in range(1, 61):
            db = DBS[xid % 2]
            # after the checkpoint pages 4 and 5 are read from the base files only
            pages = sorted(rng.sample(range(PAGES if xid <= 30 else 4), 2))
            images = tuple(PageImage(db, p, _image(xid, db, p)) for p in pages)
            last = s.submit([WalRecord(xid, True, xid, ((db, PAGES),), images)]).durable.result(10)
            for p in pages:
                expect[(db, p)] = _image(xid, db, p)
            if xid == 30:
                s.checkpoint()
        assert s.checkpoint_lsn > 0 and s.stats()["segments"] >= 3
    return last, expect


def _used(path: Path) -> int:
    """Bytes up to the last non-zero one (a preallocated segment is zeros after its frames)."""
    raw = path.read_bytes()
    return len(raw.rstrip(b"\0"))


def _snapshot(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


def _damage(rng: random.Random, root: Path) -> str:
    files = [p for p in sorted(root.rglob("*")) if p.is_file() and p.stat().st_size > 0]
    target = rng.choice(files)
    used = _used(target) if target.suffix == ".seg" else target.stat().st_size
    if used == 0:
        return f"{target.name}: nothing used"
    if rng.random() < 0.25:
        cut = rng.randrange(0, used)
        with open(target, "r+b") as f:
            f.truncate(cut)
        return f"{target.name}: truncated to {cut}"
    raw = bytearray(target.read_bytes())
    flips = rng.randint(1, 3)
    for _ in range(flips):
        raw[rng.randrange(0, used)] ^= 1 << rng.randrange(8)
    target.write_bytes(raw)
    return f"{target.name}: {flips} bit flip(s)"


def _check(root: Path, last: int, expect: dict[tuple[int, int], bytes]) -> str:
    """The outcome of opening a damaged copy; raises AssertionError on silent loss."""
    before = _snapshot(root)
    try:
        store = LocalStore(root, segment_bytes=SEGMENT, auto_checkpoint=False, max_spares=0)
    except StorageError as exc:
        assert str(exc), "a refusal says why"
        assert _snapshot(root) == before, f"refused, yet changed the disk: {exc}"
        return "refused to open"
    with store:
        assert store.written_lsn == last, f"log came back at {store.written_lsn}, want {last}"
        read_error = False
        for (db, p), data in sorted(expect.items()):
            try:
                got = store.get_page(db, p, last)
            except StorageError as exc:
                assert "checksum" in str(exc) or "short" in str(exc), exc
                read_error = True
                continue
            assert got == data, f"page {db}/{p} is wrong"
        for db in DBS:
            assert store.db_size(db, last) == PAGES
    return "opened, damaged page reported on read" if read_error else "opened, all records intact"


def test_random_damage_never_loses_acknowledged_records_silently(tmp_path: Path) -> None:
    template = tmp_path / "template"
    last, expect = _build(template)
    rng = random.Random(SEED)
    outcomes: Counter[str] = Counter()
    for trial in range(TRIALS):
        root = tmp_path / f"t{trial}"
        shutil.copytree(template, root)
        what = _damage(rng, root)
        try:
            outcomes[_check(root, last, expect)] += 1
        except AssertionError as exc:
            pytest.fail(f"trial {trial} (seed {SEED}, {what}): {exc}")
        shutil.rmtree(root)
    print(f"\n{TRIALS} corruption trials, seed {SEED}:")
    for outcome, n in sorted(outcomes.items()):
        print(f"  {outcome}: {n}")
    assert sum(outcomes.values()) == TRIALS
    assert outcomes["refused to open"] > 0 and outcomes["opened, all records intact"] > 0
