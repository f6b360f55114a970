"""The cluster directory: ``cluster.json`` (spec + runtime), the admin ``token``, ``logs/``.

Layout of DIR (default ``./.strata``)::

    cluster.json          spec, daemon pid, REST address, components, branches, phase
    token                 bearer token for the admin REST API (mode 0600, random)
    logs/<component>.log  stdout+stderr of each process (and control.log for the daemon)
    logstore-N/ pageserver-1/ objects/   service data

``cluster.json`` is written atomically (temp file, fsync, rename, fsync of the directory) so
a reader never sees half a file and a crash keeps the old or the new version.
"""

from __future__ import annotations

import json
import os
import secrets
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any

from control.spec import ClusterSpec
from strata.pgwire.unixsock import SocketPathError, socket_path

CLUSTER_FILE = "cluster.json"
TOKEN_FILE = "token"
TOKEN_ENV = "STRATA_ADMIN_TOKEN"
TOKEN_BYTES = 32


@dataclass
class ComponentState:
    kind: str
    """logstore | pageserver | compute"""
    name: str
    address: str
    data_dir: str = ""
    role: str = ""
    """primary | replica for computes, "" otherwise."""
    timeline: str = ""
    """The timeline a compute serves ("" for storage)."""
    node_id: int = 0
    pid: int = 0
    state: str = "pending"
    """pending | starting | running | backoff | failed | stopped"""
    restarts: int = 0
    detail: str = ""

    @property
    def port(self) -> int:
        return int(self.address.rpartition(":")[2])

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> ComponentState:
        known = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in data.items() if k in known})


@dataclass
class BranchState:
    name: str
    ancestor: str
    ancestor_lsn: int
    kind: str = "branch"
    """branch | restore"""
    created_at: str = ""
    timestamp: str = ""
    """For a point-in-time restore: the requested time (ISO 8601)."""

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> BranchState:
        known = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in data.items() if k in known})


@dataclass
class ClusterState:
    spec: ClusterSpec
    daemon_pid: int = 0
    supervisor_pid: int = 0
    """`strata up --detach`: the process that restarts the daemon if it dies (0: none)."""
    supervisor_detail: str = ""
    """Why the supervisor gave up restarting the daemon ("" while it has not)."""
    rest_address: str = ""
    phase: str = "stopped"
    """stopped | starting | ready | stopping | failed"""
    detail: str = ""
    bootstrapped: bool = False
    """The log and timeline of the main branch exist (creation is done once)."""
    components: list[ComponentState] = field(default_factory=list)
    branches: list[BranchState] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        return {
            "spec": self.spec.to_json(),
            "daemon_pid": self.daemon_pid,
            "supervisor_pid": self.supervisor_pid,
            "supervisor_detail": self.supervisor_detail,
            "rest_address": self.rest_address,
            "phase": self.phase,
            "detail": self.detail,
            "bootstrapped": self.bootstrapped,
            "components": [asdict(c) for c in self.components],
            "branches": [asdict(b) for b in self.branches],
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> ClusterState:
        return cls(
            spec=ClusterSpec.from_json(data.get("spec", {})),
            daemon_pid=int(data.get("daemon_pid", 0)),
            supervisor_pid=int(data.get("supervisor_pid", 0)),
            supervisor_detail=str(data.get("supervisor_detail", "")),
            rest_address=str(data.get("rest_address", "")),
            phase=str(data.get("phase", "stopped")),
            detail=str(data.get("detail", "")),
            bootstrapped=bool(data.get("bootstrapped", False)),
            components=[ComponentState.from_json(c) for c in data.get("components", [])],
            branches=[BranchState.from_json(b) for b in data.get("branches", [])],
        )

    def component(self, name: str) -> ComponentState | None:
        return next((c for c in self.components if c.name == name), None)

    def branch(self, name: str) -> BranchState | None:
        return next((b for b in self.branches if b.name == name), None)


class NoCluster(Exception):
    """DIR has no cluster.json."""


UNIX_SOCKETS_ENV = "STRATA_UNIX_SOCKETS"
"""``off``: computes and the proxy listen on TCP only (no ``run/`` sockets)."""


class ClusterDir:
    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = Path(path).resolve()

    @property
    def cluster_file(self) -> Path:
        return self.path / CLUSTER_FILE

    @property
    def token_file(self) -> Path:
        return self.path / TOKEN_FILE

    @property
    def logs(self) -> Path:
        return self.path / "logs"

    def log_file(self, component: str) -> Path:
        return self.logs / f"{component}.log"

    def exists(self) -> bool:
        return self.cluster_file.is_file()

    def socket_dir(self) -> str | None:
        """Where local computes and the proxy put their Unix sockets: ``run/`` (owner-only),
        unless STRATA_UNIX_SOCKETS=off or the path is too long for a socket name (then
        everything stays on TCP)."""
        if os.environ.get(UNIX_SOCKETS_ENV, "on") == "off":
            return None
        directory = str(self.path / "run")
        try:
            socket_path(directory, 65535)
        except SocketPathError:
            return None
        return directory

    def create(self) -> None:
        self.path.mkdir(parents=True, exist_ok=True)
        self.logs.mkdir(exist_ok=True)
        self.ensure_token()

    def load(self) -> ClusterState:
        try:
            data = json.loads(self.cluster_file.read_text())
        except FileNotFoundError:
            raise NoCluster(f"no cluster in {self.path} (no {CLUSTER_FILE}; run `strata up`)") from None
        return ClusterState.from_json(data)

    def save(self, state: ClusterState) -> None:
        write_atomic(self.cluster_file, json.dumps(state.to_json(), indent=2).encode() + b"\n")

    def ensure_token(self) -> str:
        """The token file's content, creating a random one (0600) if there is none."""
        try:
            return self.token_file.read_text().strip()
        except FileNotFoundError:
            pass
        token = secrets.token_urlsafe(TOKEN_BYTES)
        write_atomic(self.token_file, token.encode() + b"\n", mode=0o600)
        return token

    def token(self) -> str:
        """The admin token: ``STRATA_ADMIN_TOKEN`` if set, else the token file."""
        env = os.environ.get(TOKEN_ENV)
        if env:
            return env
        try:
            return self.token_file.read_text().strip()
        except FileNotFoundError:
            raise NoCluster(f"no token in {self.path} (set {TOKEN_ENV} or run `strata up`)") from None


def write_atomic(path: Path, data: bytes, mode: int = 0o644) -> None:
    """Write ``data`` to ``path`` so readers see the old or the new file, never a mix."""
    tmp = path.with_name(f".{path.name}.tmp.{os.getpid()}")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode)
    try:
        os.fchmod(fd, mode)
        view = memoryview(data)
        while view:
            view = view[os.write(fd, view):]
        os.fsync(fd)
    finally:
        os.close(fd)
    os.replace(tmp, path)
    dfd = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(dfd)
    finally:
        os.close(dfd)
