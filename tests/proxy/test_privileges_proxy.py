"""A role made by CREATE ROLE … LOGIN that logs in through the proxy is a plain role on the
compute: its statements are checked there (autocommit, in a block, whose socket the proxy may
lend to the primary, prepared), the users file's logins stay superusers
(compute/sql/privileges.py). Real proxy and compute processes."""

from __future__ import annotations

from pathlib import Path

import psycopg
import pytest

from tests.proxy.conftest import StartProxy
from tests.proxy.support import ProxyProc, write_users


@pytest.fixture
def proxy(tmp_path: Path, start_proxy: StartProxy) -> ProxyProc:
    users = write_users(tmp_path, {"admin": "adminpw"})
    return start_proxy("--users-file", str(users), auth="scram")


def test_a_plain_role_through_the_proxy_is_checked(proxy: ProxyProc) -> None:
    with psycopg.connect(proxy.dsn("admin", "adminpw"), autocommit=True) as su:
        assert su.execute("show is_superuser").fetchone() == ("on",)
        su.execute("create role pp_app login password 'pw'")
        su.execute("create table pp_t (id int primary key, v int)")
        su.execute("insert into pp_t values (1, 10)")
        with psycopg.connect(proxy.dsn("pp_app", "pw"), autocommit=True) as app:
            assert app.execute("show is_superuser").fetchone() == ("off",)
            with pytest.raises(psycopg.errors.InsufficientPrivilege):
                app.execute("select v from pp_t where id = %s", (1,), prepare=True)
            su.execute("grant select on pp_t to pp_app")
            assert app.execute("select v from pp_t where id = %s", (1,), prepare=True).fetchall() == [(10,)]
            with pytest.raises(psycopg.errors.InsufficientPrivilege) as info:
                with app.transaction():  # a write block: the proxy may lend the socket to the primary
                    app.execute("update pp_t set v = v + 1 where id = 1")
            assert info.value.diag.message_primary == "permission denied for table pp_t"
            su.execute("grant update on pp_t to pp_app")
            with app.transaction():
                app.execute("update pp_t set v = v + 1 where id = 1")
            su.execute("revoke all on pp_t from pp_app")
            with pytest.raises(psycopg.errors.InsufficientPrivilege):
                app.execute("select v from pp_t where id = %s", (1,), prepare=True)
        assert su.execute("select v from pp_t").fetchall() == [(11,)]
