"""Seeded corruption trials for the log store (issue 11, "Must show").

A log is written and acknowledged by a real ``Acceptor`` (closed cleanly, so its control
file records the durable LSN), then each trial damages a copy of its files: random bit
flips in the used bytes of segments and the control file, truncation of any file, several
at once, or a genuine torn write appended after the durable end. In every trial the log
either refuses to open with a clear message or every acknowledged record is present and
correct. Most trials open the log in-process (``LogRegistry.open_all``, what the acceptor
process runs at startup); a few use real acceptor processes.
"""

from __future__ import annotations

import asyncio
import logging
import random
import shutil
from collections import Counter
from pathlib import Path

import grpc
from conftest import MakeCluster
from logstore_helpers import LOG, read_log, record_syncs, wait_flush

from logstore import Proposer
from logstore.acceptor import Acceptor
from logstore.errors import CorruptionError
from logstore.metrics import AcceptorMetrics
from logstore.registry import LogRegistry
from logstore.segments import encode_frame, payload_crc

SEED = 0x11C0FFEE
IN_PROCESS_TRIALS = 400
PROCESS_TRIALS = 3
SEGMENT_BYTES = 4096
RECORDS = 150
NODE = 1
TENANT, TIMELINE = "t", "main"
CLEAR = ("refusing to open the log", "control file", "not a log store control file")

Record = tuple[int, bytes]


def _payload(rng: random.Random, i: int) -> bytes:
    return f"record-{i:05d}:".encode() + rng.randbytes(rng.randint(1, 900))


async def _write_log(root: Path, rng: random.Random) -> list[Record]:
    """Create, fill and cleanly close one log; returns the acknowledged records."""
    ldir = root / "logs" / TENANT / TIMELINE
    acc = Acceptor(NODE, ldir, SEGMENT_BYTES, tenant=TENANT, timeline=TIMELINE, start_lsn=0)
    await acc._save_control()  # what CreateLog does
    acc.open([])
    acc.start_background()
    assert (await acc.vote(1)).granted
    await acc.start_term(1, [(1, 0)], 0)
    acked: list[Record] = []
    lsn = 0
    i = 0
    while i < RECORDS:
        batch = [_payload(rng, i + k) for k in range(rng.randint(1, 4))]
        end, flush, _ = await acc.append(1, lsn, [(p, payload_crc(p)) for p in batch], lsn)
        assert flush >= end
        for p in batch:  # acknowledged: the append answered after fdatasync
            acked.append((lsn, p))
            lsn += len(p)
        i += len(batch)
    await acc.append(1, lsn, [], lsn)  # the commit LSN catches up with the end
    await acc.close()
    return acked


def _files(root: Path) -> list[Path]:
    ldir = root / "logs" / TENANT / TIMELINE
    return [ldir / "control", *sorted((ldir / "segments").glob("*.seg"))]


def _damage(root: Path, rng: random.Random, end_lsn: int) -> str:
    """Apply one seeded mutation; returns its kind."""
    kind = rng.choice(["flip", "flip", "flip", "truncate", "multi", "torn"])
    files = _files(root)
    if kind == "torn":  # an unacknowledged write cut short after the durable end
        last = files[-1]
        frame = encode_frame(end_lsn, 1, rng.randbytes(rng.randint(1, 600)))
        cut = rng.randint(1, len(frame) - 1)
        tail = bytearray(frame[:cut])
        if rng.random() < 0.5 and len(tail) > 24:  # or full length with garbage in it
            tail = bytearray(frame)
            tail[rng.randrange(24, len(tail))] ^= 0xFF
        with open(last, "ab") as f:
            f.write(bytes(tail))
        return kind
    for _ in range(rng.randint(2, 3) if kind == "multi" else 1):
        victim = rng.choice(files)
        data = bytearray(victim.read_bytes())
        if not data:
            continue
        if kind == "truncate" or (kind == "multi" and rng.random() < 0.3):
            victim.write_bytes(bytes(data[: rng.randrange(len(data))]))
            continue
        for _ in range(rng.randint(1, 3)):
            data[rng.randrange(len(data))] ^= 1 << rng.randrange(8)
        victim.write_bytes(bytes(data))
    return kind


def _read_all(acc: Acceptor) -> list[Record]:
    out: list[Record] = []
    lsn = acc.first_lsn()
    while lsn < acc.flush_lsn:
        frames = acc.store.read_local(lsn, acc.flush_lsn, 1 << 20)
        assert frames, lsn
        out += [(f.lsn, f.payload) for f in frames]
        lsn = frames[-1].end_lsn
    return out


def _open_trial(root: Path, acked: list[Record], metrics: AcceptorMetrics) -> str:
    reg = LogRegistry(NODE, root, segment_bytes=SEGMENT_BYTES, metrics=metrics)
    try:
        reg.open_all()
        if (TENANT, TIMELINE) in reg.broken:
            reason = reg.broken[(TENANT, TIMELINE)]
            assert any(c in reason for c in CLEAR), reason
            assert str(root) in reason, reason  # names the damaged file
            return "refused"
        acc = reg.logs[(TENANT, TIMELINE)]
        got = _read_all(acc)
        assert got[: len(acked)] == acked, "acknowledged records lost or changed"
        assert acc.flush_lsn >= acked[-1][0] + len(acked[-1][1])
        return "opened, all acknowledged records intact" + (" (torn tail cut)" if acc.open_notes else "")
    except CorruptionError as exc:  # a node-level refusal is clear too, but must not happen here
        raise AssertionError(f"the whole node refused instead of one log: {exc}") from exc
    finally:
        for acc in reg.logs.values():
            acc.store.close()
        reg._io.shutdown(wait=True)


def test_seeded_corruption_in_process(tmp_path: Path) -> None:
    rng = random.Random(SEED)
    template = tmp_path / "template"
    acked = asyncio.run(_write_log(template, rng))
    end = acked[-1][0] + len(acked[-1][1])
    assert len(_files(template)) > 5  # several segments: sealed and active ones get hit
    metrics = AcceptorMetrics()
    outcomes: Counter[str] = Counter()
    kinds: Counter[str] = Counter()
    logging.getLogger("logstore.registry").setLevel(logging.CRITICAL)  # one line per refusal
    for trial in range(IN_PROCESS_TRIALS):
        root = tmp_path / f"trial-{trial}"
        shutil.copytree(template, root)
        kind = _damage(root, rng, end)
        kinds[kind] += 1
        outcome = _open_trial(root, acked, metrics)
        outcomes[outcome] += 1
        if kind == "torn":
            assert outcome.startswith("opened"), (trial, outcome)
        shutil.rmtree(root)
    print(f"\nlog store corruption trials (seed {SEED:#x}): mutations {dict(kinds)}; outcomes {dict(outcomes)}")
    assert sum(outcomes.values()) == IN_PROCESS_TRIALS
    assert outcomes["refused"] > IN_PROCESS_TRIALS // 2  # damage to used bytes is caught
    assert outcomes["opened, all acknowledged records intact (torn tail cut)"] == kinds["torn"]


def test_seeded_corruption_with_processes(make_cluster: MakeCluster) -> None:
    """Real acceptors: one is damaged while stopped; it refuses that log (DATA_LOSS with
    the reason) or serves every acknowledged record, and the cluster keeps committing."""
    rng = random.Random(SEED + 1)
    cluster = make_cluster(extra=["--segment-size", "8192"])

    async def write(n: int, healthy: list[str]) -> list[Record]:
        p = Proposer(cluster.addrs, **LOG, deadline_s=10)
        await p.elect()
        out: list[Record] = []
        for i in range(n):
            payload = _payload(rng, i)
            end = await p.append([payload])
            out.append((end - len(payload), payload))
        await wait_flush(healthy, out[-1][0] + len(out[-1][1]))
        await p.close()
        return out

    acked = asyncio.run(write(60, cluster.addrs))
    node = cluster.nodes[0]
    others = [n.addr for n in cluster.nodes[1:]]
    outcomes: Counter[str] = Counter()
    for _ in range(PROCESS_TRIALS):
        node.stop()
        ldir = node.log_dir()
        backup = ldir.parent / "backup"
        shutil.copytree(ldir, backup)
        end = acked[-1][0] + len(acked[-1][1])
        _damage(node.data_dir, rng, end)
        node.start()
        try:
            node.status()
            got = [(lsn, p) for lsn, _, p in asyncio.run(read_log(node.addr))]
            assert got[: len(acked)] == acked
            outcomes["opened, all acknowledged records intact"] += 1
        except grpc.RpcError as exc:
            assert exc.code() == grpc.StatusCode.DATA_LOSS, exc
            assert any(c in (exc.details() or "") for c in CLEAR), exc.details()
            outcomes["refused"] += 1
            for addr in others:  # the other acceptors are untouched
                assert [(lsn, p) for lsn, _, p in asyncio.run(read_log(addr))][: len(acked)] == acked
        node.stop()
        shutil.rmtree(ldir)
        backup.rename(ldir)
        node.start()
    asyncio.run(write(2, cluster.addrs))  # and the cluster keeps committing
    print(f"\nlog store corruption trials with processes: {dict(outcomes)}")
    assert sum(outcomes.values()) == PROCESS_TRIALS


def test_rotation_syncs_the_old_segment_before_creating_the_new_one(tmp_path: Path, monkeypatch: object) -> None:
    """Power loss after a rotation must never leave a sealed segment with a torn tail."""
    from logstore.segments import SegmentStore

    store = SegmentStore(tmp_path / "segments", 4096)
    store.open()
    events = record_syncs(monkeypatch)
    lsn = 0
    for _ in range(3):
        lsn = store.append(lsn, [(1, b"x" * 4500)])
    store.close()
    # Every new segment is created only after its predecessor was fdatasync'ed.
    assert [e for e in events if not e.startswith("fsync ")] == [
        "create 0000000000000000.seg",
        "fdatasync 0000000000000000.seg",
        "create 0000000000001194.seg",
        "fdatasync 0000000000001194.seg",
        "create 0000000000002328.seg",
    ], events


def test_broken_log_is_isolated_and_can_be_deleted(tmp_path: Path) -> None:
    """A damaged log answers DATA_LOSS with its reason; the node's other logs open; CreateLog
    of it is refused; DeleteLog removes its files, after which it can be created again."""
    rng = random.Random(SEED + 2)
    asyncio.run(_write_log(tmp_path, rng))
    ldir = tmp_path / "logs" / TENANT / TIMELINE
    (ldir / "control").unlink()

    async def main() -> None:
        reg = LogRegistry(NODE, tmp_path, segment_bytes=SEGMENT_BYTES)
        reg.open_all()
        reg.start_background()
        other = await reg.create(TENANT, "other", 0)
        assert other.flush_lsn == 0
        try:
            reg.get(TENANT, TIMELINE)
            raise AssertionError("a damaged log was served")
        except CorruptionError as exc:
            assert "control file is missing" in str(exc) and "damaged on node 1" in str(exc)
        try:
            await reg.create(TENANT, TIMELINE, 0)
            raise AssertionError("a damaged log was re-created over its files")
        except CorruptionError:
            pass
        assert (ldir / "segments").is_dir()  # untouched
        await reg.delete(TENANT, TIMELINE)
        assert not ldir.exists()
        acc = await reg.create(TENANT, TIMELINE, 0)
        assert acc.flush_lsn == 0 and acc.promised_term == 0
        await reg.close()

    asyncio.run(main())
