"""Fixtures for differential tests: one PostgreSQL 15 oracle and one Strata server per module."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.diff.harness import Differ
from tests.support import PostgresOracle, StrataProcess


@pytest.fixture(scope="module")
def differ(pg_oracle: PostgresOracle, strata_shared: StrataProcess) -> Iterator[Differ]:
    d = Differ(pg_oracle.dsn, strata_shared.dsn)
    try:
        yield d
    finally:
        d.close()
