"""One real cluster per test module (starting one costs seconds); its logs print on failure."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.cluster_support import Cluster, running_cluster


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    with running_cluster(tmp_path_factory.mktemp("strata-e2e")) as c:
        yield c
