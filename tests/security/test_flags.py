"""A service never falls back to plaintext by itself: it needs --internal-tls-dir (with a
certificate of its own role) or an explicit --insecure, else it exits with one line."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

from tests.security.conftest import Pki
from tests.support import REPO, free_port

RUN_TIMEOUT_S = 60


def run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "strata", *args], capture_output=True,
                          text=True, timeout=RUN_TIMEOUT_S, cwd=REPO)


def service_args(kind: str, tmp_path: Path) -> list[str]:
    listen = f"127.0.0.1:{free_port()}"
    if kind == "logstore":
        return ["logstore", "--id", "1", "--listen", listen, "--data-dir", str(tmp_path / "ls")]
    if kind == "pageserver":
        return ["pageserver", "--listen", listen, "--data-dir", str(tmp_path / "ps"),
                "--object-store", str(tmp_path / "objects")]
    return ["compute", "--role", "primary", "--listen", listen,
            "--logstore", f"127.0.0.1:{free_port()}", "--pageserver", f"127.0.0.1:{free_port()}",
            "--tenant", "t", "--timeline", "main"]


LOG_LINE = re.compile(r'^(\d{4}-\d\d-\d\d \d\d:|\{"ts")')
"""Log records (e.g. the compute's warning about --auth trust) are not the error message."""


def one_line_error(proc: subprocess.CompletedProcess[str]) -> str:
    lines = [ln for ln in proc.stderr.splitlines() if ln.strip() and not LOG_LINE.match(ln)]
    assert proc.returncode == 2 and len(lines) == 1, (proc.returncode, proc.stderr)
    return lines[0]


@pytest.mark.parametrize("kind", ["logstore", "pageserver", "compute"])
def test_neither_tls_nor_insecure_refuses_to_start(kind: str, tmp_path: Path) -> None:
    line = one_line_error(run(*service_args(kind, tmp_path)))
    assert "--internal-tls-dir" in line and "--insecure" in line, line
    assert not (tmp_path / "ls").exists() and not (tmp_path / "ps").exists()


@pytest.mark.parametrize("kind", ["logstore", "pageserver", "compute"])
def test_a_certificate_of_another_role_is_refused(kind: str, pki: Pki, tmp_path: Path) -> None:
    other = pki.control if kind != "compute" else pki.pageserver
    line = one_line_error(run(*service_args(kind, tmp_path), "--internal-tls-dir",
                              str(other.cert.parent)))
    assert f"needs {kind!r}" in line, line


def test_tls_and_insecure_exclude_each_other(pki: Pki, tmp_path: Path) -> None:
    line = one_line_error(run(*service_args("logstore", tmp_path), "--insecure",
                              "--internal-tls-dir", str(pki.logstore.cert.parent)))
    assert "exclude each other" in line


def test_an_incomplete_tls_dir_is_named(tmp_path: Path) -> None:
    (tmp_path / "tls").mkdir()
    (tmp_path / "tls" / "ca.pem").write_text("not a certificate\n")
    line = one_line_error(run(*service_args("pageserver", tmp_path), "--internal-tls-dir",
                              str(tmp_path / "tls")))
    assert "cert.pem is missing" in line, line
