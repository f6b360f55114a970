"""One real cluster per test module (starting one costs seconds); its logs print on failure."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.cluster_support import Cluster


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    c = Cluster(tmp_path_factory.mktemp("strata-e2e"))
    try:
        c.up()
        yield c
    except BaseException:
        if c.dir.exists():
            print(c.logs())
        raise
    finally:
        c.down()
