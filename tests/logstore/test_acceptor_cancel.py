"""A request cancelled while its control-file save (or another worker-pool job) runs must not
let the next one start beside it: the node once stopped ("storage I/O failed ... control.tmp
-> control: No such file or directory") when racing proposers gave up their Vote calls
mid-save, and a second save writing ``control.tmp`` while the first renamed it could leave
a torn control file. Real files, real threads."""

from __future__ import annotations

import asyncio
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from logstore import control
from logstore.acceptor import Acceptor


def test_cancelled_vote_does_not_let_a_second_save_run_beside_the_first(tmp_path: Path,
                                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    real_save = control.save
    running = 0
    most = 0
    guard = threading.Lock()

    def slow_save(directory: Path, state: control.ControlState) -> None:
        nonlocal running, most
        with guard:
            running += 1
            most = max(most, running)
        try:
            time.sleep(0.15)  # a slow disk: the caller gives up meanwhile
            real_save(directory, state)
        finally:
            with guard:
                running -= 1

    async def main() -> None:
        pool = ThreadPoolExecutor(max_workers=4)  # as the node's shared pool
        acc = Acceptor(1, tmp_path / "log", tenant="t", timeline="m", io=pool)
        acc.open()
        monkeypatch.setattr(control, "save", slow_save)
        first = asyncio.create_task(acc.vote(5))
        await asyncio.sleep(0.05)  # its save is running in the worker pool now
        first.cancel()
        second = asyncio.create_task(acc.vote(6))
        with pytest.raises(asyncio.CancelledError):
            await first
        result = await second
        assert result.granted and result.promised_term == 6
        assert most == 1, f"{most} control-file saves ran at once"
        assert control.load(acc.dir, 1).promised_term == 6  # the file holds the latest promise
        await acc.close()
        pool.shutdown(wait=True)

    asyncio.run(main())
