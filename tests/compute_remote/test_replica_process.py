"""A replica compute process: reads the primary's commits, refuses writes, is promoted."""

from __future__ import annotations

import time

import psycopg
import pytest

from tests.compute_remote.cluster import Cluster


def dsn(port: int) -> str:
    return f"postgresql://postgres@127.0.0.1:{port}/postgres"


def test_replica_process_reads_refuses_writes_and_promotes(cluster: Cluster) -> None:
    primary = cluster.compute("primary", "c1").start()
    with psycopg.connect(dsn(primary.port), autocommit=True) as conn:
        conn.execute("CREATE TABLE t (k int PRIMARY KEY, v text)")
        conn.execute("INSERT INTO t VALUES (1, 'one')")
    replica = cluster.compute("replica", "r1").start()
    with psycopg.connect(dsn(primary.port), autocommit=True) as pconn, \
            psycopg.connect(dsn(replica.port), autocommit=True) as rconn:
        pconn.execute("INSERT INTO t VALUES (2, 'two')")
        deadline = time.monotonic() + 20
        while rconn.execute("SELECT count(*) FROM t").fetchone() != (2,):
            assert time.monotonic() < deadline
            time.sleep(0.05)
        with pytest.raises(psycopg.Error) as info:
            rconn.execute("INSERT INTO t VALUES (3, 'no')")
        assert info.value.sqlstate == "25006"
    primary.kill()
    with psycopg.connect(dsn(replica.port), autocommit=True) as rconn:
        t0 = time.monotonic()
        rconn.execute("SELECT pg_promote()")
        assert time.monotonic() - t0 < 3
        rconn.execute("INSERT INTO t VALUES (3, 'three')")
        assert rconn.execute("SELECT count(*) FROM t").fetchone() == (3,)
