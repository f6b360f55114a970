"""Cluster commands of the `strata` CLI: up, down, status, scale, failover, branch, logs.

`up` writes the spec to ``DIR/cluster.json`` and starts the control daemon
(`strata control run`), which owns every process of the cluster. `down` signals the
daemon. The other commands talk to the daemon's REST API with the token from
``DIR/token`` (or ``STRATA_ADMIN_TOKEN``). Errors print one line and exit non-zero.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Annotated, Any, NoReturn

import typer
from rich import box
from rich.console import Console
from rich.table import Table

from control.reconciler import format_lsn
from control.spec import ENV_PREFIX, ClusterSpec, SpecError, validate
from control.state import ClusterDir, ClusterState, NoCluster

UP_TIMEOUT_S = 180.0
"""How long `strata up` waits for the cluster to be ready."""
DOWN_TIMEOUT_S = 90.0
WAIT_TIMEOUT_S = 90.0
"""How long scale / branch create wait for computes to serve."""
HTTP_TIMEOUT_S = 120.0
"""REST calls (a branch creation may wait for the page server)."""
POLL_S = 0.2

console = Console(width=None if sys.stdout.isatty() else 200)
"""Piped output is not cut to 80 columns (tables stay one line per component)."""

DirOpt = Annotated[Path, typer.Option("--dir", envvar=ENV_PREFIX + "DIR",
                                      help="The cluster directory.")]
DEFAULT_DIR = Path(".strata")


def fail(message: str, code: int = 1) -> NoReturn:
    typer.secho(f"error: {' '.join(message.split())}", err=True, fg="red")
    raise typer.Exit(code)


def _load(cdir: ClusterDir) -> ClusterState:
    try:
        return cdir.load()
    except NoCluster as exc:
        fail(str(exc))
    except (OSError, ValueError) as exc:
        fail(f"cannot read {cdir.cluster_file}: {exc}")


def _daemon_alive(state: ClusterState) -> bool:
    from control.daemon import is_strata_process, runs_any

    return runs_any(state.daemon_pid) and is_strata_process(state.daemon_pid)


def _supervisor_alive(state: ClusterState) -> bool:
    from control.daemon import process_argv, runs_any

    argv = process_argv(state.supervisor_pid) if state.supervisor_pid > 0 else None
    return runs_any(state.supervisor_pid) and argv is not None and b"supervise" in argv


def _not_running(cdir: ClusterDir, state: ClusterState) -> str:
    """Why there is no daemon to ask: gone (with N components still serving) or stopped."""
    from control.daemon import live_components

    live = live_components(state)
    if _supervisor_alive(state):
        return (f"the control daemon of the cluster in {cdir.path} is being restarted by its "
                f"supervisor (pid {state.supervisor_pid}); try again in a few seconds")
    if live:
        why = f" ({state.supervisor_detail})" if state.supervisor_detail else ""
        return (f"the control daemon of the cluster in {cdir.path} is gone, {len(live)} "
                f"component(s) still running (run `strata up` to supervise them again){why}")
    return f"the cluster in {cdir.path} is not running (start it with `strata up`)"


# -- REST client ------------------------------------------------------------------------


class Api:
    def __init__(self, cdir: ClusterDir) -> None:
        import httpx

        state = _load(cdir)
        try:
            token = cdir.token()
        except NoCluster as exc:
            fail(str(exc))
        if not state.rest_address or not _daemon_alive(state):
            fail(_not_running(cdir, state))
        self.client = httpx.Client(base_url=f"http://{state.rest_address}",
                                   headers={"Authorization": f"Bearer {token}"},
                                   timeout=HTTP_TIMEOUT_S)

    def call(self, method: str, path: str, body: dict[str, Any] | None = None) -> Any:
        import httpx

        try:
            resp = self.client.request(method, path, json=body)
        except httpx.HTTPError as exc:
            fail(f"the control daemon did not answer: {exc}")
        if resp.status_code >= 400:
            try:
                prob = resp.json()
                fail(f"{prob.get('title', resp.status_code)}: {prob.get('detail', '')}")
            except ValueError:
                fail(f"HTTP {resp.status_code}: {resp.text[:200]}")
        return resp.json() if resp.content else None


# -- up / down --------------------------------------------------------------------------


def _spec_for_up(cdir: ClusterDir, given: dict[str, Any]) -> ClusterSpec:
    if cdir.exists():
        state = _load(cdir)
        spec = state.spec
        for name, value in given.items():
            if name in ("replicas", "replica_pack") or value == getattr(spec, name):
                setattr(spec, name, value)
            else:
                fail(f"{name}: the cluster in {cdir.path} was created with "
                     f"{getattr(spec, name)!r}; it cannot change to {value!r}")
        return spec
    spec = ClusterSpec(dir=str(cdir.path), **given)
    return spec


def up(
    cluster_dir: DirOpt = DEFAULT_DIR,
    replicas: Annotated[int | None, typer.Option(envvar=ENV_PREFIX + "REPLICAS",
                                                 help="Read replicas \\[default: 1].")] = None,
    object_store: Annotated[str | None, typer.Option(
        envvar=ENV_PREFIX + "OBJECT_STORE",
        help="Directory, file:///dir or s3://bucket/prefix?endpoint_url=... \\[default: DIR/objects]")] = None,
    tenant: Annotated[str | None, typer.Option(envvar=ENV_PREFIX + "TENANT")] = None,
    timeline: Annotated[str | None, typer.Option(envvar=ENV_PREFIX + "TIMELINE")] = None,
    logstores: Annotated[int | None, typer.Option(envvar=ENV_PREFIX + "LOGSTORES",
                                                  help="Log store nodes (odd) \\[default: 3].")] = None,
    host: Annotated[str | None, typer.Option(envvar=ENV_PREFIX + "HOST")] = None,
    logstore_port: Annotated[int | None, typer.Option(envvar=ENV_PREFIX + "LOGSTORE_PORT",
                                                      help="\\[default: 55401]")] = None,
    logstore_fast_port: Annotated[int | None, typer.Option(
        envvar=ENV_PREFIX + "LOGSTORE_FAST_PORT",
        help="First log store fast append port, 0: none \\[default: 55420]")] = None,
    pageserver_port: Annotated[int | None, typer.Option(envvar=ENV_PREFIX + "PAGESERVER_PORT",
                                                        help="\\[default: 55410]")] = None,
    compute_port: Annotated[int | None, typer.Option(envvar=ENV_PREFIX + "COMPUTE_PORT",
                                                     help="\\[default: 55433]")] = None,
    rest_port: Annotated[int | None, typer.Option(envvar=ENV_PREFIX + "REST_PORT",
                                                  help="\\[default: 55480]")] = None,
    proxy_port: Annotated[int | None, typer.Option(envvar=ENV_PREFIX + "PROXY_PORT",
                                                   help="The client endpoint \\[default: 55432]")] = None,
    replica_pack: Annotated[int | None, typer.Option(
        envvar=ENV_PREFIX + "REPLICA_PACK",
        help="Reads stay on the busiest replica until it has this many connections in use; "
             "0: the least busy \\[default: 8].")] = None,
    auth: Annotated[str | None, typer.Option(
        envvar=ENV_PREFIX + "AUTH",
        help="scram: logins need a password \\[default]; trust: none (throwaway clusters only)")] = None,
    detach: Annotated[bool, typer.Option("--detach", "-d",
                                         help="Return once the cluster is ready.")] = False,
    timeout: Annotated[float, typer.Option(help="Seconds to wait until ready.")] = UP_TIMEOUT_S,
) -> None:
    """Start a cluster (foreground: Ctrl-C stops it; --detach returns once it is ready)."""
    cdir = ClusterDir(cluster_dir)
    given = {k: v for k, v in {
        "replicas": replicas, "object_store": object_store, "tenant": tenant,
        "timeline": timeline, "logstores": logstores, "host": host,
        "logstore_port": logstore_port, "logstore_fast_port": logstore_fast_port,
        "pageserver_port": pageserver_port,
        "compute_port": compute_port, "rest_port": rest_port, "proxy_port": proxy_port,
        "replica_pack": replica_pack, "auth": auth}.items() if v is not None}
    held: frozenset[int] = frozenset()
    live: list[Any] = []
    if cdir.exists():
        from control.daemon import live_components

        old = _load(cdir)
        if _daemon_alive(old):
            fail(f"the cluster in {cdir.path} is already running (daemon pid {old.daemon_pid})")
        if _supervisor_alive(old):
            fail(f"the cluster in {cdir.path} is already running (its supervisor, pid "
                 f"{old.supervisor_pid}, is restarting the control daemon)")
        live = live_components(old)
        held = _held_ports(old, live)
    spec = _spec_for_up(cdir, given)
    try:
        validate(spec, held=held)
    except SpecError as exc:
        fail(f"invalid spec: {exc}")
    if held:
        console.print(f"the control daemon of the cluster in {cdir.path} is gone; a new one adopts "
                      f"its {len(live)} running component(s)", highlight=False)
    cdir.create()
    state = cdir.load() if cdir.exists() else ClusterState(spec=spec)
    state.spec = spec
    state.supervisor_detail = ""
    state.phase, state.detail = "starting", "starting the control daemon"
    cdir.save(state)
    log = open(cdir.log_file("control"), "ab")  # noqa: SIM115 - handed to the daemon
    # detached: a supervisor runs the daemon and restarts it if it dies (control/supervisor.py)
    command = "supervise" if detach else "run"
    daemon = subprocess.Popen(
        [sys.executable, "-m", "strata", "control", command, "--dir", str(cdir.path)],
        stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
        env=dict(os.environ, PYTHONUNBUFFERED="1"), start_new_session=True,
        cwd=str(Path(__file__).resolve().parent.parent))
    log.close()
    try:
        state = _wait_ready(cdir, daemon, timeout)
        _print_ready(cdir, state)
        if detach:
            return
        console.print("[dim]running in the foreground; Ctrl-C stops the cluster[/dim]")
        # SIGTERM too, and SIGINT even where a shell started us with it ignored (`&`).
        for sig in (signal.SIGINT, signal.SIGTERM):
            signal.signal(sig, _interrupt)
        while daemon.poll() is None:
            time.sleep(0.5)
        fail(f"the control daemon exited (code {daemon.returncode}); see {cdir.log_file('control')}")
    except KeyboardInterrupt:
        console.print("stopping the cluster ...")
        _stop_daemon(daemon.pid)
        console.print("stopped")


def _held_ports(state: ClusterState, live: list[Any]) -> frozenset[int]:
    """Ports the cluster's own ``live`` components hold (its daemon died; a new one adopts
    them)."""
    held = set()
    for comp in live:
        held.add(comp.port)
        fast = state.spec.logstore_fast_address(comp.node_id) if comp.kind == "logstore" else ""
        if fast:
            held.add(int(fast.rpartition(":")[2]))
    return frozenset(held)


def _interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt


def _wait_ready(cdir: ClusterDir, daemon: subprocess.Popen[bytes], timeout_s: float) -> ClusterState:
    deadline = time.monotonic() + timeout_s
    shown = ""
    with console.status("starting the control daemon", spinner="dots") as spinner:
        while True:
            try:
                state = cdir.load()
            except (OSError, ValueError):
                time.sleep(POLL_S)
                continue
            if state.detail != shown and state.phase == "starting":
                if shown:
                    console.print(f"[green]✓[/green] {shown}")
                shown = state.detail
                spinner.update(shown)
            if state.phase == "ready":
                if shown:
                    console.print(f"[green]✓[/green] {shown}")
                return state
            if state.phase == "failed" or daemon.poll() is not None:
                daemon.wait()
                state = cdir.load()
                fail(f"the cluster did not start: {state.detail or 'daemon exited'} "
                     f"(logs: {cdir.logs})")
            if time.monotonic() > deadline:
                _stop_daemon(daemon.pid)
                fail(f"the cluster was not ready after {timeout_s:.0f}s ({shown}); "
                     f"logs: {cdir.logs}")
            time.sleep(POLL_S)


def _print_ready(cdir: ClusterDir, state: ClusterState) -> None:
    from control.users import cluster_dsn, local_dsn

    console.print(f"[bold green]cluster ready[/bold green] in {cdir.path}")
    console.print(f'connect:  psql "{cluster_dsn(cdir, state.spec)}"', markup=False, highlight=False)
    local = local_dsn(cdir, state.spec)
    if local:
        console.print(f'local:    psql "{local}"', markup=False, highlight=False)
    console.print(f"admin API: http://{state.rest_address}/docs (token in {cdir.token_file})",
                  markup=False, highlight=False)


def _stop_daemon(pid: int, timeout_s: float = DOWN_TIMEOUT_S) -> bool:
    from control.daemon import runs_any

    try:
        os.kill(pid, signal.SIGTERM)
    except ProcessLookupError:
        return True
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        try:
            done, _ = os.waitpid(pid, os.WNOHANG)
            if done:
                return True
        except ChildProcessError:
            if not runs_any(pid):
                return True
        time.sleep(POLL_S)
    os.kill(pid, signal.SIGKILL)
    return False


def down(cluster_dir: DirOpt = DEFAULT_DIR) -> None:
    """Stop the cluster (its data stays in DIR; `strata up` starts it again)."""
    from control.daemon import kill_leftovers, live_components

    cdir = ClusterDir(cluster_dir)
    state = _load(cdir)
    supervisor = state.supervisor_pid if _supervisor_alive(state) else 0
    if supervisor or _daemon_alive(state):
        with console.status("stopping the cluster"):
            clean = True
            if supervisor:  # first: it passes SIGTERM on and restarts nothing during a stop
                clean = _stop_daemon(supervisor)
            state = cdir.load()
            if _daemon_alive(state):
                clean = _stop_daemon(state.daemon_pid) and clean
        state = cdir.load()
        if not clean or live_components(state):
            kill_leftovers(state)
            state.daemon_pid = state.supervisor_pid = 0
            state.phase = "stopped"
            cdir.save(state)
    else:
        killed = kill_leftovers(state)
        state.daemon_pid = 0
        state.phase = "stopped"
        cdir.save(state)
        if not killed:
            console.print(f"the cluster in {cdir.path} was not running")
            return
    console.print(f"stopped the cluster in {cdir.path}")


# -- REST-backed commands ---------------------------------------------------------------


def status(
    cluster_dir: DirOpt = DEFAULT_DIR,
    as_json: Annotated[bool, typer.Option("--json", help="One JSON object.")] = False,
) -> None:
    """Components, roles, LSNs and branches of the running cluster."""
    data = Api(ClusterDir(cluster_dir)).call("GET", "/v1/status")
    if as_json:
        typer.echo(json.dumps(data, indent=2))
        return
    console.print(f"[bold]{data['phase']}[/bold]  connect: {data['dsn']}", highlight=False)
    if data.get("local_dsn"):
        console.print(f"local: {data['local_dsn']}", markup=False, highlight=False)
    comps = data["components"]
    with_timeline = bool(data["branches"])
    with_restarts = any(c["restarts"] for c in comps)
    cols = ["name", "role", "state", "pid", "address", "term", "lsn", "lag"]
    cols += ["timeline"] * with_timeline + ["restarts"] * with_restarts
    table = Table(*cols, box=box.SIMPLE_HEAD)
    for c in comps:
        state = c.get("node_state") if c["state"] == "running" and c.get("node_state") else c["state"]
        lsn = c.get("lsn")
        row = [c["name"], c["role"], state, str(c["pid"] or ""), c["address"],
               _opt(c.get("term")), "" if lsn is None else format_lsn(lsn),
               _opt(c.get("lag_bytes"))]
        row += [c.get("timeline", "")] * with_timeline + [str(c["restarts"])] * with_restarts
        table.add_row(*row)
    console.print(table)
    for c in comps:
        if c["detail"]:
            console.print(f"{c['name']}: {c['detail']}", markup=False, highlight=False)
    if data["branches"]:
        _branch_table(data["branches"])


def _opt(value: Any) -> str:
    return "" if value is None else str(value)


def _branch_table(branches: list[dict[str, Any]]) -> None:
    table = Table("branch", "kind", "from", "at LSN", "state", "dsn", box=box.SIMPLE_HEAD)
    for b in branches:
        table.add_row(b["name"], b["kind"], b["ancestor"], b["ancestor_lsn_text"], b["state"],
                      b["dsn"])
    console.print(table)


def _wait(api: Api, done: Any, what: str) -> dict[str, Any]:
    deadline = time.monotonic() + WAIT_TIMEOUT_S
    with console.status(what):
        while True:
            data: dict[str, Any] = api.call("GET", "/v1/status")
            if done(data):
                return data
            if time.monotonic() > deadline:
                fail(f"timed out after {WAIT_TIMEOUT_S:.0f}s {what}")
            time.sleep(POLL_S * 2)


def scale(
    replicas: Annotated[int, typer.Option("--replicas", help="Read replicas of main.")],
    cluster_dir: DirOpt = DEFAULT_DIR,
    wait: Annotated[bool, typer.Option(help="Wait until they serve.")] = True,
) -> None:
    """Scale the main timeline's read replicas up or down."""
    api = Api(ClusterDir(cluster_dir))
    api.call("PUT", "/v1/replicas", {"replicas": replicas})
    if wait:
        def done(data: dict[str, Any]) -> bool:
            reps = [c for c in data["components"] if c["kind"] == "compute"
                    and c["timeline"] == data["timeline"] and c["role"] == "replica"]
            return len(reps) == replicas and all(c["state"] == "running" for c in reps)

        _wait(api, done, f"waiting for {replicas} replica(s)")
    console.print(f"replicas: {replicas}")


def failover(cluster_dir: DirOpt = DEFAULT_DIR) -> None:
    """Promote the most caught-up replica; the primary comes back as a replica."""
    result = Api(ClusterDir(cluster_dir)).call("POST", "/v1/failover")
    console.print(f"new primary: {result['primary']} ({result['dsn']}); "
                  f"{result['previous']} restarts as a replica", highlight=False)


branch_app = typer.Typer(help="Branches of the main timeline (each with its own compute).",
                         no_args_is_help=True)


@branch_app.command("create")
def branch_create(
    name: str,
    cluster_dir: DirOpt = DEFAULT_DIR,
    lsn: Annotated[str | None, typer.Option(help="Branch point (integer or X/Y hex).")] = None,
    at: Annotated[str | None, typer.Option("--at", help="Point in time (ISO 8601, UTC by default).")] = None,
    as_json: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """Create a branch of main at an LSN, a time, or the latest commit."""
    if lsn is not None and at is not None:
        fail("give --lsn or --at, not both", 2)
    api = Api(ClusterDir(cluster_dir))
    body: dict[str, Any] = {"name": name}
    if lsn is not None:
        body["lsn"] = lsn
    if at is not None:
        body["timestamp"] = at
    api.call("POST", "/v1/branches", body)
    data = _wait(api, lambda d: any(b["name"] == name and b["state"] == "running"
                                    for b in d["branches"]), f"starting branch {name}")
    branch = next(b for b in data["branches"] if b["name"] == name)
    if as_json:
        typer.echo(json.dumps(branch, indent=2))
    else:
        console.print(f"branch {name} at {branch['ancestor_lsn_text']}: psql \"{branch['dsn']}\"",
                      markup=False, highlight=False)


@branch_app.command("list")
def branch_list(
    cluster_dir: DirOpt = DEFAULT_DIR,
    as_json: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """List branches."""
    branches = Api(ClusterDir(cluster_dir)).call("GET", "/v1/branches")
    if as_json:
        typer.echo(json.dumps(branches, indent=2))
    elif branches:
        _branch_table(branches)
    else:
        console.print("no branches")


@branch_app.command("delete")
def branch_delete(name: str, cluster_dir: DirOpt = DEFAULT_DIR) -> None:
    """Delete a branch: its compute, its log and its timeline."""
    Api(ClusterDir(cluster_dir)).call("DELETE", f"/v1/branches/{name}")
    console.print(f"deleted branch {name}")


user_app = typer.Typer(help="Database users (SCRAM-SHA-256 logins through the proxy).",
                       no_args_is_help=True)


@user_app.command("create")
def user_create(
    name: str,
    cluster_dir: DirOpt = DEFAULT_DIR,
    password: Annotated[str | None, typer.Option(
        envvar="STRATA_USER_PASSWORD", help="Default: asked for (not echoed).")] = None,
) -> None:
    """Create a user that can log in through the proxy with its password."""
    api = Api(ClusterDir(cluster_dir))
    if password is None:
        password = typer.prompt(f"password for {name}", hide_input=True, confirmation_prompt=True)
    api.call("POST", "/v1/users", {"name": name, "password": password})
    console.print(f"created user {name}", highlight=False)


@user_app.command("list")
def user_list(
    cluster_dir: DirOpt = DEFAULT_DIR,
    as_json: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """List users."""
    users = Api(ClusterDir(cluster_dir)).call("GET", "/v1/users")
    if as_json:
        typer.echo(json.dumps(users, indent=2))
        return
    table = Table("user")
    for u in users:
        table.add_row(u["name"])
    console.print(table)


@user_app.command("delete")
def user_delete(name: str, cluster_dir: DirOpt = DEFAULT_DIR) -> None:
    """Delete a user (its open sessions go on; new logins are refused)."""
    Api(ClusterDir(cluster_dir)).call("DELETE", f"/v1/users/{name}")
    console.print(f"deleted user {name}", highlight=False)


def logs(
    component: Annotated[str, typer.Argument(help="e.g. compute-1, logstore-2, pageserver-1, control")],
    cluster_dir: DirOpt = DEFAULT_DIR,
    follow: Annotated[bool, typer.Option("--follow", "-f")] = False,
) -> None:
    """Print a component's log (-f: keep following it)."""
    cdir = ClusterDir(cluster_dir)
    path = cdir.log_file(component)
    if not path.is_file():
        known = sorted(p.stem for p in cdir.logs.glob("*.log")) if cdir.logs.is_dir() else []
        fail(f"no log for {component!r} in {cdir.logs}" + (f" (have: {', '.join(known)})" if known else ""))
    with open(path, "rb") as f:
        while True:
            chunk = f.read(64 * 1024)
            if chunk:
                sys.stdout.buffer.write(chunk)
                sys.stdout.buffer.flush()
                continue
            if not follow:
                return
            try:
                time.sleep(0.3)
            except KeyboardInterrupt:
                return


control_app = typer.Typer(help="Control plane internals.", no_args_is_help=True)


@control_app.command("run")
def control_run(cluster_dir: DirOpt = DEFAULT_DIR) -> None:
    """Run the control daemon in the foreground (what `strata up` starts)."""
    from control.daemon import run

    raise typer.Exit(run(cluster_dir))


@control_app.command("supervise")
def control_supervise(cluster_dir: DirOpt = DEFAULT_DIR) -> None:
    """Run the control daemon and restart it if it dies (what `strata up --detach` starts)."""
    from control.supervisor import supervise

    raise typer.Exit(supervise(cluster_dir))


@control_app.command("openapi")
def control_openapi() -> None:
    """Print the admin API's OpenAPI document (docs/openapi.json)."""
    from control.api import document_app, openapi_text

    sys.stdout.write(openapi_text(document_app()))


def register(app: typer.Typer) -> None:
    """Mount the cluster commands on the `strata` app."""
    app.command("up")(up)
    app.command("down")(down)
    app.command("status")(status)
    app.command("scale")(scale)
    app.command("failover")(failover)
    app.add_typer(branch_app, name="branch")
    app.add_typer(user_app, name="user")
    app.command("logs")(logs)
    app.add_typer(control_app, name="control", hidden=True)
