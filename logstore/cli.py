"""`strata logstore`: run one acceptor of the replicated log."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from logstore import logs

app = typer.Typer(
    name="logstore",
    help="Run a log store acceptor (one replica of the write-ahead log).",
    add_completion=False,
)


@app.callback(invoke_without_command=True)
def acceptor(
    ctx: typer.Context,
    node_id: Annotated[
        int, typer.Option("--id", envvar="STRATA_LOGSTORE_ID", min=1, help="Node id (stable across restarts).")
    ],
    data_dir: Annotated[
        Path, typer.Option("--data-dir", envvar="STRATA_LOGSTORE_DATA_DIR", help="Segments and control file.")
    ],
    listen: Annotated[
        str, typer.Option("--listen", envvar="STRATA_LOGSTORE_LISTEN", help="gRPC address host:port.")
    ] = "127.0.0.1:7001",
    object_store: Annotated[
        str | None,
        typer.Option(
            "--object-store",
            envvar="STRATA_LOGSTORE_OBJECT_STORE",
            help="Where sealed segments are offloaded: a directory, file:///dir or s3://bucket/prefix?...",
        ),
    ] = None,
    segment_size: Annotated[
        int,
        typer.Option("--segment-size", envvar="STRATA_LOGSTORE_SEGMENT_SIZE", min=4096, help="Bytes per segment file."),
    ] = 16 << 20,
    metrics_listen: Annotated[
        str | None,
        typer.Option("--metrics-listen", envvar="STRATA_LOGSTORE_METRICS_LISTEN", help="Prometheus endpoint host:port."),
    ] = None,
    log_level: Annotated[str, typer.Option("--log-level", envvar="STRATA_LOGSTORE_LOG_LEVEL")] = "info",
    fsync: Annotated[
        str,
        typer.Option(
            "--fsync",
            envvar="STRATA_LOGSTORE_FSYNC",
            help="Where the group-commit fdatasync runs: inline (on the event loop, fastest) or thread.",
        ),
    ] = "inline",
    max_logs: Annotated[
        int,
        typer.Option("--max-logs", envvar="STRATA_LOGSTORE_MAX_LOGS", min=1, help="Most logs (tenant, timeline) this acceptor hosts."),
    ] = 1000,
    internal_tls_dir: Annotated[
        Path | None,
        typer.Option(
            "--internal-tls-dir",
            envvar="STRATA_LOGSTORE_INTERNAL_TLS_DIR",
            help="Mutual TLS for gRPC: a directory with ca.pem, cert.pem, key.pem (role logstore).",
        ),
    ] = None,
    fast_append_listen: Annotated[
        str,
        typer.Option(
            "--fast-append-listen",
            envvar="STRATA_LOGSTORE_FAST_APPEND_LISTEN",
            help="The fast append stream (mutual TLS with --internal-tls-dir, like gRPC): off (default), "
            "auto (the --listen host, a kernel-chosen port: it may take a port planned for another service), "
            "or HOST:PORT (`strata up` plans one per node).",
        ),
    ] = "off",
    fast_append_unix: Annotated[
        bool,
        typer.Option(
            "--fast-append-unix/--no-fast-append-unix",
            envvar="STRATA_LOGSTORE_FAST_APPEND_UNIX",
            help="With the fast append stream, also serve it on DATA_DIR/fastappend.sock (owner-only, "
            "no TLS) for a proposer on this machine (decision 0018).",
        ),
    ] = True,
    insecure: Annotated[
        bool,
        typer.Option("--insecure", envvar="STRATA_LOGSTORE_INSECURE", help="Serve gRPC in plaintext, no peer checks."),
    ] = False,
) -> None:
    """Serve the LogStore gRPC API until SIGTERM."""
    if ctx.invoked_subcommand is not None:
        return
    if fsync not in ("inline", "thread"):
        raise typer.BadParameter("must be inline or thread", param_hint="--fsync")
    from strata.tls import TlsError, from_flags

    try:
        tls = from_flags(internal_tls_dir, insecure, "logstore")
    except TlsError as exc:
        typer.echo(f"logstore: {exc}", err=True)
        raise typer.Exit(2) from None
    logs.setup(log_level, service="logstore", node_id=node_id)
    from logstore.server import run

    run(
        node_id=node_id,
        listen=listen,
        data_dir=data_dir,
        object_store_url=object_store,
        segment_bytes=segment_size,
        metrics_listen=metrics_listen,
        inline_fsync=fsync == "inline",
        max_logs=max_logs,
        tls=tls,
        fast_append_listen=fast_append_listen,
        fast_append_unix=fast_append_unix,
    )
