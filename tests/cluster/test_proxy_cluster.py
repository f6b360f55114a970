"""`strata up` puts the proxy in front: one DSN (TLS + SCRAM), users, routing, failover.

Issue 12 with issue 11's client security: the cluster's DSN is the proxy's; logins are
SCRAM-SHA-256 against users the control plane holds (`strata user create|list|delete`, the
same over REST); plaintext clients may still connect unless TLS is required, but nobody logs
in without a password; the computes are SCRAM too and trust only the proxy's secret.
"""

from __future__ import annotations

import json
import os
import signal
import stat
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import parse_qs, urlparse

import psycopg
import pytest

from tests.cluster_support import Cluster, query, strata, wait_for


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    c = Cluster(tmp_path_factory.mktemp("proxy-cluster"), replicas=1)
    try:
        c.up()
        yield c
    finally:
        c.down()


def _dsn_with(dsn: str, user: str, password: str) -> str:
    u = urlparse(dsn)
    return u._replace(netloc=f"{user}:{password}@{u.hostname}:{u.port}").geturl()


def test_cluster_dsn_is_the_proxy_with_scram_and_tls(cluster: Cluster) -> None:
    status = cluster.status()
    dsn = status["dsn"]
    proxy = next(c for c in status["components"] if c["kind"] == "proxy")
    assert urlparse(dsn).port == int(proxy["address"].rsplit(":", 1)[1])
    assert proxy["state"] == "running"
    with psycopg.connect(dsn, autocommit=True) as conn:
        assert conn.info.pgconn.ssl_in_use  # psql's default sslmode=prefer gets TLS
        conn.execute("CREATE TABLE IF NOT EXISTS via_proxy (id int PRIMARY KEY, v text)")
        conn.execute("INSERT INTO via_proxy VALUES (1, 'one') ON CONFLICT (id) DO NOTHING")
        assert conn.execute("SELECT v FROM via_proxy WHERE id = 1").fetchone() == ("one",)
        # the proxy reaches the computes on this machine through their Unix sockets
        assert conn.execute("SELECT client_port FROM pg_stat_activity "
                            "WHERE pid = pg_backend_pid()").fetchone() == (-1,)
    # no password, or a wrong one: refused
    no_password = _dsn_with(dsn, "postgres", "")
    with pytest.raises(psycopg.OperationalError):
        psycopg.connect(no_password.replace("postgres:@", "postgres@"), connect_timeout=5)
    with pytest.raises(psycopg.OperationalError) as info:
        psycopg.connect(_dsn_with(dsn, "postgres", "wrong"), connect_timeout=5)
    assert "password authentication failed" in str(info.value)
    # secrets on disk are the owner's only
    for name in ("users", "proxy-secret", "control-password", "password"):
        mode = stat.S_IMODE(os.stat(cluster.dir / name).st_mode)
        assert mode == 0o600, (name, oct(mode))


def test_local_socket_dsn(cluster: Cluster) -> None:
    """`strata up` prints, and status gives, a DSN through the proxy's Unix socket in the
    cluster's run/ directory: no TLS on it, the same password, writes and reads routed."""
    local = cluster.status()["local_dsn"]
    assert f'local:    psql "{local}"' in cluster.up_output
    params = parse_qs(urlparse(local).query)
    assert params["host"] == [str(cluster.dir.resolve() / "run")]
    with psycopg.connect(local) as conn:
        assert not conn.info.pgconn.ssl_in_use
        assert conn.info.host == str(cluster.dir.resolve() / "run")
        conn.execute("CREATE TABLE IF NOT EXISTS via_local (id int PRIMARY KEY, n int)")
        conn.commit()
        conn.execute("INSERT INTO via_local VALUES (1, 0) ON CONFLICT (id) DO NOTHING")
        conn.execute("UPDATE via_local SET n = n + 1 WHERE id = 1")
        conn.commit()
        assert conn.execute("SELECT n FROM via_local WHERE id = 1").fetchone() == (1,)
    with pytest.raises(psycopg.OperationalError, match="password authentication failed"):
        psycopg.connect(local.replace(urlparse(local).password or "", "wrong"), connect_timeout=5)


def test_commits_on_a_lent_socket_are_in_the_read_watermark(cluster: Cluster) -> None:
    """Over the local socket a write transaction runs on a socket lent to the primary, and a
    lending outlives its transaction (--lend-linger-ms): each commit's LSN still reaches the
    proxy before the client's answer, so a read on another connection right after the
    COMMIT sees the row, whichever compute serves it (decision 0011)."""
    local = cluster.status()["local_dsn"]
    roles: list[str] = []
    with psycopg.connect(local) as writer, psycopg.connect(local, autocommit=True) as reader:
        writer.execute("CREATE TABLE IF NOT EXISTS lent_ryw (id int PRIMARY KEY)")
        writer.commit()
        for i in range(300):
            writer.execute("INSERT INTO lent_ryw VALUES (%s)", (i,))
            writer.commit()
            row = reader.execute("SELECT count(*), strata_node_status() FROM lent_ryw WHERE id = %s",
                                 (i,)).fetchone()
            assert row is not None and row[0] == 1, f"commit {i} not seen by the next read"
            roles.append(row[1]["role"])
    assert "replica" in roles, roles[:20]  # the reads did go to the replica too


def test_computes_require_passwords_too(cluster: Cluster) -> None:
    """A client that goes around the proxy still needs a password (SCRAM is the default)."""
    primary = next(c for c in cluster.status()["components"]
                   if c["kind"] == "compute" and c["role"] == "primary")
    addr = primary["address"]
    with pytest.raises(psycopg.OperationalError) as info:
        psycopg.connect(f"postgresql://postgres@{addr}/postgres", connect_timeout=5)
    assert "password" in str(info.value)
    assert query(primary["dsn"], "SELECT 1") == [(1,)]  # status DSNs carry the password
    # its Unix socket (owner-only) asks for the password as well
    run = cluster.dir / "run"
    port = int(addr.rsplit(":", 1)[1])
    assert stat.S_IMODE(os.stat(run / f".s.PGSQL.{port}").st_mode) == 0o700
    with pytest.raises(psycopg.OperationalError) as info:
        psycopg.connect(host=str(run), port=port, user="postgres", dbname="postgres",
                        connect_timeout=5)
    assert "password" in str(info.value)


def test_user_create_list_delete(cluster: Cluster) -> None:
    dsn = cluster.status()["dsn"]
    strata("user", "create", "alice", "--password", "wonder land", "--dir", str(cluster.dir))
    listed = json.loads(strata("user", "list", "--json", "--dir", str(cluster.dir)).stdout)
    assert {"name": "alice"} in listed and all(not u["name"].startswith("strata_") for u in listed)
    alice = _dsn_with(dsn, "alice", "wonder%20land")
    assert wait_for(lambda: query(alice, "SELECT current_user"), "alice logs in") == [("alice",)]
    again = strata("user", "create", "alice", "--password", "x", "--dir", str(cluster.dir), check=False)
    assert again.returncode != 0 and "already exists" in again.stderr
    bad = strata("user", "create", "strata_evil", "--password", "x", "--dir", str(cluster.dir), check=False)
    assert bad.returncode != 0 and "reserved" in bad.stderr
    with cluster.rest() as api:
        resp = api.post("/v1/users", json={"name": "bob", "password": "pw-of-bob"})
        assert resp.status_code == 201, resp.text
        resp = api.post("/v1/users", json={"name": "1bad", "password": "x"})
        assert resp.status_code == 422 and resp.headers["content-type"].startswith("application/problem+json")
        assert api.delete("/v1/users/nobody").status_code == 404
    bob = _dsn_with(dsn, "bob", "pw-of-bob")
    assert wait_for(lambda: query(bob, "SELECT current_user"), "bob logs in") == [("bob",)]
    strata("user", "delete", "alice", "--dir", str(cluster.dir))

    def refused() -> bool:
        try:
            psycopg.connect(alice, connect_timeout=5).close()
        except psycopg.OperationalError as exc:
            return "password authentication failed" in str(exc)
        return False

    assert wait_for(refused, "a deleted user is refused")


def test_failover_through_the_proxy_keeps_the_client(cluster: Cluster) -> None:
    """Kill -9 the primary: the control plane promotes the replica, the proxy finds it, and
    the same client connection commits again; no acknowledged commit is lost. The window is
    the longest gap between two successful commits around the kill (a kill that lands
    between commits may cost no failed commit at all: the proxy holds the next one)."""
    dsn = cluster.status()["dsn"]
    with psycopg.connect(dsn, autocommit=True) as setup:
        setup.execute("CREATE TABLE IF NOT EXISTS ticks (n int PRIMARY KEY)")
    primary = next(c for c in cluster.status()["components"]
                   if c["kind"] == "compute" and c["role"] == "primary")
    acked: list[tuple[int, float]] = []  # (n, time the commit returned)
    failures: list[tuple[float, str]] = []
    stop = threading.Event()

    def writer() -> None:
        conn = psycopg.connect(dsn, autocommit=True)
        n = 0
        while not stop.is_set():
            n += 1
            try:
                conn.execute("INSERT INTO ticks VALUES (%s)", (n,))
                acked.append((n, time.monotonic()))
            except psycopg.Error as exc:
                failures.append((time.monotonic(), f"{exc.sqlstate}: {type(exc).__name__}: {exc}"))
                if conn.closed:
                    failures.append((time.monotonic(), "client connection closed"))
                    return  # the proxy must keep the client connection: checked below
            time.sleep(0.01)
        conn.close()

    t = threading.Thread(target=writer, daemon=True)
    t.start()
    wait_for(lambda: len(acked) > 20, "commits before the kill")
    killed_at = time.monotonic()
    os.kill(primary["pid"], signal.SIGKILL)

    def promoted_and_committing() -> bool:
        new = [c for c in cluster.fast_status()["components"]
               if c["kind"] == "compute" and c["role"] == "primary"]
        if not new or new[0]["name"] == primary["name"] or not t.is_alive():
            return not t.is_alive()
        promoted_at = time.monotonic()
        return wait_for(lambda: acked and acked[-1][1] > promoted_at, "a commit on the new primary")

    wait_for(promoted_and_committing, "the promotion and a commit after it", timeout=60)
    time.sleep(0.3)
    stop.set()
    t.join(10)
    assert "client connection closed" not in [f for _, f in failures], failures
    times = [killed_at] + [when for _, when in acked if when > killed_at]
    window = max(b - a for a, b in zip(times, times[1:], strict=False))
    print(f"\nfailover: longest gap between commits {window:.2f} s; failed commits: {len(failures)}")
    assert window < 10, window
    # 25006: a known race (issue 12 note): once in ten kills in bench/proxy_compare, a write
    # reached the restarted old primary (now a replica) before the proxy saw its new role.
    # It is tolerated here, not hidden: the retryable codes are what the proxy promises.
    assert all(f.split(":")[0] in ("40001", "08006", "57P03", "25006") for _, f in failures), failures
    rows = {r[0] for r in query(dsn, "SELECT n FROM ticks")}
    lost = [n for n, _ in acked if n not in rows]
    assert not lost, f"acknowledged commits lost: {lost[:10]}"


def test_password_file_is_not_world_readable_and_dsn_printed(cluster: Cluster) -> None:
    password = (cluster.dir / "password").read_text().strip()
    assert len(password) >= 20
    assert password in cluster.status()["dsn"]
    assert Path(cluster.dir / "users").read_text().count("SCRAM-SHA-256$") >= 2  # postgres + control
    assert password not in (cluster.dir / "users").read_text()


def test_proxy_pools_and_servers_over_rest(cluster: Cluster) -> None:
    status = cluster.status()
    with psycopg.connect(status["dsn"], autocommit=True) as conn, cluster.rest() as api:
        conn.execute("SELECT 1")

        def proxy_sees_every_running_compute() -> bool:
            computes = {c["address"]: c["role"] for c in cluster.fast_status()["components"]
                        if c["kind"] == "compute" and c["timeline"] == "main" and c["state"] == "running"}
            resp = api.get("/v1/proxy/servers")
            assert resp.status_code == 200, resp.text
            servers = {s["address"]: s for s in resp.json()}
            return ({a: s["role"] for a, s in servers.items()} == computes
                    and all(s["healthy"] for s in servers.values()))

        # after the failover test a restarted replica may still be joining: wait for it
        wait_for(proxy_sees_every_running_compute, "the proxy to list every running compute")
        pools = api.get("/v1/proxy/pools").json()
        assert any(p["user"] == "postgres" and p["database"] == "postgres" for p in pools), pools
        assert api.get("/v1/proxy/pools", headers={"Authorization": "Bearer x"}).status_code == 401
