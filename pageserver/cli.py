"""`strata pageserver`: run the page server (every flag also from STRATA_PAGESERVER_*)."""

from __future__ import annotations

import logging
import signal
import sys
import threading
from typing import Annotated

import typer

from strata.gcpolicy import freeze_startup

app = typer.Typer(
    name="pageserver",
    help="Run the page server: pages at an LSN, materialized from the WAL onto object storage.",
    add_completion=False,
)

_E = "STRATA_PAGESERVER_"


@app.callback(invoke_without_command=True)
def pageserver(
    ctx: typer.Context,
    listen: Annotated[
        str, typer.Option(envvar=_E + "LISTEN", help="gRPC host:port.")
    ] = "127.0.0.1:6400",
    data_dir: Annotated[
        str, typer.Option(envvar=_E + "DATA_DIR", help="Local layer cache directory.")
    ] = ".strata/pageserver",
    object_store: Annotated[
        str,
        typer.Option(
            envvar=_E + "OBJECT_STORE",
            help="Directory, file:///dir or s3://bucket/prefix?endpoint_url=...",
        ),
    ] = ".strata/objects",
    logstore: Annotated[
        str,
        typer.Option(
            envvar=_E + "LOGSTORE", help="Log store acceptors host:port,... (empty: push only)."
        ),
    ] = "",
    metrics_listen: Annotated[
        str,
        typer.Option(
            envvar=_E + "METRICS_LISTEN", help="Prometheus endpoint host:port (empty: off)."
        ),
    ] = "",
    checkpoint_mb: Annotated[
        float,
        typer.Option(envvar=_E + "CHECKPOINT_MB", help="Flush the in-memory layer at this size."),
    ] = 16.0,
    checkpoint_timeout: Annotated[
        float, typer.Option(envvar=_E + "CHECKPOINT_TIMEOUT", help="...or after this many seconds.")
    ] = 10.0,
    compaction_threshold: Annotated[
        int,
        typer.Option(
            envvar=_E + "COMPACTION_THRESHOLD",
            help="Deltas above the newest image that trigger one.",
        ),
    ] = 4,
    auto_compact: Annotated[bool, typer.Option(envvar=_E + "AUTO_COMPACT")] = True,
    merge_deltas: Annotated[
        int,
        typer.Option(
            envvar=_E + "MERGE_DELTAS",
            help="Merge this many times the compaction threshold of flushed delta layers into "
            "one (0: off; measured not to pay under TPC-B, docs/performance.md session 13).",
        ),
    ] = 0,
    retention_lsn: Annotated[
        int,
        typer.Option(
            envvar=_E + "RETENTION_LSN", help="GC keeps this many bytes of LSN history (0: off)."
        ),
    ] = 256 * 1024 * 1024,
    retention_seconds: Annotated[
        float,
        typer.Option(
            envvar=_E + "RETENTION_SECONDS", help="GC keeps commits this recent (0: off)."
        ),
    ] = 0.0,
    gc_interval: Annotated[
        float, typer.Option(envvar=_E + "GC_INTERVAL", help="Seconds between GC passes.")
    ] = 30.0,
    wait_lsn_timeout: Annotated[
        float,
        typer.Option(envvar=_E + "WAIT_LSN_TIMEOUT", help="Default bound on waiting for an LSN."),
    ] = 5.0,
    lease_grace: Annotated[
        float,
        typer.Option(
            envvar=_E + "LEASE_GRACE",
            help="Seconds after start before GC moves any cutoff (leases are renewed).",
        ),
    ] = 60.0,
    layer_cache_mb: Annotated[
        int, typer.Option(envvar=_E + "LAYER_CACHE_MB", help="Decoded layers kept in memory.")
    ] = 256,
    upload_queue: Annotated[
        int, typer.Option(envvar=_E + "UPLOAD_QUEUE", help="Max pending uploads.")
    ] = 64,
    workers: Annotated[int, typer.Option(envvar=_E + "WORKERS", help="gRPC worker threads.")] = 16,
    log_level: Annotated[str, typer.Option(envvar=_E + "LOG_LEVEL")] = "info",
    internal_tls_dir: Annotated[
        str,
        typer.Option(
            envvar=_E + "INTERNAL_TLS_DIR",
            help="Mutual TLS for gRPC (served and to the log store): ca.pem, cert.pem, key.pem "
            "(role pageserver).",
        ),
    ] = "",
    insecure: Annotated[
        bool, typer.Option(envvar=_E + "INSECURE", help="gRPC in plaintext, no peer checks.")
    ] = False,
) -> None:
    """Serve the PageServer gRPC API until SIGTERM/SIGINT."""
    if ctx.invoked_subcommand is not None:
        return
    from strata.tls import TlsError, from_flags, set_client_tls

    try:
        tls = from_flags(internal_tls_dir or None, insecure, "pageserver")
    except TlsError as exc:
        typer.echo(f"pageserver: {exc}", err=True)
        raise typer.Exit(2) from None
    set_client_tls(tls)
    logging.basicConfig(
        level=log_level.upper(),
        stream=sys.stderr,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    from pageserver.server import PageServer, ServerConf, serve
    from pageserver.timeline import TimelineConf

    conf = ServerConf(
        data_dir=data_dir,
        object_store=object_store,
        logstore=[a.strip() for a in logstore.split(",") if a.strip()],
        timeline=TimelineConf(
            checkpoint_bytes=int(checkpoint_mb * 1024 * 1024),
            checkpoint_timeout_s=checkpoint_timeout,
            compaction_threshold=compaction_threshold,
            merge_factor=merge_deltas,
            retention_lsn=retention_lsn,
            retention_seconds=retention_seconds,
            wait_lsn_timeout_s=wait_lsn_timeout,
            lease_grace_s=lease_grace,
        ),
        layer_cache_bytes=layer_cache_mb * 1024 * 1024,
        upload_queue=upload_queue,
        gc_interval_s=gc_interval,
        auto_compact=auto_compact,
    )
    ps = PageServer(conf)
    ps.start()
    if metrics_listen:
        from prometheus_client import start_http_server

        host, _, port = metrics_listen.rpartition(":")
        start_http_server(int(port), addr=host or "127.0.0.1")
    server = serve(ps, listen, workers, tls=tls)
    done = threading.Event()

    def _stop(signum: int, frame: object) -> None:
        done.set()

    signal.signal(signal.SIGTERM, _stop)
    signal.signal(signal.SIGINT, _stop)
    freeze_startup()  # strata/gcpolicy.py: full collections skip what startup made
    print(f"pageserver listening on {listen}", flush=True)
    done.wait()
    server.stop(grace=2).wait()
    ps.stop()
