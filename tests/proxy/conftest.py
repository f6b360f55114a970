from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tests.proxy.support import ProxyProc, write_secret
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


StartProxy = Callable[..., ProxyProc]


@pytest.fixture
def start_proxy(tmp_path: Path, secret: Path, standalone: StrataProcess) -> Iterator[StartProxy]:
    """Start proxies in front of ``standalone`` (or ``compute=``), stopped at the end."""
    started: list[ProxyProc] = []

    def start(*args: str, auth: str = "trust", compute: StrataProcess | None = None) -> ProxyProc:
        port = (compute or standalone).port
        p = ProxyProc(tmp_path, secret, "--primary", f"127.0.0.1:{port}", "--auth", auth, *args,
                      name=f"proxy-{len(started)}")
        started.append(p)
        p.start()
        return p

    yield start
    for p in started:
        p.stop()

