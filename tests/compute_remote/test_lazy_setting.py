"""A bad STRATA_PROPOSER_LAZY_MS stops `strata compute --role primary` at start-up in one
line (exit 2), before it dials anything: a typo must not run with another setting."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from logstore.proposer import LAZY_ENV

REPO = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize("value", ["soon", "-1", "nan"])
def test_bad_lazy_setting_is_a_one_line_usage_error(tmp_path: Path, value: str) -> None:
    env = dict(os.environ, **{LAZY_ENV: value})
    done = subprocess.run(
        [sys.executable, "-m", "strata", "compute", "--role", "primary", "--listen", "127.0.0.1:0",
         "--logstore", "127.0.0.1:1,127.0.0.1:2,127.0.0.1:3", "--pageserver", "127.0.0.1:4",
         "--tenant", "t", "--timeline", "main", "--insecure"],
        capture_output=True, text=True, cwd=REPO, env=env, timeout=60)
    assert done.returncode == 2, done.stderr
    lines = [line for line in done.stderr.strip().splitlines() if "WARNING" not in line]
    assert len(lines) == 1 and LAZY_ENV in lines[0] and repr(value) in lines[0], done.stderr


def test_good_lazy_setting_passes_the_check(tmp_path: Path) -> None:
    """The same command with a good value gets past the flag checks (and fails later, on the
    unreachable log store, with another message)."""
    env = dict(os.environ, **{LAZY_ENV: "5"})
    done = subprocess.run(
        [sys.executable, "-m", "strata", "compute", "--role", "primary", "--listen", "127.0.0.1:0",
         "--logstore", "127.0.0.1:1,127.0.0.1:2,127.0.0.1:3", "--pageserver", "127.0.0.1:4",
         "--tenant", "t", "--timeline", "main", "--insecure"],
        capture_output=True, text=True, cwd=REPO, env=env, timeout=120)
    assert LAZY_ENV not in done.stderr, done.stderr
