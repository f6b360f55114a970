"""Django 5.2 (django.db.backends.postgresql over psycopg 3) on Strata, unchanged.

Each scenario of tests/orm/django_scenarios.py runs in its own Python process (Django settings
are process-global), once against PostgreSQL 15 and once against Strata, each on a fresh
database; the JSON results must be equal. The migrations are django.contrib's (auth,
contenttypes, sessions, admin) and the test app's (tests/orm/django_app: foreign keys,
many-to-many, unique_together/UniqueConstraint/CheckConstraint, indexes, the common field types,
and a second migration that renames, adds a self foreign key, alters types and nullability, drops
a column and replaces a unique_together).
"""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import psycopg
import pytest

from tests.support import REPO, PostgresOracle, StrataProcess


def run_scenario(dsn: str, name: str) -> Any:
    proc = subprocess.run([sys.executable, "-m", "tests.orm.django_scenarios", dsn, name],
                          cwd=REPO, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, f"{name} on {dsn} failed:\n{proc.stderr[-4000:]}"
    return json.loads(proc.stdout)


def fresh_database(dsn: str, name: str) -> str:
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute(f"DROP DATABASE IF EXISTS {name}")
        conn.execute(f"CREATE DATABASE {name}")
    return dsn.rsplit("/", 1)[0] + "/" + name


def query(dsn: str, sql: str) -> list[tuple[Any, ...]]:
    with psycopg.connect(dsn, autocommit=True) as conn:
        return conn.execute(sql).fetchall()


@dataclass
class Migrated:
    pg: str
    strata: str
    pg_migrate: Any
    strata_migrate: Any


@pytest.fixture(scope="module")
def migrated(strata_shared: StrataProcess, pg_oracle: PostgresOracle) -> Iterator[Migrated]:
    pg = fresh_database(pg_oracle.dsn, "django_tests")
    st = fresh_database(strata_shared.dsn, "django_tests")
    try:
        yield Migrated(pg, st, run_scenario(pg, "migrate"), run_scenario(st, "migrate"))
    finally:  # the oracle is shared with other test folders (psql \l lists databases)
        for dsn in (pg_oracle.dsn, strata_shared.dsn):
            with psycopg.connect(dsn, autocommit=True) as conn:
                conn.execute("DROP DATABASE IF EXISTS django_tests")


def test_migrate_matches_postgres(migrated: Migrated) -> None:
    assert ["strata_app", "0002_alterations"] in migrated.pg_migrate["applied"]
    assert len(migrated.pg_migrate["applied"]) == 20
    assert "strata_app_book_tags" in migrated.pg_migrate["tables"]
    assert migrated.strata_migrate == migrated.pg_migrate


def test_migrated_constraints_match_postgres(migrated: Migrated) -> None:
    """Same constraints (names, kinds, deferrability, keys in order) and the same index
    definitions, including Django's varchar_pattern_ops indexes and DESC keys."""
    constraints = ("SELECT c.conname, c.contype, c.condeferrable, c.condeferred, "
                   "array(SELECT a.attname FROM unnest(c.conkey) WITH ORDINALITY k(n, i) "
                   "JOIN pg_attribute a ON a.attnum = k.n AND a.attrelid = c.conrelid ORDER BY k.i) "
                   "FROM pg_constraint c JOIN pg_class t ON t.oid = c.conrelid "
                   "JOIN pg_namespace s ON s.oid = t.relnamespace WHERE s.nspname = 'public' "
                   "ORDER BY c.conname")
    indexes = "SELECT indexname, indexdef FROM pg_indexes WHERE schemaname = 'public' ORDER BY indexname"
    expected = query(migrated.pg, constraints)
    assert ("strata_app_book_author_id_5ca309de_fk_strata_app_author_id", "f", True, True,
            ["author_id"]) in expected
    assert ("book_author_title_uniq", "u", False, False, ["author_id", "title"]) in expected
    assert query(migrated.strata, constraints) == expected
    expected_indexes = query(migrated.pg, indexes)
    assert any("varchar_pattern_ops" in d for _, d in expected_indexes)
    assert query(migrated.strata, indexes) == expected_indexes


def test_inspectdb_matches_postgres(migrated: Migrated) -> None:
    expected = run_scenario(migrated.pg, "inspectdb")
    assert "class StrataAppBook(models.Model):" in expected
    assert "unique_together = (('author', 'title'),)" in expected
    assert run_scenario(migrated.strata, "inspectdb") == expected


def test_orm_crud_matches_postgres(migrated: Migrated) -> None:
    expected = run_scenario(migrated.pg, "crud")
    # the scenario itself checks what PostgreSQL does, so a broken scenario cannot pass silently
    assert expected["unique"] == "23505"
    assert expected["check"] == "23514"
    assert expected["deferred_fk"] == "23503"  # at COMMIT: Django's foreign keys are deferred
    assert expected["deferred_ok"] is True
    assert expected["check_constraints"] == "23503"  # SET CONSTRAINTS ALL IMMEDIATE
    assert expected["fixed_later"] == 1
    assert expected["atomic"] == ["kept", "poetry"]
    assert expected["protect"] == "protected"
    got = run_scenario(migrated.strata, "crud")
    assert {k: v for k, v in got.items() if v != expected.get(k)} == {}
    assert got == expected
