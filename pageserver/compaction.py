"""Compaction policy by key partition (session 13): which partitions get a new image, which
delta layers are merged, and which layers GC may drop. Pure functions over ``LayerDesc``
lists (``Timeline`` calls them under its lock and does the I/O).

Keys are grouped in partitions (``layers.PART_SHIFT``). A delta layer records the
partitions it holds versions of (``LayerDesc.parts``: partition -> bytes of page deltas); an
image layer either holds every key of the timeline (``partial`` False: every image before
session 13, every forced compaction, a timeline's first) or every key of the partitions it
names (``partial``). A read of a key walks the layers newest first, skipping delta layers
that do not hold its partition and images that do not cover it, and stops at the first
version found or the first image covering it.

Compaction of partition ``p`` is due when the delta layers above its newest covering image
that hold ``p`` (a merged layer counts once) are ``cap`` many, or ``threshold`` many with
page-delta bytes of ``p`` at least ``ratio`` times the bytes of ``p`` in that image, or one
of them has left the GC horizon (so no delta layer is kept forever for a cold partition).
Unmerged delta layers (one per flush, every ~10 s) are merged ``merge_min`` at a time into
one delta layer: the count that makes images due grows ``merge_min`` times slower, at the
cost of writing each delta once more, proportional to what changed.
"""

from __future__ import annotations

from pageserver.layers import PART_SHIFT, Delta, LayerDesc
from strata.wal import WalFormatError, apply_delta


class FoldError(Exception):
    """A delta with no image below it, or one that does not apply (the timeline reports it
    as DATA_LOSS)."""


Version = tuple[int, bytes]


def fold(
    state: dict[int, Version],
    entries: list[tuple[int, int, bytes]],
    floor: dict[int, int] | None = None,
) -> None:
    """Versions of one layer sorted by (key, lsn), layers oldest first: a newer image
    replaces, a ``Delta`` applies to the version below it (``state``'s). ``floor``:
    partition -> LSN at or below which versions are already in ``state`` (its image)."""
    for k, v_lsn, data in entries:
        if floor is not None and v_lsn <= floor[k >> PART_SHIFT]:
            continue
        cur = state.get(k)
        if cur is not None and cur[0] >= v_lsn:
            continue
        if type(data) is Delta:
            if cur is None:
                raise FoldError(f"page key {k:#x}: the delta at LSN {v_lsn} has no image below it")
            try:
                data = apply_delta(cur[1], data)
            except WalFormatError as exc:
                raise FoldError(f"page key {k:#x} at LSN {v_lsn}: {exc}") from exc
        state[k] = (v_lsn, data)


def fold_image(state: dict[int, Version], desc: LayerDesc, entries: list[tuple[int, int, bytes]]) -> None:
    """A partial image at ``desc.hi`` over ``state``: for the partitions it covers, its keys
    are the truth as of its LSN (a key it lacks did not exist then)."""
    assert desc.partial and desc.parts is not None
    have = {k for k, _, _ in entries}
    for k in [k for k, v in state.items()
              if v[0] <= desc.hi and k not in have and (k >> PART_SHIFT) in desc.parts]:
        del state[k]
    fold(state, entries)


def fold_order(d: LayerDesc) -> tuple[int, int]:
    """Order in which a full materialization folds layers: by their lowest LSN; an image at
    L before a delta starting at L."""
    return (d.lo, 0 if d.kind == "image" else 1)


def shadowed(layers: list[LayerDesc]) -> set[str]:
    """Names of unmerged delta layers whose LSN range lies inside a merged layer's (their
    versions are all in it): left out of compaction, counted once through the merged one."""
    merged = [(d.lo, d.hi) for d in layers if d.kind == "delta" and d.merged]
    if not merged:
        return set()
    return {
        d.name
        for d in layers
        if d.kind == "delta" and not d.merged and any(lo <= d.lo and d.hi <= hi for lo, hi in merged)
    }


def newest_full_image(layers: list[LayerDesc], at: int) -> LayerDesc | None:
    fulls = [d for d in layers if d.kind == "image" and not d.partial and d.hi <= at]
    return max(fulls, key=lambda d: d.hi) if fulls else None


def live_deltas(layers: list[LayerDesc], above: int, at: int) -> list[LayerDesc]:
    """Delta layers (not shadowed by a merged one) with ``above < hi <= at``."""
    gone = shadowed(layers)
    return [d for d in layers
            if d.kind == "delta" and d.name not in gone and above < d.hi <= at]


def due_partitions(
    layers: list[LayerDesc],
    at: int,
    *,
    threshold: int,
    cap: int,
    ratio: float,
    horizon: int,
) -> dict[int, LayerDesc]:
    """Partition -> its newest covering image, for the partitions whose image is due at
    ``at`` (see the module). Needs a full image at or below ``at`` and ``parts`` on every
    delta layer above it (the caller checks)."""
    full = newest_full_image(layers, at)
    assert full is not None
    images = sorted((d for d in layers if d.kind == "image" and d.hi <= at), key=lambda d: -d.hi)
    touching: dict[int, list[LayerDesc]] = {}
    for d in live_deltas(layers, full.hi, at):
        assert d.parts is not None
        for p in d.parts:
            touching.setdefault(p, []).append(d)
    out: dict[int, LayerDesc] = {}
    for p, ds in touching.items():
        base = next(i for i in images if i.covers(p))
        above = [d for d in ds if d.hi > base.hi]
        if not above:
            continue
        n = len(above)
        due = n >= cap
        if not due and n >= threshold and base.parts is not None:
            due = sum((d.parts or {}).get(p, 0) for d in above) >= ratio * base.parts.get(p, 0)
        if not due and horizon > 0:
            due = min(d.hi for d in above) <= horizon
        if due:
            out[p] = base
    return out


def merge_candidates(layers: list[LayerDesc], above: int, merge_min: int) -> list[LayerDesc]:
    """The newest contiguous run of uploaded, unmerged, unshadowed delta layers above
    ``above`` (the newest full image's LSN), oldest first, if it is ``merge_min`` long."""
    gone = shadowed(layers)
    run = sorted(
        (d for d in layers if d.kind == "delta" and not d.merged and d.remote
         and d.name not in gone and d.lo >= above and d.parts is not None),
        key=lambda d: d.lo,
    )
    out: list[LayerDesc] = []
    for d in run:
        if out and d.lo != out[-1].hi:
            out = []
        out.append(d)
    return out if len(out) >= merge_min else []


def gc_removable(layers: list[LayerDesc], horizon: int, branch_points: list[int]) -> list[LayerDesc]:
    """Uploaded layers no read at or above ``horizon``, nor at a child's branch point, needs.

    A delta layer: for every partition it holds (every one if not recorded), an image
    covering that partition in ``[hi, horizon]``, and in ``[hi, b]`` for each branch point
    ``b`` above its ``lo``. An image: the next image above it covering each partition it
    covers (a full image: the next full image) is at or below the horizon and every branch
    point at or above it."""
    imgs = [d for d in layers if d.kind == "image" and d.remote]
    fulls = sorted(d.hi for d in imgs if not d.partial)

    def full_in(lo: int, hi: int) -> bool:
        return any(lo <= x <= hi for x in fulls)

    def cover_in(p: int, lo: int, hi: int) -> bool:
        return any(lo <= i.hi <= hi and i.covers(p) for i in imgs)

    def next_ok(nxt: int | None, at: int) -> bool:
        return nxt is not None and nxt <= horizon and all(nxt <= b for b in branch_points if b >= at)

    out: list[LayerDesc] = []
    for d in layers:
        if not d.remote or d.hi > horizon:
            continue
        if d.kind == "delta":
            ends = [horizon, *(b for b in branch_points if b > d.lo)]
            if d.parts is None:
                ok = all(full_in(d.hi, e) for e in ends)
            else:
                ok = all(cover_in(p, d.hi, e) for p in d.parts for e in ends)
        elif not d.partial:
            ok = next_ok(min((x for x in fulls if x > d.hi), default=None), d.hi)
        else:
            assert d.parts is not None
            ok = all(
                next_ok(min((i.hi for i in imgs if i.hi > d.hi and i.covers(p)), default=None), d.hi)
                for p in d.parts
            )
        if ok:
            out.append(d)
    return out
