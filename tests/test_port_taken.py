"""A service whose port is taken stops at once with one line and a non-zero exit status
(grpcio raises RuntimeError on a failed bind: that was a traceback)."""

from __future__ import annotations

import socket
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent


@pytest.mark.parametrize("service", ["logstore", "pageserver"])
def test_a_taken_port_is_one_line_and_exit_1(service: str, tmp_path: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        listen = f"127.0.0.1:{taken.getsockname()[1]}"
        args = {"logstore": ["--id", "1", "--data-dir", str(tmp_path / "ls")],
                "pageserver": ["--data-dir", str(tmp_path / "ps"), "--logstore", "127.0.0.1:1"]}[service]
        done = subprocess.run([sys.executable, "-m", "strata", service, *args, "--listen", listen,
                               "--insecure"], capture_output=True, text=True, timeout=60, cwd=REPO)
    assert done.returncode == 1, done.stderr
    assert "Traceback" not in done.stderr, done.stderr
    assert done.stderr.strip().splitlines()[-1] == (
        f"{service}: cannot listen on {listen}: the address is in use or not on this machine")
