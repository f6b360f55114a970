"""psql's \\dT / \\dT+ and \\d print enum types and enum columns as PostgreSQL 15 does.

The same enum types (one with a comment, one empty) and a table using them are created through
psql on both servers; each meta-command's output must be identical.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.catalog.psql_support import normalize, psql, run_script
from tests.support import PostgresOracle, StrataProcess

SCHEMA = """
create type pse_mood as enum ('sad', 'ok', 'happy');
comment on type pse_mood is 'how one feels';
create type pse_empty as enum ();
create type "PSE Quoted" as enum ('a b', 'it''s');
alter type pse_mood add value 'meh' before 'ok';
create table pse_t (id int primary key, m pse_mood not null default 'ok', ms pse_mood[], q "PSE Quoted");
"""

COMMANDS = [
    r"\dT",
    r"\dT+",
    r"\dT pse_mood",
    r"\dT+ pse_*",
    r"\d pse_t",
    r"\d+ pse_t",
]


@pytest.fixture(scope="module")
def servers(strata_shared: StrataProcess, pg_oracle: PostgresOracle) -> Iterator[tuple[str, str]]:
    run_script(pg_oracle.dsn, SCHEMA)
    run_script(strata_shared.dsn, SCHEMA)
    yield strata_shared.dsn, pg_oracle.dsn
    cleanup = 'drop table pse_t; drop type pse_mood; drop type pse_empty; drop type "PSE Quoted";'
    run_script(pg_oracle.dsn, cleanup)
    run_script(strata_shared.dsn, cleanup)


@pytest.mark.parametrize("command", COMMANDS)
def test_enum_meta_command_matches_postgres(servers: tuple[str, str], command: str) -> None:
    strata, postgres = servers
    expected = normalize(psql(postgres, command))
    assert "ERROR" not in "\n".join(expected)
    assert any("pse_" in line for line in expected)
    assert normalize(psql(strata, command)) == expected


def test_drop_type_in_use_is_refused_like_postgres(servers: tuple[str, str]) -> None:
    strata, postgres = servers
    expected = normalize(psql(postgres, "drop type pse_mood"))
    assert expected[0].startswith("ERROR:  cannot drop type pse_mood because other objects depend on it")
    assert normalize(psql(strata, "drop type pse_mood"))[0] == expected[0]
