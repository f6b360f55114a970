"""Alembic on Strata as on PostgreSQL 15: autogenerate finds no difference between a realistic
MetaData and the schema ``create_all`` made from it, reports the same differences for a changed
MetaData, and a real migration (``alembic.command`` upgrade / downgrade from a script directory)
leaves a schema that reflects exactly as PostgreSQL's."""

from __future__ import annotations

import textwrap
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.config import Config
from alembic.migration import MigrationContext
from sqlalchemy.dialects.postgresql import ARRAY, JSONB

from tests.support import PostgresOracle, StrataProcess

TABLES = ("al_org", "al_user", "al_post", "al_tag")
REFLECTED = ("get_columns", "get_pk_constraint", "get_foreign_keys", "get_unique_constraints",
             "get_check_constraints", "get_indexes", "get_table_comment")


def build_metadata(changed: bool = False) -> sa.MetaData:
    """The application's models; ``changed`` is a later version of them (for autogenerate)."""
    m = sa.MetaData()
    sa.Table(
        "al_org", m,
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("name", sa.String(120 if changed else 100), nullable=False, comment="org name"),
        sa.Column("slug", sa.String(40), nullable=False),
        sa.Column("region", sa.String(10), nullable=False, server_default="eu"),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()),
        sa.UniqueConstraint("slug", "region", name="al_org_slug_region"),
        comment="organisations",
    )
    sa.Table(
        "al_user", m,
        sa.Column("id", sa.BigInteger, primary_key=True),
        sa.Column("org_id", sa.Integer, sa.ForeignKey("al_org.id", ondelete="CASCADE"), nullable=False),
        sa.Column("email", sa.String(255), nullable=False),
        sa.Column("age", sa.SmallInteger),
        sa.Column("balance", sa.Numeric(10, 2), nullable=False, server_default="0"),
        sa.Column("bio", sa.Text, nullable=not changed),
        sa.Column("active", sa.Boolean, nullable=False, server_default=sa.text("true")),
        sa.Column("born", sa.Date),
        sa.Column("seen", sa.DateTime),
        sa.Column("prefs", sa.JSON),
        sa.Column("attrs", JSONB, server_default=sa.text("'{}'::jsonb")),
        sa.Column("token", sa.Uuid),
        sa.Column("tags", ARRAY(sa.String)),
        sa.Column("scores", ARRAY(sa.Integer)),
        sa.CheckConstraint("age >= 0", name="al_user_age_ck"),
        sa.Index("al_user_email_uq", "email", unique=True),
        sa.Index("al_user_org_seen", "org_id", "seen"),
    )
    post_columns = [
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("user_id", sa.BigInteger, sa.ForeignKey("al_user.id", ondelete="SET NULL")),
        sa.Column("title", sa.String(200), nullable=False, index=not changed),
        sa.Column("body", sa.Text, server_default="" if not changed else "none"),
    ]
    if changed:
        post_columns.append(sa.Column("views", sa.Integer, nullable=False, server_default="0"))
    sa.Table("al_post", m, *post_columns)
    return m


MIGRATION = '''
import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None


def upgrade():
    op.add_column("al_post", sa.Column("views", sa.Integer, nullable=False, server_default="0"))
    op.add_column("al_post", sa.Column("published", sa.DateTime(timezone=True), comment="when"))
    op.create_index("al_post_user_published", "al_post", ["user_id", sa.text("published DESC")])
    op.alter_column("al_org", "name", type_=sa.String(200), existing_type=sa.String(100), existing_nullable=False)
    op.alter_column("al_user", "bio", nullable=False, server_default="", existing_type=sa.Text)
    op.alter_column("al_org", "slug", nullable=True, existing_type=sa.String(40))
    op.alter_column("al_user", "email", new_column_name="email_address", existing_type=sa.String(255))
    op.alter_column("al_user", "balance", server_default=None, existing_type=sa.Numeric(10, 2))
    op.alter_column("al_user", "age", type_=sa.Integer, existing_type=sa.SmallInteger)
    op.alter_column("al_user", "seen", comment="last login", existing_type=sa.DateTime)
    op.drop_column("al_user", "born")
    op.create_unique_constraint("al_post_title_uq", "al_post", ["title", "user_id"])
    op.create_check_constraint("al_post_views_ck", "al_post", "views >= 0")
    op.drop_index("ix_al_post_title", "al_post")
    op.drop_constraint("al_post_user_id_fkey", "al_post", type_="foreignkey")
    op.create_foreign_key("al_post_user_fk", "al_post", "al_user", ["user_id"], ["id"], ondelete="CASCADE")
    op.create_table_comment("al_post", "posts")
    op.drop_constraint("al_org_slug_region", "al_org", type_="unique")  # both declared in CREATE TABLE
    op.create_unique_constraint("al_org_slug_uq", "al_org", ["slug"])
    op.drop_constraint("al_user_age_ck", "al_user", type_="check")
    op.create_check_constraint("al_user_age_ck", "al_user", "age >= 0 AND age < 200")
    op.create_table(
        "al_tag",
        sa.Column("post_id", sa.Integer, sa.ForeignKey("al_post.id", ondelete="CASCADE"), primary_key=True),
        sa.Column("tag", sa.String(30), primary_key=True),
        sa.Column("weight", sa.Float, server_default="1.5"),
    )


def downgrade():
    op.drop_table("al_tag")
    op.drop_constraint("al_user_age_ck", "al_user", type_="check")
    op.create_check_constraint("al_user_age_ck", "al_user", "age >= 0")
    op.drop_constraint("al_org_slug_uq", "al_org", type_="unique")
    op.create_unique_constraint("al_org_slug_region", "al_org", ["slug", "region"])
    op.drop_table_comment("al_post", existing_comment="posts")
    op.drop_constraint("al_post_user_fk", "al_post", type_="foreignkey")
    op.create_foreign_key("al_post_user_id_fkey", "al_post", "al_user", ["user_id"], ["id"], ondelete="SET NULL")
    op.create_index("ix_al_post_title", "al_post", ["title"])
    op.drop_constraint("al_post_views_ck", "al_post", type_="check")
    op.drop_constraint("al_post_title_uq", "al_post", type_="unique")
    op.add_column("al_user", sa.Column("born", sa.Date))
    op.alter_column("al_user", "seen", comment=None, existing_comment="last login", existing_type=sa.DateTime)
    op.alter_column("al_user", "age", type_=sa.SmallInteger, existing_type=sa.Integer)
    op.alter_column("al_user", "balance", server_default="0", existing_type=sa.Numeric(10, 2))
    op.alter_column("al_user", "email_address", new_column_name="email", existing_type=sa.String(255))
    op.alter_column("al_org", "slug", nullable=False, existing_type=sa.String(40))
    op.alter_column("al_user", "bio", nullable=True, server_default=None, existing_type=sa.Text)
    op.alter_column("al_org", "name", type_=sa.String(100), existing_type=sa.String(200), existing_nullable=False)
    op.drop_index("al_post_user_published", "al_post")
    op.drop_column("al_post", "published")
    op.drop_column("al_post", "views")
'''

ENV = '''
from alembic import context

context.configure(connection=context.config.attributes["connection"], target_metadata=None)
with context.begin_transaction():
    context.run_migrations()
'''


def _engine(dsn: str) -> sa.Engine:
    return sa.create_engine(dsn.replace("postgresql://", "postgresql+psycopg://"))


def _drop_all(dsn: str) -> None:
    engine = _engine(dsn)
    try:
        with engine.begin() as conn:
            conn.execute(sa.text(f"drop table if exists alembic_version, {', '.join(reversed(TABLES))} cascade"))
    finally:
        engine.dispose()


def _ours(name: str | None, type_: str, parent_names: Any) -> bool:
    """Other test modules share the PostgreSQL oracle: autogenerate looks at our tables only."""
    return type_ != "table" or bool(name and name.startswith("al_"))


def _diffs(dsn: str, metadata: sa.MetaData) -> list[str]:
    engine = _engine(dsn)
    try:
        with engine.connect() as conn:
            ctx = MigrationContext.configure(conn, opts={
                "compare_type": True, "compare_server_default": True, "include_name": _ours})
            return [_describe(d) for d in compare_metadata(ctx, metadata)]
    finally:
        engine.dispose()


def _describe(diff: Any) -> str:
    """A diff entry as text that does not depend on object identity."""
    if isinstance(diff, list):
        return "; ".join(_describe(d) for d in diff)
    op, *rest = diff
    if op in ("modify_type", "modify_nullable", "modify_default", "modify_comment"):
        _schema, table, column, _info, old, new = rest
        return f"{op} {table}.{column}: {_value(old)} -> {_value(new)}"
    if op in ("add_index", "remove_index"):
        index = rest[0]
        return f"{op} {index.name} {[str(e) for e in index.expressions]} unique={index.unique}"
    if op in ("add_column", "remove_column"):
        _schema, table, column = rest
        return f"{op} {table}.{column.name} {column.type!r}"
    return f"{op} {rest!r}"


def _value(value: Any) -> str:
    """A reflected or declared server default (a DefaultClause around text) or a type, as text."""
    arg = getattr(value, "arg", value)
    return repr(getattr(arg, "text", arg))


def _plain(value: Any) -> Any:
    if isinstance(value, list):
        return [_plain(v) for v in value]
    if isinstance(value, dict):
        return {k: repr(v) if k == "type" else _plain(v) for k, v in value.items()}
    return value


def _reflect(dsn: str) -> dict[str, Any]:
    engine = _engine(dsn)
    try:
        insp = sa.inspect(engine)
        tables = sorted(n for n in insp.get_table_names() if n in TABLES or n == "alembic_version")
        out: dict[str, Any] = {"tables": tables}
        for table in tables:
            for method in REFLECTED:
                out[f"{table}.{method}"] = _plain(getattr(insp, method)(table))
        return out
    finally:
        engine.dispose()


def _migrate(dsn: str, scripts: Path, target: str) -> None:
    cfg = Config()
    cfg.set_main_option("script_location", str(scripts))
    engine = _engine(dsn)
    try:
        with engine.begin() as conn:
            cfg.attributes["connection"] = conn
            if target == "base":
                command.downgrade(cfg, target)
            else:
                command.upgrade(cfg, target)
    finally:
        engine.dispose()


@pytest.fixture
def dsns(pg_oracle: PostgresOracle, strata_shared: StrataProcess) -> Iterator[tuple[str, str]]:
    pair = (pg_oracle.dsn, strata_shared.dsn)
    for dsn in pair:
        _drop_all(dsn)
        engine = _engine(dsn)
        with engine.begin() as conn:
            build_metadata().create_all(conn)
        engine.dispose()
    yield pair
    for dsn in pair:
        _drop_all(dsn)


def test_autogenerate_finds_no_difference(dsns: tuple[str, str]) -> None:
    for dsn in dsns:
        assert _diffs(dsn, build_metadata()) == [], dsn


def test_autogenerate_reports_the_same_changes(dsns: tuple[str, str]) -> None:
    pg, strata = (_diffs(dsn, build_metadata(changed=True)) for dsn in dsns)
    assert len(pg) >= 5  # type, nullable, server default, column and index changes are all seen
    assert sorted(strata) == sorted(pg)


def test_migration_upgrade_downgrade_matches_postgres(dsns: tuple[str, str], tmp_path: Path) -> None:
    scripts = tmp_path / "migrations"
    (scripts / "versions").mkdir(parents=True)
    (scripts / "env.py").write_text(textwrap.dedent(ENV))
    (scripts / "versions" / "0001_changes.py").write_text(textwrap.dedent(MIGRATION))
    before = _reflect(dsns[0])
    for target in ("head", "base"):
        for dsn in dsns:
            _migrate(dsn, scripts, target)
        pg, strata = (_reflect(dsn) for dsn in dsns)
        if target == "head":
            assert pg != before and "al_tag" in pg["tables"]  # the migration really ran
        for key in pg:
            assert strata.get(key) == pg[key], f"after {target}: {key}"
        assert strata.keys() == pg.keys()
    for dsn in dsns:
        assert _diffs(dsn, build_metadata()) == [], dsn
