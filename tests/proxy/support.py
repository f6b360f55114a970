"""Helpers for the proxy tests: a `strata proxy` process, its metrics, TLS material, users."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import httpx

from strata.pgwire.auth import ScramVerifier
from tests.compute_remote.cluster import Proc
from tests.support import free_port

SECRET = "proxy-secret-0123456789abcdef"


def write_secret(root: Path) -> Path:
    path = root / "proxy-secret"
    path.write_text(SECRET + "\n")
    return path


def write_users(root: Path, users: dict[str, str]) -> Path:
    """A users file of SCRAM verifiers (the proxy never sees a plaintext password)."""
    path = root / "users"
    path.write_text("".join(f"{u}:{ScramVerifier.from_password(p).text()}\n" for u, p in users.items()))
    return path


def self_signed_cert(root: Path) -> tuple[Path, Path]:
    cert, key = root / "cert.pem", root / "key.pem"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
                    "-subj", "/CN=127.0.0.1", "-keyout", str(key), "-out", str(cert)],
                   check=True, capture_output=True)
    return cert, key


class ProxyProc(Proc):
    """`strata proxy` on a free port with a metrics port."""

    def __init__(self, root: Path, secret: Path, *args: str, name: str = "proxy") -> None:
        port = free_port()
        self.metrics_port = free_port()
        super().__init__(name, root, ["proxy", "--listen", f"127.0.0.1:{port}",
                                      "--proxy-secret-file", str(secret),
                                      "--metrics-port", str(self.metrics_port), *args], port)

    def dsn(self, user: str = "postgres", password: str | None = None, **params: str) -> str:
        auth = f"{user}:{password}" if password is not None else user
        query = "&".join(f"{k}={v}" for k, v in params.items())
        return f"postgresql://{auth}@127.0.0.1:{self.port}/postgres" + (f"?{query}" if query else "")

    def metric(self, name: str, **labels: str) -> float:
        """Sum of the samples of ``name`` whose labels include ``labels``."""
        text = httpx.get(f"http://127.0.0.1:{self.metrics_port}/metrics", timeout=5).text
        total = 0.0
        for line in text.splitlines():
            m = re.match(r"^(\w+)(\{[^}]*\})? (\S+)$", line)
            if not m or m.group(1) != name:
                continue
            have = dict(re.findall(r'(\w+)="([^"]*)"', m.group(2) or ""))
            if all(have.get(k) == v for k, v in labels.items()):
                total += float(m.group(3))
        return total
