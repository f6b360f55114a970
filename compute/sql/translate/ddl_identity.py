"""ALTER TABLE ... ALTER COLUMN c ADD GENERATED {ALWAYS | BY DEFAULT} AS IDENTITY [(options)]:
how pg_dump writes identity columns (the table first, then the identity and its sequence).

The column becomes what CREATE TABLE ... GENERATED AS IDENTITY makes (ddl_alter.py): an owned
sequence, a ``nextval`` default and the identity kind; PostgreSQL's checks come first.
"""

from __future__ import annotations

import re
from dataclasses import replace

from compute import pgtypes as T
from compute.sql.api import SqlError
from compute.sql.catalog import catalog as C
from compute.sql.catalog.catalog import Catalog, Sequence, quote_literal, split_key
from compute.sql.translate.ddl_sql import DdlResult

_NAME = r'(?:"(?:[^"]|"")+"|[A-Za-z_][A-Za-z0-9_$]*)'
ADD_IDENTITY = re.compile(
    rf"^\s*alter\s+table\s+(?:if\s+exists\s+)?(?:only\s+)?(?P<table>{_NAME}(?:\s*\.\s*{_NAME})?)\s+"
    rf"alter\s+(?:column\s+)?(?P<column>{_NAME})\s+add\s+generated\s+(?P<when>always|by\s+default)\s+"
    r"as\s+identity\s*(?:\((?P<options>.*)\))?\s*;?\s*$",
    re.IGNORECASE | re.DOTALL,
)
_OPTION_WORDS = re.compile(rf"{_NAME}(?:\s*\.\s*{_NAME})?|-?\d+")


def _unquote(name: str) -> str:
    name = name.strip()
    return name[1:-1].replace('""', '"') if name.startswith('"') else name.lower()


def _last_part(name: str) -> str:
    parts = re.findall(_NAME, name)
    return _unquote(parts[-1])


def regclass_text(name: str) -> str:
    """The name as nextval('...'::regclass) writes it (quoted when it must be; a relation key
    ``schema.name`` outside public is written qualified)."""
    schema, bare = split_key(name)
    if schema != "public":
        return f"{regclass_text(schema)}.{regclass_text(bare)}"
    plain = re.fullmatch(r"[a-z_][a-z0-9_$]*", name) is not None
    return name if plain else '"' + name.replace('"', '""') + '"'


def _sequence(options: str, default_name: str, type_oid: int, column: str) -> Sequence:
    words = _OPTION_WORDS.findall(options)
    top = {T.INT2: 2**15 - 1, T.INT4: 2**31 - 1}.get(type_oid, 2**63 - 1)
    values: dict[str, int | None] = {}
    name, cycle, i = default_name, False, 0

    def number(k: int) -> int:
        try:
            return int(words[k])
        except (IndexError, ValueError):
            raise SqlError("42601", "syntax error in identity options") from None

    while i < len(words):
        word = words[i].lower()
        if word == "sequence" and i + 2 < len(words) and words[i + 1].lower() == "name":
            name, i = _last_part(words[i + 2]), i + 3
        elif word in ("start", "increment"):
            i += 2 if i + 1 < len(words) and words[i + 1].lower() in ("with", "by") else 1
            values[word], i = number(i), i + 1
        elif word in ("minvalue", "maxvalue", "cache"):
            values[word], i = number(i + 1), i + 2
        elif word == "no" and i + 1 < len(words) and words[i + 1].lower() in ("minvalue", "maxvalue", "cycle"):
            if words[i + 1].lower() != "cycle":
                values[words[i + 1].lower()] = None
            i += 2
        elif word == "cycle":
            cycle, i = True, i + 1
        else:
            raise SqlError("0A000", f"identity option {words[i]} is not supported")
    increment = values.get("increment") or 1
    low = values.get("minvalue")
    high = values.get("maxvalue")
    min_value = low if low is not None else (1 if increment > 0 else -top - 1)
    max_value = high if high is not None else (top if increment > 0 else -1)
    start = values.get("start")
    start = start if start is not None else (min_value if increment > 0 else max_value)
    return Sequence(0, name, type_oid, start, increment, min_value, max_value, cycle, None, column)


def add_identity(catalog: Catalog, text: str) -> DdlResult:
    m = ADD_IDENTITY.match(text)
    if m is None:
        raise SqlError("0A000", "this ALTER TABLE ... ADD GENERATED form is not supported")
    table_name, column = _last_part(m.group("table")), _unquote(m.group("column"))
    table = catalog.user_table(table_name)
    if table is None:
        raise SqlError("42P01", f'relation "{table_name}" does not exist')
    col = next((c for c in table.columns if c.name == column), None)
    if col is None:
        raise SqlError("42703", f'column "{column}" of relation "{table_name}" does not exist')
    if col.type_oid not in (T.INT2, T.INT4, T.INT8):
        raise SqlError("22023", "identity column type must be smallint, integer, or bigint")
    if not col.not_null:
        raise SqlError("55000", f'column "{column}" of relation "{table_name}" must be declared NOT NULL '
                                "before identity can be added")
    if col.identity:
        raise SqlError("55000", f'column "{column}" of relation "{table_name}" is already an identity column')
    if col.default_expr is not None:
        raise SqlError("55000", f'column "{column}" of relation "{table_name}" already has a default value')
    seq = replace(_sequence(m.group("options") or "", f"{table_name}_{column}_seq", col.type_oid, column),
                  owner_table=table.oid)
    if catalog.relation_exists(seq.name):
        raise SqlError("42P07", f'relation "{seq.name}" already exists')
    if not seq.min_value <= seq.start <= seq.max_value:
        raise SqlError("22023", f"START value ({seq.start}) cannot be less than MINVALUE ({seq.min_value})")
    kind = "a" if m.group("when").lower() == "always" else "d"
    default_expr = f"nextval('{regclass_text(seq.name)}'::regclass)"
    default_sql = f"nextval({quote_literal(regclass_text(seq.name))})"
    where = f"WHERE table_oid = {C.oid_of_sql(table.name)} AND name = {quote_literal(column)}"
    steps = [*C.insert_sequence_sql(seq, table.name),
             f"UPDATE {C.COLUMNS} SET identity = '{kind}', default_expr = {quote_literal(default_expr)}, "
             f"default_sql = {quote_literal(default_sql)} {where}",
             *C.BUMP_SCHEMA_VERSION]
    new_col = replace(col, identity=kind, default_expr=default_expr, default_sql=default_sql)
    columns = tuple(new_col if c.name == column else c for c in table.columns)
    updated = catalog.with_table(replace(table, columns=columns)).with_sequence(seq)
    return DdlResult("ALTER TABLE", steps, updated)
