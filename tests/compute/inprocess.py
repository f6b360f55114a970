"""A compute in the test's own process: an Engine and a pgwire server on their own event loop
thread, for tests that patch limits or drive a storage factory directly."""

from __future__ import annotations

import asyncio
import contextlib
import threading
from collections.abc import Callable, Coroutine, Iterator
from pathlib import Path
from typing import Any, TypeVar

import pytest

from compute.engine import Engine
from compute.pgwire.server import Server, ServerConfig
from compute.standalone import StandaloneFactory

T = TypeVar("T")


class InProcessNode:
    """Engine + Server over ``factory`` (a ConnectionFactory), listening on a free port."""

    def __init__(self, factory: Any, max_readers: int = 4, threads: int = 2,
                 config: ServerConfig | None = None) -> None:
        self.factory = factory
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.thread.start()
        attach = getattr(factory, "attach_loop", None)
        if attach is not None:  # as `strata compute --standalone` does
            self.loop.call_soon_threadsafe(attach, self.loop)
        self.engine = Engine(factory, max_readers=max_readers, threads=threads)
        self.server = Server(self.engine, config or ServerConfig(port=0))
        self.call(self.server.start())

    def call(self, coro: Coroutine[Any, Any, T]) -> T:
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(60)

    def dsn(self, db: str = "postgres") -> str:
        return f"postgresql://postgres@127.0.0.1:{self.server.port}/{db}"

    def close(self) -> None:
        self.call(self.server.close())
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(10)
        self.engine.close()


@contextlib.contextmanager
def small_standalone(data_dir: Path, max_readers: int) -> Iterator[InProcessNode]:
    """A standalone node over ``data_dir`` with a small page cache (8 MB), closed after use."""
    node = InProcessNode(StandaloneFactory(data_dir, page_cache_mb=8), max_readers=max_readers)
    try:
        yield node
    finally:
        node.close()


def count_outcomes(monkeypatch: pytest.MonkeyPatch, real: Callable[..., bool], name: str,
                   *modules: object) -> list[bool]:
    """Patch ``name`` in ``modules`` (the lanes that call it) with ``real`` plus a record of
    each outcome, so that a test can say a lane took its path (True) or left it (False)."""
    seen: list[bool] = []

    def counting(*args: object) -> bool:
        done = real(*args)
        seen.append(done)
        return done

    for module in modules:
        monkeypatch.setattr(module, name, counting)
    return seen
