"""CREATE/DROP DATABASE: separate databases in one compute, kept across restarts."""

from __future__ import annotations

from pathlib import Path

import psycopg
import pytest
from psycopg import errors as pgerr

from tests.support import StrataProcess


def test_create_use_drop_database(tmp_path: Path) -> None:
    server = StrataProcess(tmp_path / "data").start()
    try:
        app_dsn = server.dsn.rsplit("/", 1)[0] + "/app"
        with psycopg.connect(server.dsn, autocommit=True) as conn:
            conn.execute("CREATE TABLE shared_name (v text)")
            conn.execute("INSERT INTO shared_name VALUES ('in postgres')")
            conn.execute("CREATE DATABASE app")
            with pytest.raises(pgerr.DuplicateDatabase):
                conn.execute("CREATE DATABASE app")
            conn.execute("BEGIN")
            with pytest.raises(pgerr.ActiveSqlTransaction):
                conn.execute("CREATE DATABASE other")
            conn.execute("ROLLBACK")
        with psycopg.connect(app_dsn, autocommit=True) as app:
            app.execute("CREATE TABLE shared_name (v text)")
            app.execute("INSERT INTO shared_name VALUES ('in app')")
            with psycopg.connect(server.dsn, autocommit=True) as conn:
                with pytest.raises(pgerr.ObjectInUse):
                    conn.execute("DROP DATABASE app")
        server.stop()
        server.start()
        with psycopg.connect(app_dsn) as app:
            assert app.execute("SELECT v FROM shared_name").fetchall() == [("in app",)]
        with psycopg.connect(server.dsn, autocommit=True) as conn:
            assert conn.execute("SELECT v FROM shared_name").fetchall() == [("in postgres",)]
            with pytest.raises(pgerr.ObjectInUse):
                conn.execute("DROP DATABASE postgres")
            conn.execute("DROP DATABASE app")
            conn.execute("DROP DATABASE IF EXISTS app")
            with pytest.raises(pgerr.InvalidCatalogName):
                conn.execute("DROP DATABASE app")
        with pytest.raises(psycopg.OperationalError) as info:
            psycopg.connect(app_dsn)
        assert 'database "app" does not exist' in str(info.value)
        with psycopg.connect(server.dsn, autocommit=True) as conn:
            conn.execute("CREATE DATABASE app")  # a new, empty database under the old name
        with psycopg.connect(app_dsn) as app, pytest.raises(pgerr.UndefinedTable):
            app.execute("SELECT v FROM shared_name")
    finally:
        server.stop()
