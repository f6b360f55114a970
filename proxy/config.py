"""The proxy's configuration: one dataclass, filled from the CLI flags."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

MAX_PREAUTH_MESSAGE_BYTES = 65_536
"""Largest message body (bytes) accepted from a client before it has authenticated."""

MAX_REPLICA_PACK = 10_000
"""Largest --replica-pack (server connections in use on one replica)."""


@dataclass
class ProxyConfig:
    listen_host: str = "127.0.0.1"
    listen_port: int = 55432
    primary: str | None = None                     # HOST:PORT
    replicas: list[str] = field(default_factory=list)
    topology_file: Path | None = None              # {"primary": "h:p", "replicas": [...]}
    users_file: Path | None = None                 # user:SCRAM-SHA-256$... lines
    auth: str = "scram"                            # scram | trust
    tls_cert: Path | None = None
    tls_key: Path | None = None
    require_tls: bool = False
    proxy_secret_file: Path | None = None
    pool_mode: str = "transaction"                 # transaction | session
    max_client_conn: int = 1000
    pool_size: int = 10                            # server connections per (db, user, backend)
    pool_timeout_s: float = 10.0                   # wait for a pooled connection, then 53300
    ryw_wait_ms: float = 50.0                      # wait for a replica to replay a session's commit
    failover_wait_s: float = 15.0                  # hold new transactions while there is no primary
    metrics_port: int | None = None
    startup_timeout_s: float = 10.0                # startup + authentication, then the socket is closed
    server_connect_timeout_s: float = 5.0
    monitor_interval_s: float = 0.02               # health / replay-LSN poll per compute
    primary_monitor_interval_s: float = 0.1        # ... of the current primary while it is healthy
                                                   # (its monitor connection's end polls at once)
    max_message_bytes: int = 64 * 1024 * 1024     # after authentication
    compute_socket_dir: Path | None = None         # computes on this machine via DIR/.s.PGSQL.<port>
    topology_poll_s: float = 0.1                   # topology and users file mtime checks
    busy_poll_us: int = 0                          # poll this long after input while the core is free
    lend_sockets: bool = True                      # lend plaintext clients' sockets to a local
                                                   # primary for write transactions (decision 0017)
    unix_socket_dir: Path | None = None            # also listen on DIR/.s.PGSQL.<port> (local, no TLS)
    replica_pack: int = 0                          # reads stay on the busiest replica below this many
                                                   # connections in use; 0: the least busy replica
