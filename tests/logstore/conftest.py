"""Fixtures for the log store tests (helpers live in logstore_helpers.py)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from logstore_helpers import Cluster

MakeCluster = Callable[..., Cluster]


@pytest.fixture
def make_cluster(tmp_path: Path) -> Iterator[MakeCluster]:
    clusters: list[Cluster] = []

    def make(n: int = 3, extra: list[str] | None = None, start: bool = True) -> Cluster:
        c = Cluster(tmp_path, n, extra)
        clusters.append(c)
        if start:
            c.start()
        return c

    yield make
    for c in clusters:
        c.close()


