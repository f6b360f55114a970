"""Fixtures shared by every test folder: a standalone Strata compute and a PostgreSQL oracle."""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support import PostgresOracle, StrataProcess, start_reaper, stop_reaper, tmp_root

_reaper: subprocess.Popen[bytes] | None = None


def pytest_configure(config: pytest.Config) -> None:
    """Processes this run starts die with it, even if it is killed (``start_reaper``). No
    test reaches the cloud metadata address: boto3 without credentials in the environment
    asks 169.254.169.254 for them (a test of an unreachable S3 endpoint did), and test
    traffic stays on 127.0.0.1."""
    global _reaper
    os.environ["AWS_EC2_METADATA_DISABLED"] = "true"
    _reaper = start_reaper()


def pytest_unconfigure(config: pytest.Config) -> None:
    global _reaper
    if _reaper is not None:
        stop_reaper(_reaper)
        _reaper = None


@pytest.fixture
def strata(tmp_path: Path) -> Iterator[StrataProcess]:
    """A fresh `strata compute --standalone` process for one test."""
    proc = StrataProcess(tmp_path / "data").start()
    try:
        yield proc
    finally:
        proc.stop()


@pytest.fixture(scope="module")
def strata_shared(tmp_path_factory: pytest.TempPathFactory) -> Iterator[StrataProcess]:
    """One standalone compute shared by a module's tests (they must use their own tables)."""
    proc = StrataProcess(tmp_path_factory.mktemp("strata") / "data").start()
    try:
        yield proc
    finally:
        proc.stop()


@pytest.fixture(scope="session")
def pg_oracle() -> Iterator[PostgresOracle]:
    """A real PostgreSQL 15 (Debian package) for differential tests."""
    root = tmp_root("strata-pg-")
    oracle = PostgresOracle(root).start()
    try:
        yield oracle
    finally:
        oracle.stop()
        shutil.rmtree(root, ignore_errors=True)
