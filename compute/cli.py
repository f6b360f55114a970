"""`strata compute`: run a compute node: ``--standalone`` (embedded storage) or
``--role primary|replica`` on shared storage (log store + page server)."""

from __future__ import annotations

import asyncio
import json
import logging
import signal
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, NoReturn

import typer

from strata.busypoll import window_us_from_env
from strata.gcpolicy import freeze_startup
from strata.pgwire.handoff import LEND_LINGER_MS, MAX_LEND_LINGER_MS
from strata.pgwire.unixsock import SocketPathError

if TYPE_CHECKING:
    from compute.engine import ConnectionFactory

app = typer.Typer(help="Run a compute node (PostgreSQL protocol, SQL on SQLite).",
                  add_completion=False)


def _split_listen(listen: str) -> tuple[str, int]:
    host, sep, port = listen.rpartition(":")
    if not sep or not port.isdigit() or not host:
        raise typer.BadParameter(f"expected HOST:PORT, got {listen!r}", param_hint="--listen")
    return host.strip("[]"), int(port)


@app.command("check")
def check(
    data_dir: Path = typer.Option(..., envvar="STRATA_COMPUTE_DATA_DIR",
                                  help="A standalone data dir (the compute must be stopped)."),
    as_json: bool = typer.Option(False, "--json", help="Print the result as JSON."),
) -> None:
    """Offline consistency check of a standalone store: recovery plus PRAGMA integrity_check."""
    # import here: every `strata` command imports this module; the store loads only here
    from compute.standalone import StandaloneFactory

    if not data_dir.is_dir():
        typer.echo(f"error: {data_dir} is not a directory", err=True)
        raise typer.Exit(2)
    factory = StandaloneFactory(data_dir, page_cache_mb=64)
    try:
        conn = factory.connect(0, "reader")
        problems = [str(r[0]) for r in conn.execute("PRAGMA integrity_check").fetchall()]
        conn.close()
        lsn = factory.latest_lsn()
    finally:
        factory.close()
    ok = problems == ["ok"]
    if as_json:
        typer.echo(json.dumps({"ok": ok, "lsn": lsn, "problems": [] if ok else problems}))
    else:
        typer.echo(f"ok (recovered to LSN {lsn})" if ok else "\n".join(problems))
    if not ok:
        raise typer.Exit(1)


_LEND_LINGER_OPTION = typer.Option(
    LEND_LINGER_MS, "--lend-linger-ms", envvar="STRATA_COMPUTE_LEND_LINGER_MS", min=0.0,
    max=MAX_LEND_LINGER_MS,
    help="A client socket the proxy lent for a transaction stays this long (ms) for the "
         "client's next one before it goes back (0: at once).")


@app.callback(invoke_without_command=True)
def compute(
    ctx: typer.Context,
    standalone: bool = typer.Option(
        False, "--standalone", envvar="STRATA_COMPUTE_STANDALONE",
        help="Embedded local log and page store in --data-dir (one process, durable)."),
    listen: str = typer.Option("127.0.0.1:55433", envvar="STRATA_COMPUTE_LISTEN",
                               help="HOST:PORT for PostgreSQL clients."),
    data_dir: Path = typer.Option(Path(".strata/standalone"), envvar="STRATA_COMPUTE_DATA_DIR",
                                  help="Where the standalone store keeps its files."),
    auth: str = typer.Option("trust", envvar="STRATA_COMPUTE_AUTH",
                             help="trust | md5 | scram"),
    password_file: Path | None = typer.Option(None, envvar="STRATA_COMPUTE_PASSWORD_FILE",
                                              help="user:password lines (md5/scram auth)."),
    tls_cert: Path | None = typer.Option(None, envvar="STRATA_COMPUTE_TLS_CERT"),
    tls_key: Path | None = typer.Option(None, envvar="STRATA_COMPUTE_TLS_KEY"),
    require_tls: bool = typer.Option(False, "--require-tls", envvar="STRATA_COMPUTE_REQUIRE_TLS",
                                     help="Refuse clients that do not use TLS (like hostssl-only pg_hba)."),
    proxy_secret_file: Path | None = typer.Option(
        None, envvar="STRATA_COMPUTE_PROXY_SECRET_FILE",
        help="Accept the proxy's connections (it proves itself with this secret) and report LSNs to it."),
    max_connections: int = typer.Option(200, envvar="STRATA_COMPUTE_MAX_CONNECTIONS", min=1,
                                        help="Client connections at once (53300 beyond)."),
    max_readers: int = typer.Option(8, envvar="STRATA_COMPUTE_MAX_READERS",
                                    help="Reader connections per database."),
    page_cache_mb: int = typer.Option(128, envvar="STRATA_COMPUTE_PAGE_CACHE_MB",
                                      help="SQLite page cache per connection, MiB (with --role also the "
                                           "shared cache of pages from the page server)."),
    role: str = typer.Option("", "--role", envvar="STRATA_COMPUTE_ROLE",
                             help="primary | replica (shared storage; instead of --standalone)."),
    logstore: str = typer.Option("", "--logstore", envvar="STRATA_COMPUTE_LOGSTORE",
                                 help="Log store acceptors HOST:PORT,HOST:PORT,..."),
    pageserver: str = typer.Option("", "--pageserver", envvar="STRATA_COMPUTE_PAGESERVER",
                                   help="Page server HOST:PORT."),
    tenant: str = typer.Option("", "--tenant", envvar="STRATA_COMPUTE_TENANT"),
    timeline: str = typer.Option("", "--timeline", envvar="STRATA_COMPUTE_TIMELINE"),
    node_name: str = typer.Option("", "--node-name", envvar="STRATA_COMPUTE_NODE_NAME",
                                  help="This node's name (log subscriber, proposer)."),
    overlay_mb: int = typer.Option(64, "--overlay-mb", envvar="STRATA_COMPUTE_OVERLAY_MB",
                                   help="Recent page versions kept above the floor, MiB."),
    log_level: str = typer.Option("INFO", envvar="STRATA_LOG_LEVEL"),
    internal_tls_dir: Path | None = typer.Option(
        None, "--internal-tls-dir", envvar="STRATA_COMPUTE_INTERNAL_TLS_DIR",
        help="Mutual TLS to the log store and page server (with --role): ca.pem, cert.pem, "
             "key.pem (role compute)."),
    insecure: bool = typer.Option(False, "--insecure", envvar="STRATA_COMPUTE_INSECURE",
                                  help="Plaintext gRPC to the log store and page server."),
    unix_socket_dir: Path | None = typer.Option(
        None, "--unix-socket-dir", envvar="STRATA_COMPUTE_UNIX_SOCKET_DIR",
        help="Also listen on DIR/.s.PGSQL.<port> (psql -h DIR), owner-only, no TLS on it."),
    lend_linger_ms: float = _LEND_LINGER_OPTION,
) -> None:
    """Start a compute node and serve until SIGTERM/SIGINT."""
    if ctx.invoked_subcommand is not None:
        return
    logging.basicConfig(level=log_level.upper(), stream=sys.stderr,
                        format="%(asctime)s %(levelname)s %(name)s %(message)s")
    try:
        busy_poll_us = window_us_from_env()
    except ValueError as exc:
        _usage_error(str(exc))
    if auth not in ("trust", "md5", "scram"):
        raise typer.BadParameter("must be trust, md5 or scram", param_hint="--auth")
    if auth != "trust" and password_file is None:
        raise typer.BadParameter(f"--auth {auth} needs --password-file", param_hint="--auth")
    if require_tls and not (tls_cert and tls_key):
        raise typer.BadParameter("--require-tls needs --tls-cert and --tls-key", param_hint="--require-tls")
    if auth == "trust" and not require_tls:
        logging.getLogger("strata.compute").warning(
            "--auth trust: any client that reaches %s logs in as any user without a password", listen)
    remote: RemoteOptions | None = None
    if standalone and role:
        _usage_error("--standalone and --role exclude each other")
    if not standalone:
        remote = _remote_options(role, logstore, pageserver, tenant, timeline, node_name,
                                 page_cache_mb, overlay_mb, listen)
        _internal_tls(internal_tls_dir, insecure)
    host, port = _split_listen(listen)
    # import here: every `strata` command imports this module; the SQL engine takes ~0.8 s
    from compute.pgwire.server import ServerConfig

    config = ServerConfig(host=host, port=port, auth=auth,
                          password_file=str(password_file) if password_file else None,
                          tls_cert=str(tls_cert) if tls_cert else None,
                          tls_key=str(tls_key) if tls_key else None,
                          max_connections=max_connections, require_tls=require_tls,
                          proxy_secret_file=str(proxy_secret_file) if proxy_secret_file else None,
                          unix_socket_dir=str(unix_socket_dir) if unix_socket_dir else None,
                          busy_poll_us=busy_poll_us, lend_linger_ms=lend_linger_ms)
    try:
        # import here: optional at runtime (the except below), and only a running server needs it
        import uvloop

        uvloop.install()
    except ImportError:  # pragma: no cover - uvloop is a dependency, but optional at runtime
        pass
    try:
        asyncio.run(_serve(config, data_dir, max_readers, page_cache_mb, remote))
    except (OSError, SocketPathError) as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(1) from exc


@dataclass(frozen=True)
class RemoteOptions:
    """Flags of a compute on shared storage (``--role``)."""

    role: str
    logstore: list[str]
    pageserver: str
    tenant: str
    timeline: str
    node_name: str
    cache_mb: int
    overlay_mb: int


def _usage_error(message: str) -> NoReturn:
    typer.echo(f"error: {message}", err=True)
    raise typer.Exit(2)


def _is_addr(addr: str) -> bool:
    host, sep, port = addr.rpartition(":")
    return bool(sep and host and port.isdigit() and 0 < int(port) < 65536)


def _remote_options(role: str, logstore: str, pageserver: str, tenant: str, timeline: str,
                    node_name: str, cache_mb: int, overlay_mb: int,
                    listen: str) -> RemoteOptions:
    """Check the shared-storage flags; any problem is one line and exit status 2."""
    if not role:
        _usage_error("give --standalone or --role primary|replica")
    if role not in ("primary", "replica"):
        _usage_error(f"--role must be primary or replica, not {role!r}")
    addrs = [a.strip() for a in logstore.split(",") if a.strip()]
    if not addrs:
        _usage_error("--role needs --logstore HOST:PORT,... (the log store acceptors)")
    bad = [a for a in addrs if not _is_addr(a)]
    if bad or len(set(addrs)) != len(addrs):
        _usage_error(f"--logstore: bad or repeated address in {logstore!r}")
    if not _is_addr(pageserver):
        _usage_error(f"--role needs --pageserver HOST:PORT (got {pageserver!r})")
    if not tenant or not timeline:
        _usage_error("--role needs --tenant and --timeline")
    if cache_mb < 1 or overlay_mb < 1:
        _usage_error("--page-cache-mb and --overlay-mb must be at least 1")
    # import here: the log store client loads only for a compute on shared storage
    from logstore.proposer import lazy_seconds

    try:
        lazy_seconds()  # a primary's proposer reads it when built: a typo fails here, in one line
    except ValueError as exc:
        _usage_error(str(exc))
    name = node_name or f"compute-{role}-{listen.replace(':', '-')}"
    return RemoteOptions(role, addrs, pageserver, tenant, timeline, name, cache_mb, overlay_mb)


def _internal_tls(tls_dir: Path | None, insecure: bool) -> None:
    """This process's identity on every gRPC channel to the log store and page server."""
    # import here: TLS (cryptography) loads only for a compute on shared storage
    from strata.tls import TlsError, from_flags, set_client_tls

    try:
        set_client_tls(from_flags(tls_dir, insecure, "compute"))
    except TlsError as exc:
        _usage_error(str(exc))


def _open_remote(opts: RemoteOptions, page_cache_mb: int,
                 loop: asyncio.AbstractEventLoop) -> object:
    # import here: gRPC and the remote storage clients load only for --role
    from compute.remote.factory import RemoteFactory

    return RemoteFactory(opts.role, opts.logstore, opts.pageserver,  # type: ignore[arg-type]
                         opts.tenant, opts.timeline, opts.node_name,
                         page_cache_mb=opts.cache_mb, overlay_mb=opts.overlay_mb,
                         sqlite_cache_kib=page_cache_mb * 1024, proposer_loop=loop)


async def _serve(config: object, data_dir: Path, max_readers: int, page_cache_mb: int,
                 remote: RemoteOptions | None = None) -> None:
    # import here: the engine and storage stack (~0.8 s) load only when a compute runs
    from compute.engine import Engine
    from compute.pgwire.server import Server, ServerConfig  # import here: as above
    from compute.standalone import StandaloneFactory  # import here: as above
    from strata.storage import StorageError  # import here: as above

    assert isinstance(config, ServerConfig)
    factory: ConnectionFactory
    if remote is None:
        factory = StandaloneFactory(data_dir, page_cache_mb=page_cache_mb)
        factory.attach_loop(asyncio.get_running_loop())
        where = f"data in {data_dir}"
    else:
        try:
            opened = await asyncio.to_thread(_open_remote, remote, page_cache_mb,
                                             asyncio.get_running_loop())
        except StorageError as exc:
            print(f"error: {exc}", file=sys.stderr, flush=True)
            raise SystemExit(1) from None
        factory = opened  # type: ignore[assignment]
        where = (f"{remote.tenant}/{remote.timeline}, log store {','.join(remote.logstore)}, "
                 f"page server {remote.pageserver}")
    engine = Engine(factory, max_readers=max_readers)
    server = Server(engine, config)
    await server.start()
    freeze_startup()  # the engine, catalogs and modules: never walked by a full collection again
    mode = "standalone" if remote is None else remote.role
    unix = f" and {server.unix_path}" if server.unix_path else ""
    print(f"strata compute ({mode}) listening on {config.host}:{server.port}{unix}, {where}",
          flush=True)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    serving = asyncio.create_task(server.serve_forever())
    await stop.wait()
    serving.cancel()
    await server.close()
    await asyncio.to_thread(engine.close)  # off the loop: the proposer on it flushes meanwhile
