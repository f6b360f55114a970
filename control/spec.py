"""The cluster spec: the desired shape of one cluster, validated before anything starts.

Every field is a flag of `strata up` and an environment variable ``STRATA_CLUSTER_<FIELD>``
(upper case). A bad spec is refused with a `SpecError` that names the field, so a typo
never leaves half a cluster running.
"""

from __future__ import annotations

import concurrent.futures
import errno
import os
import re
import socket
from dataclasses import asdict, dataclass, fields
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlparse

from proxy.config import MAX_REPLICA_PACK

ENV_PREFIX = "STRATA_CLUSTER_"
MAX_REPLICAS = 16
"""Replicas per timeline; each is a process, so a bound keeps one machine usable."""
OBJECT_STORE_CHECK_S = 10.0
"""How long reaching a remote object store may take during validation."""
_ID = re.compile(r"[A-Za-z0-9_-]{1,64}")


class SpecError(ValueError):
    """A spec field with a bad value; ``field`` is the spec field's name."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field
        self.message = message


@dataclass
class ClusterSpec:
    dir: str = ".strata"
    tenant: str = "default"
    timeline: str = "main"
    logstores: int = 3
    pageservers: int = 1
    replicas: int = 1
    object_store: str = ""
    """Empty: a local directory DIR/objects."""
    host: str = "127.0.0.1"
    logstore_port: int = 55401
    """First log store port; node i listens on logstore_port + i - 1."""
    logstore_fast_port: int = 55420
    """First log store fast append port (logstore/fastappend.py, mutual TLS like gRPC); node
    i listens on logstore_fast_port + i - 1; 0: none (gRPC AppendStream only)."""
    pageserver_port: int = 55410
    compute_port: int = 55433
    """First compute port (55432 is kept for the proxy); more computes take the next ones."""
    rest_port: int = 55480
    proxy_port: int = 55432
    """The proxy: the cluster's one client endpoint (TLS + SCRAM-SHA-256)."""
    replica_pack: int = 8
    """The proxy's --replica-pack: reads stay on the busiest replica until it has this many
    server connections in use. Every process of a local cluster shares the machine's cores,
    where a replica kept busy serves a read for less CPU than two half-busy ones
    (docs/performance.md, "Packing reads onto one replica"); 0: the least busy replica."""
    auth: str = "scram"
    """scram: clients log in with a password (users held by the control plane); trust: no
    passwords anywhere (only for throwaway local clusters; logged as a warning)."""

    @property
    def object_store_url(self) -> str:
        return self.object_store or str(Path(self.dir).resolve() / "objects")

    @property
    def proxy_address(self) -> str:
        return f"{self.host}:{self.proxy_port}"

    @property
    def rest_address(self) -> str:
        return f"{self.host}:{self.rest_port}"

    def logstore_addresses(self) -> list[str]:
        return [f"{self.host}:{self.logstore_port + i}" for i in range(self.logstores)]

    def logstore_fast_address(self, node_id: int) -> str:
        """Where node ``node_id`` (1-based) serves the fast append stream; "" if none."""
        if not self.logstore_fast_port:
            return ""
        return f"{self.host}:{self.logstore_fast_port + node_id - 1}"

    def pageserver_address(self) -> str:
        return f"{self.host}:{self.pageserver_port}"

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> ClusterSpec:
        known = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in data.items() if k in known})


def env_overrides(environ: dict[str, str] | None = None) -> dict[str, Any]:
    """Spec fields set through ``STRATA_CLUSTER_<FIELD>`` variables (ints parsed)."""
    environ = dict(os.environ) if environ is None else environ
    out: dict[str, Any] = {}
    for f in fields(ClusterSpec):
        raw = environ.get(ENV_PREFIX + f.name.upper())
        if raw is None:
            continue
        if f.type in ("int", int):
            try:
                out[f.name] = int(raw)
            except ValueError:
                raise SpecError(f.name, f"{ENV_PREFIX + f.name.upper()}={raw!r} is not an integer") from None
        else:
            out[f.name] = raw
    return out


def ports(spec: ClusterSpec) -> dict[str, int]:
    """Every port the spec asks for at start, keyed by a name that says whose it is."""
    out: dict[str, int] = {}
    for i in range(max(spec.logstores, 0)):
        out[f"logstore_port (node {i + 1})"] = spec.logstore_port + i
        if spec.logstore_fast_port:
            out[f"logstore_fast_port (node {i + 1})"] = spec.logstore_fast_port + i
    for i in range(max(spec.pageservers, 0)):
        out[f"pageserver_port (node {i + 1})"] = spec.pageserver_port + i
    for i in range(1 + max(spec.replicas, 0)):
        out[f"compute_port (compute {i})"] = spec.compute_port + i
    out["rest_port"] = spec.rest_port
    out["proxy_port"] = spec.proxy_port
    return out


def port_in_use(host: str, port: int) -> bool:
    """True if something listens on, or holds, host:port (we try to bind it)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind((host, port))
        except OSError as exc:
            if exc.errno in (errno.EADDRINUSE, errno.EACCES):
                return True
            raise
    return False


def validate(spec: ClusterSpec, *, check_ports: bool = True, check_object_store: bool = True,
             held: frozenset[int] = frozenset()) -> None:
    """Raise SpecError (naming the field) for a spec that cannot run. ``held``: ports this
    cluster's own live components hold (a daemon that died left them running: the new one
    adopts them), not checked for being free."""
    if not spec.dir:
        raise SpecError("dir", "must not be empty")
    for name in ("tenant", "timeline"):
        if not _ID.fullmatch(getattr(spec, name)):
            raise SpecError(name, "must be 1..64 characters of [A-Za-z0-9_-]")
    if spec.logstores < 1:
        raise SpecError("logstores", f"must be at least 1, got {spec.logstores}")
    if spec.logstores % 2 == 0:
        raise SpecError(
            "logstores", f"must be odd (a majority of {spec.logstores} tolerates no more "
            f"failures than {spec.logstores - 1}), got {spec.logstores}")
    if spec.pageservers != 1:
        raise SpecError("pageservers", f"only 1 page server is supported, got {spec.pageservers}")
    if spec.auth not in ("scram", "trust"):
        raise SpecError("auth", f"must be scram or trust, got {spec.auth!r}")
    if spec.replicas < 0:
        raise SpecError("replicas", f"must be 0 or more, got {spec.replicas}")
    if spec.replicas > MAX_REPLICAS:
        raise SpecError("replicas", f"at most {MAX_REPLICAS}, got {spec.replicas}")
    if not 0 <= spec.replica_pack <= MAX_REPLICA_PACK:
        raise SpecError("replica_pack", f"must be 0..{MAX_REPLICA_PACK}, got {spec.replica_pack}")
    try:
        socket.inet_aton(spec.host)
    except OSError:
        raise SpecError("host", f"must be an IPv4 address, got {spec.host!r}") from None
    seen: dict[int, str] = {}
    for label, port in ports(spec).items():
        field = label.split(" ")[0]
        if not 1 <= port <= 65535:
            raise SpecError(field, f"{label} = {port} is not a valid port")
        if port in seen:
            raise SpecError(field, f"{label} = {port} is also {seen[port]}")
        seen[port] = label
    if check_ports:
        for label, port in ports(spec).items():
            if port not in held and port_in_use(spec.host, port):
                raise SpecError(label.split(" ")[0], f"{label}: {spec.host}:{port} is already in use")
    if check_object_store:
        check_object_store_url(spec.object_store_url)


def check_object_store_url(url: str) -> None:
    """Refuse an object store we cannot write to (local) or reach (S3) — field object_store."""
    parsed = urlparse(url)
    if parsed.scheme in ("", "file"):
        if parsed.scheme == "file" and parsed.netloc not in ("", "localhost"):
            raise SpecError("object_store", f"file URL with a host is not supported: {url!r}")
        path = Path(unquote(parsed.path) if parsed.scheme == "file" else url)
        probe = path
        while not probe.exists() and probe != probe.parent:
            probe = probe.parent
        if not probe.is_dir() or not os.access(probe, os.W_OK | os.X_OK):
            raise SpecError("object_store", f"{path} is not a writable directory (at {probe})")
        return
    if parsed.scheme != "s3":
        raise SpecError("object_store", f"unsupported URL scheme {parsed.scheme!r} in {url!r}")
    from strata.objectstore import open_object_store

    def reach() -> None:
        open_object_store(url).list("")

    pool = concurrent.futures.ThreadPoolExecutor(max_workers=1)
    try:
        pool.submit(reach).result(timeout=OBJECT_STORE_CHECK_S)
    except concurrent.futures.TimeoutError:
        raise SpecError("object_store", f"{url} did not answer within {OBJECT_STORE_CHECK_S:.0f}s") from None
    except Exception as exc:  # noqa: BLE001 - any failure to reach it is the finding
        raise SpecError("object_store", f"{url} is unreachable: {exc}") from None
    finally:
        pool.shutdown(wait=False)
