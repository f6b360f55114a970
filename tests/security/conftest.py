"""Real services with mutual TLS on 127.0.0.1: one log store acceptor and one page server
(push ingest), a cluster CA with a certificate per role, and a second CA nobody trusts."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import grpc
import pytest

from logstore.client import LogStoreClient
from strata.tls import TlsFiles, channel_credentials, create_ca, ensure_component, issue_cert
from tests.support import REPO, free_port, stop_process, wait_for_port

TENANT = "sec"
TIMELINE = "main"
START_TIMEOUT_S = 60.0


@dataclass(frozen=True)
class Pki:
    root: Path
    compute: TlsFiles
    pageserver: TlsFiles
    logstore: TlsFiles
    control: TlsFiles
    foreign_compute: TlsFiles
    """Role compute, signed by another CA (which also signs nothing the services trust)."""


@dataclass
class Service:
    name: str
    addr: str
    proc: subprocess.Popen[bytes]
    log_path: Path


def secure(addr: str, files: TlsFiles) -> grpc.Channel:
    return grpc.secure_channel(addr, channel_credentials(files))


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> Pki:
    root = tmp_path_factory.mktemp("pki")
    tls = root / "tls"
    other = root / "other-ca"
    create_ca(other, name="somebody else's CA")
    return Pki(
        root=root,
        compute=ensure_component(tls, "compute-1", "compute"),
        pageserver=ensure_component(tls, "pageserver-1", "pageserver"),
        logstore=ensure_component(tls, "logstore-1", "logstore"),
        control=ensure_component(tls, "control", "control"),
        foreign_compute=issue_cert(other, other / "compute-x", "compute-x", "compute"),
    )


def _spawn(name: str, root: Path, args: list[str]) -> tuple[subprocess.Popen[bytes], Path]:
    log_path = root / f"{name}.log"
    with open(log_path, "ab") as log:
        proc = subprocess.Popen([sys.executable, "-m", "strata", *args], stdout=log,
                                stderr=subprocess.STDOUT, cwd=REPO,
                                env=dict(os.environ, PYTHONUNBUFFERED="1"))
    return proc, log_path


@pytest.fixture(scope="module")
def acceptor(pki: Pki) -> Iterator[Service]:
    port = free_port()
    proc, log_path = _spawn("logstore-1", pki.root, [
        "logstore", "--id", "1", "--listen", f"127.0.0.1:{port}",
        "--data-dir", str(pki.root / "logstore-1"),
        "--internal-tls-dir", str(pki.logstore.cert.parent)])
    svc = Service("logstore-1", f"127.0.0.1:{port}", proc, log_path)
    try:
        wait_for_port(port, proc, START_TIMEOUT_S)
        with LogStoreClient([svc.addr], tls=pki.control) as client:
            deadline = time.monotonic() + START_TIMEOUT_S
            while True:
                try:
                    client.create_log(TENANT, TIMELINE)
                    break
                except Exception:
                    if time.monotonic() > deadline:
                        raise
                    time.sleep(0.1)
        yield svc
    finally:
        stop_process(proc)


@pytest.fixture(scope="module")
def pageserver(pki: Pki) -> Iterator[Service]:
    port = free_port()
    proc, log_path = _spawn("pageserver-1", pki.root, [
        "pageserver", "--listen", f"127.0.0.1:{port}",
        "--data-dir", str(pki.root / "pageserver-1"), "--object-store", str(pki.root / "objects"),
        "--internal-tls-dir", str(pki.pageserver.cert.parent)])
    try:
        wait_for_port(port, proc, START_TIMEOUT_S)
        yield Service("pageserver-1", f"127.0.0.1:{port}", proc, log_path)
    finally:
        stop_process(proc)
