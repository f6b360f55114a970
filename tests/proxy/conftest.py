from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.proxy.support import write_secret
from tests.support import StrataProcess


@pytest.fixture(scope="module")
def secret(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_secret(tmp_path_factory.mktemp("secret"))


@pytest.fixture(scope="module")
def standalone(tmp_path_factory: pytest.TempPathFactory, secret: Path) -> Iterator[StrataProcess]:
    """One standalone compute that trusts the proxy's secret."""
    root = tmp_path_factory.mktemp("compute")
    proc = StrataProcess(root / "data", extra_args=["--proxy-secret-file", str(secret)]).start()
    try:
        yield proc
    finally:
        proc.stop()
