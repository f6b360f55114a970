"""COMMENT ON TABLE/VIEW/SEQUENCE/INDEX/COLUMN: pg_description, obj_description/col_description,
psql's \\d+ and \\dt+ see the comments, and errors match PostgreSQL 15."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.catalog.test_alter_constraints import Pair
from tests.support import PostgresOracle, StrataProcess


@pytest.fixture(scope="module")
def pair(pg_oracle: PostgresOracle, strata_shared: StrataProcess) -> Iterator[Pair]:
    p = Pair(pg_oracle.dsn, strata_shared.dsn)
    try:
        yield p
    finally:
        for conn in p.conns:
            conn.execute("drop table if exists cm_t cascade")
            conn.execute("drop sequence if exists cm_s")
        p.close()


def test_comment_on_objects(pair: Pair) -> None:
    out = pair.script("""
        drop table if exists cm_t cascade;
        create table cm_t (id int primary key, name text);
        create view cm_v as select id from cm_t;
        create sequence cm_s;
        create index cm_i on cm_t (name);
        comment on table cm_t is 'the table';
        comment on column cm_t.name is 'it''s the name';
        comment on column public.cm_t.id is $$the id$$;
        comment on view cm_v is 'a view';
        comment on sequence cm_s is 'a sequence';
        comment on index cm_i is 'an index';
        select obj_description('cm_t'::regclass, 'pg_class'), col_description('cm_t'::regclass, 1),
               col_description('cm_t'::regclass, 2), obj_description('cm_v'::regclass),
               obj_description('cm_s'::regclass), obj_description('cm_i'::regclass);
        comment on table cm_t is 'changed';
        comment on column cm_t.id is null;
        comment on column cm_t.name is '';
        select obj_description('cm_t'::regclass), col_description('cm_t'::regclass, 1),
               col_description('cm_t'::regclass, 2);
        select count(*) from pg_description where objoid = 'cm_t'::regclass;
        comment on table cm_missing is 'x';
        comment on column cm_t.missing is 'x';
        comment on table cm_v is 'x';
        drop view cm_v;
        drop table cm_t;
        drop sequence cm_s
    """)
    assert out[11] == ("ok", "SELECT 1", [("the table", "the id", "it's the name", "a view", "a sequence",
                                           "an index")])
    assert out[15] == ("ok", "SELECT 1", [("changed", None, None)])
    assert out[16] == ("ok", "SELECT 1", [(1,)])
