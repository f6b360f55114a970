"""A moto S3 server on 127.0.0.1 for tests: import the ``s3_server`` fixture from here.

Usage in a conftest or test module::

    from tests.s3_fixture import s3_server  # noqa: F401  (re-exported fixture)

It runs ``python -m moto.server`` as a real process on a free port for the whole session,
sets dummy AWS credentials in ``os.environ`` (inherited by subprocesses started after it)
and yields an :class:`S3Server` whose ``url(prefix)`` gives an ``s3://`` object store URL
for a fresh bucket.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
import urllib.request
import uuid
from collections.abc import Iterator
from dataclasses import dataclass

import pytest

from tests.support import free_port as support_free_port

AWS_ENV = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_SESSION_TOKEN": "testing",
    "AWS_DEFAULT_REGION": "us-east-1",
}


def free_port() -> int:
    """``tests.support.free_port``: below the ephemeral range, never handed out twice."""
    return support_free_port()


@dataclass
class S3Server:
    endpoint: str
    proc: subprocess.Popen[bytes]

    def url(self, prefix: str = "data") -> str:
        """An object store URL in a new, empty bucket (created on first open)."""
        bucket = f"b-{uuid.uuid4().hex[:16]}"
        return (
            f"s3://{bucket}/{prefix}?endpoint_url={self.endpoint}&region=us-east-1&create_bucket=1"
        )


def start_moto(port: int | None = None) -> S3Server:
    port = port or free_port()
    env = dict(os.environ, **AWS_ENV)
    proc = subprocess.Popen(
        [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    endpoint = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    while True:
        if proc.poll() is not None:
            raise RuntimeError(f"moto server exited with {proc.returncode}")
        try:
            with urllib.request.urlopen(endpoint + "/moto-api/", timeout=1):
                break
        except OSError:
            if time.monotonic() > deadline:
                proc.kill()
                raise RuntimeError("moto server did not start within 30s") from None
            time.sleep(0.1)
    return S3Server(endpoint, proc)


@pytest.fixture(scope="session")
def s3_server() -> Iterator[S3Server]:
    old = {k: os.environ.get(k) for k in AWS_ENV}
    os.environ.update(AWS_ENV)
    server = start_moto()
    try:
        yield server
    finally:
        server.proc.kill()
        server.proc.wait()
        for k, v in old.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v
