"""The `strata` command line: one subcommand per service plus cluster commands.

Each service module exposes a typer app in ``<service>/cli.py`` named ``app``; they are
mounted here so that `strata compute ...`, `strata logstore ...`, etc. all work.
"""

from __future__ import annotations

import importlib

import typer

app = typer.Typer(
    name="strata",
    help="Strata: a PostgreSQL-protocol database with compute and storage separated.",
    no_args_is_help=True,
    add_completion=False,
)

_SERVICES = {
    "compute": "compute.cli",
    "logstore": "logstore.cli",
    "pageserver": "pageserver.cli",
    "proxy": "proxy.cli",
}

for _name, _module in _SERVICES.items():
    try:
        _service_app = importlib.import_module(_module).app
    except ModuleNotFoundError as exc:  # a service not built yet (the package or its cli)
        if exc.name is None or not (_module == exc.name or _module.startswith(exc.name + ".")):
            raise
        continue
    app.add_typer(_service_app, name=_name)

# Cluster commands (up, down, status, scale, failover, branch, logs) from the control plane.
from control.cli import register as _register_cluster_commands  # noqa: E402

_register_cluster_commands(app)


def main() -> None:
    app()


if __name__ == "__main__":
    main()
