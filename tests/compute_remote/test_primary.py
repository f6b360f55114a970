"""A primary compute on shared storage, as a process, over psycopg."""

from __future__ import annotations

import psycopg

from tests.compute_remote.cluster import Cluster


def dsn(port: int) -> str:
    return f"postgresql://postgres@127.0.0.1:{port}/postgres"


def test_crud_survives_sigkill_and_restart(cluster: Cluster) -> None:
    primary = cluster.compute("primary", "c1").start()
    with psycopg.connect(dsn(primary.port), autocommit=True) as conn:
        conn.execute("CREATE TABLE kv (k int PRIMARY KEY, v text)")
        for i in range(50):
            conn.execute("INSERT INTO kv VALUES (%s, %s)", (i, f"v{i}"))
        conn.execute("UPDATE kv SET v = 'changed' WHERE k < 10")
        conn.execute("DELETE FROM kv WHERE k >= 40")
        with conn.transaction():
            conn.execute("INSERT INTO kv VALUES (100, 'tx')")
            conn.execute("UPDATE kv SET v = 'tx2' WHERE k = 11")
        assert conn.execute("SELECT count(*) FROM kv").fetchone() == (41,)
    primary.kill()
    again = cluster.compute("primary", "c2").start()
    with psycopg.connect(dsn(again.port), autocommit=True) as conn:
        rows = dict(conn.execute("SELECT k, v FROM kv").fetchall())
        assert len(rows) == 41
        assert rows[0] == "changed" and rows[11] == "tx2" and rows[100] == "tx"
        assert 45 not in rows
        conn.execute("INSERT INTO kv VALUES (200, 'after')")
        assert conn.execute("SELECT v FROM kv WHERE k = 200").fetchone() == ("after",)
