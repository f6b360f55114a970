from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.compute_remote.cluster import Cluster


@pytest.fixture
def cluster(tmp_path: Path) -> Iterator[Cluster]:
    c = Cluster(tmp_path)
    try:
        c.start()
        yield c
    finally:
        c.close()
