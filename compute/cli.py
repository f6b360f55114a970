"""`strata compute`: run a compute node (for now: ``--standalone`` with embedded storage)."""

from __future__ import annotations

import asyncio
import logging
import signal
import sys
from pathlib import Path

import typer

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
    import json

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
    max_readers: int = typer.Option(8, envvar="STRATA_COMPUTE_MAX_READERS",
                                    help="Reader connections per database."),
    page_cache_mb: int = typer.Option(128, envvar="STRATA_COMPUTE_PAGE_CACHE_MB",
                                      help="SQLite page cache per connection, MiB."),
    log_level: str = typer.Option("INFO", envvar="STRATA_LOG_LEVEL"),
) -> None:
    """Start a compute node and serve until SIGTERM/SIGINT."""
    if ctx.invoked_subcommand is not None:
        return
    logging.basicConfig(level=log_level.upper(), stream=sys.stderr,
                        format="%(asctime)s %(levelname)s %(name)s %(message)s")
    if auth not in ("trust", "md5", "scram"):
        raise typer.BadParameter("must be trust, md5 or scram", param_hint="--auth")
    if auth != "trust" and password_file is None:
        raise typer.BadParameter(f"--auth {auth} needs --password-file", param_hint="--auth")
    if not standalone:
        typer.echo("error: only --standalone compute nodes exist yet (the log store and page "
                   "server clients come with the cluster)", err=True)
        raise typer.Exit(2)
    host, port = _split_listen(listen)
    from compute.pgwire.server import ServerConfig

    config = ServerConfig(host=host, port=port, auth=auth,
                          password_file=str(password_file) if password_file else None,
                          tls_cert=str(tls_cert) if tls_cert else None,
                          tls_key=str(tls_key) if tls_key else None)
    try:
        import uvloop

        uvloop.install()
    except ImportError:  # pragma: no cover - uvloop is a dependency, but optional at runtime
        pass
    try:
        asyncio.run(_serve(config, data_dir, max_readers, page_cache_mb))
    except OSError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(1) from exc


async def _serve(config: object, data_dir: Path, max_readers: int, page_cache_mb: int) -> None:
    from compute.engine import Engine
    from compute.pgwire.server import Server, ServerConfig
    from compute.standalone import StandaloneFactory

    assert isinstance(config, ServerConfig)
    factory = StandaloneFactory(data_dir, page_cache_mb=page_cache_mb)
    engine = Engine(factory, max_readers=max_readers)
    server = Server(engine, config)
    await server.start()
    print(f"strata compute (standalone) listening on {config.host}:{server.port}, "
          f"data in {data_dir}", flush=True)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    serving = asyncio.create_task(server.serve_forever())
    await stop.wait()
    serving.cancel()
    await server.close()
    engine.close()
