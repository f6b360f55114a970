"""The proxy's busy polling (strata/busypoll.py): configured from STRATA_BUSY_POLL_US; a bad
value stops the proxy at start with the variable's name; the relay answers the same with it
(every proxy test runs with the default 200 µs window)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from strata.busypoll import ENV

REPO = Path(__file__).resolve().parents[2]


def test_bad_window_stops_the_proxy(tmp_path: Path) -> None:
    env = dict(os.environ, **{ENV: "20000"})
    done = subprocess.run(
        [sys.executable, "-m", "strata", "proxy", "--listen", "127.0.0.1:0",
         "--primary", "127.0.0.1:1"],
        capture_output=True, text=True, cwd=REPO, env=env, timeout=60)
    assert done.returncode != 0
    assert ENV in done.stderr and "20000" in done.stderr, done.stderr
