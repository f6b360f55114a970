"""`strata proxy`: the client endpoint (TLS, SCRAM, pooling, read/write split, failover)."""

from __future__ import annotations

import asyncio
import logging
import signal
from pathlib import Path

import typer

from proxy.config import MAX_REPLICA_PACK
from strata.busypoll import window_us_from_env
from strata.gcpolicy import freeze_startup

app = typer.Typer(help="Run the PostgreSQL-protocol proxy in front of the computes.",
                  add_completion=False)


def _check_address(value: str, flag: str) -> str:
    host, sep, port = value.rpartition(":")
    if not sep or not host or not port.isdigit():
        raise typer.BadParameter(f"expected HOST:PORT, got {value!r}", param_hint=flag)
    return value


@app.callback(invoke_without_command=True)
def proxy(
    listen: str = typer.Option("127.0.0.1:55432", envvar="STRATA_PROXY_LISTEN",
                               help="HOST:PORT for PostgreSQL clients."),
    primary: str | None = typer.Option(None, envvar="STRATA_PROXY_PRIMARY",
                                       help="HOST:PORT of the primary compute."),
    replica: list[str] = typer.Option([], "--replica", envvar="STRATA_PROXY_REPLICAS",
                                      help="HOST:PORT of a replica compute (repeatable)."),
    topology: Path | None = typer.Option(
        None, "--topology", envvar="STRATA_PROXY_TOPOLOGY",
        help='JSON {"primary": "h:p", "replicas": ["h:p", ...]}, re-read when it changes.'),
    users_file: Path | None = typer.Option(
        None, envvar="STRATA_PROXY_USERS_FILE",
        help="user:SCRAM-SHA-256$... lines (re-read when it changes)."),
    auth: str = typer.Option("scram", envvar="STRATA_PROXY_AUTH", help="scram | trust"),
    tls_cert: Path | None = typer.Option(None, envvar="STRATA_PROXY_TLS_CERT"),
    tls_key: Path | None = typer.Option(None, envvar="STRATA_PROXY_TLS_KEY"),
    require_tls: bool = typer.Option(False, "--require-tls", envvar="STRATA_PROXY_REQUIRE_TLS",
                                     help="Refuse plaintext clients (FATAL 28000)."),
    proxy_secret_file: Path | None = typer.Option(
        None, envvar="STRATA_PROXY_SECRET_FILE",
        help="The secret the computes were started with (--proxy-secret-file)."),
    pool_mode: str = typer.Option("transaction", envvar="STRATA_PROXY_POOL_MODE",
                                  help="transaction | session"),
    max_client_conn: int = typer.Option(1000, envvar="STRATA_PROXY_MAX_CLIENT_CONN", min=1,
                                        help="Client connections at once (53300 beyond)."),
    pool_size: int = typer.Option(10, envvar="STRATA_PROXY_POOL_SIZE", min=1,
                                  help="Server connections per (database, user) per compute."),
    pool_timeout_s: float = typer.Option(10.0, envvar="STRATA_PROXY_POOL_TIMEOUT_S", min=0.0,
                                         help="Wait for a pooled connection, then 53300."),
    ryw_wait_ms: float = typer.Option(50.0, envvar="STRATA_PROXY_RYW_WAIT_MS", min=0.0,
                                      help="Wait for a replica to replay a session's commit, "
                                           "then read from the primary."),
    failover_wait_s: float = typer.Option(15.0, envvar="STRATA_PROXY_FAILOVER_WAIT_S", min=0.0,
                                          help="Hold new transactions while there is no primary."),
    startup_timeout_s: float = typer.Option(10.0, envvar="STRATA_PROXY_STARTUP_TIMEOUT_S", min=0.1,
                                            help="Startup and authentication must finish within this."),
    metrics_port: int | None = typer.Option(None, envvar="STRATA_PROXY_METRICS_PORT",
                                            help="Prometheus /metrics port."),
    log_level: str = typer.Option("INFO", envvar="STRATA_LOG_LEVEL"),
    replica_pack: int = typer.Option(
        0, "--replica-pack", envvar="STRATA_PROXY_REPLICA_PACK", min=0, max=MAX_REPLICA_PACK,
        help="Reads stay on the busiest replica until it has this many server connections in "
             "use, then go to the least busy (0: always the least busy). Pays where replicas "
             "share cores (one machine); spreading pays where each has its own."),
    compute_socket_dir: Path | None = typer.Option(
        None, "--compute-socket-dir", envvar="STRATA_PROXY_COMPUTE_SOCKET_DIR",
        help="Reach computes on this machine (127.0.0.1/localhost) through DIR/.s.PGSQL.<port> "
             "when that socket exists (their --unix-socket-dir); TCP otherwise."),
    unix_socket_dir: Path | None = typer.Option(
        None, "--unix-socket-dir", envvar="STRATA_PROXY_UNIX_SOCKET_DIR",
        help="Also listen on DIR/.s.PGSQL.<port> for clients on this machine (psql -h DIR): "
             "owner-only, no TLS offered, the same authentication as over TCP."),
    lend_sockets: bool = typer.Option(
        True, "--lend-sockets/--no-lend-sockets", envvar="STRATA_PROXY_LEND_SOCKETS",
        help="Inside a write transaction, lend a plaintext client's socket to a primary on this "
             "machine until the transaction ends (no proxy hop per round trip; decision 0017)."),
) -> None:
    """Start the proxy and serve until SIGTERM/SIGINT."""
    from proxy.config import ProxyConfig
    from proxy.server import ProxyServer

    logging.basicConfig(level=log_level.upper(),
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    _check_address(listen, "--listen")
    try:
        busy_poll_us = window_us_from_env()
    except ValueError as exc:
        raise typer.BadParameter(str(exc)) from None
    if primary:
        _check_address(primary, "--primary")
    for r in replica:
        _check_address(r, "--replica")
    if not (primary or replica or topology):
        raise typer.BadParameter("give --primary/--replica or --topology", param_hint="--primary")
    host, _, port = listen.rpartition(":")
    config = ProxyConfig(
        listen_host=host.strip("[]"), listen_port=int(port), primary=primary, replicas=list(replica),
        topology_file=topology, users_file=users_file, auth=auth, tls_cert=tls_cert, tls_key=tls_key,
        require_tls=require_tls, proxy_secret_file=proxy_secret_file, pool_mode=pool_mode,
        max_client_conn=max_client_conn, pool_size=pool_size, pool_timeout_s=pool_timeout_s,
        ryw_wait_ms=ryw_wait_ms, failover_wait_s=failover_wait_s, metrics_port=metrics_port,
        startup_timeout_s=startup_timeout_s, compute_socket_dir=compute_socket_dir,
        busy_poll_us=busy_poll_us, replica_pack=replica_pack, lend_sockets=lend_sockets,
        unix_socket_dir=unix_socket_dir)
    try:
        import uvloop

        uvloop.install()
    except ImportError:
        pass

    async def main() -> None:
        try:
            server = ProxyServer(config)
        except (ValueError, OSError) as exc:
            raise typer.BadParameter(str(exc)) from None
        try:
            await server.start()
        except (ValueError, OSError) as exc:  # e.g. the port or the socket is taken
            await server.close()
            raise typer.BadParameter(str(exc)) from None
        freeze_startup()  # strata/gcpolicy.py: full collections skip what startup made
        loop = asyncio.get_running_loop()
        stop = asyncio.Event()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, stop.set)
        serving = asyncio.create_task(server.serve_forever())
        await stop.wait()
        serving.cancel()
        await server.close()

    asyncio.run(main())
