"""System information and catalog functions: format_type, pg_typeof, privilege checks (always
true), regclass input/output, pg_get_serial_sequence, and the translation of the catalog UDFs
(pg_get_indexdef, obj_description, pg_size_pretty, to_regclass, ...) whose runtime is in
compute/sql/catalog/pg_catalog.py (registered by its ``install``)."""

from __future__ import annotations

import json
import re
from typing import TYPE_CHECKING, Any

from sqlglot import exp

import compute.sql.types as ty
from compute import pgtypes as T
from compute.sql.api import SqlError
from compute.sql.catalog.catalog import (
    DEFAULT_SEARCH_PATH,
    FIRST_USER_OID,
    SCHEMAS,
    TABLES,
    runtime_path,
    runtime_relation,
    split_qualified,
)
from compute.sql.catalog.objects import BUILTIN_SCHEMAS
from compute.sql.catalog.system import SYSTEM_RELATIONS
from compute.sql.functions.common import scalar_registrar, simple
from compute.sql.functions.session import SessionContext
from compute.sql.functions.text import quote_ident_value
from compute.sql.translate.scope import Handler, Scope, fn, lit_int
from compute.sql.types import Ty

if TYPE_CHECKING:
    from compute.sql.translate.expressions import ExprCompiler


def _typeof(c: ExprCompiler, args: list[exp.Expression], types: list[Ty], node: exp.Expression,
            scope: Scope) -> tuple[exp.Expression, Ty]:
    t = types[0] if types else ty.UNKNOWN
    if t.oid < FIRST_USER_OID:  # a regtype value is the type's OID (pg_typeof(1)::oid is 23)
        return lit_int(t.oid), Ty(T.REGTYPE)
    return exp.Literal.string(c.state.catalog.format_type(t.oid)), Ty(T.REGTYPE)  # an enum: its name


def drop_not_null_text(ddl: Any, column: Any) -> Any:
    """The CREATE TABLE text without the NOT NULL of one column (as ddl._storage_decl wrote it)."""
    quoted = re.escape('"' + column.replace('"', '""') + '"')
    pattern = re.compile(rf"([(,]\s*{quoted}\s+\w+(?:\s+COLLATE\s+\w+)?)\s+NOT\s+NULL\b", re.IGNORECASE)
    return pattern.sub(r"\1", ddl, count=1)


def _serial_sequence(conn: Any, ctx: SessionContext, table: Any, column: Any) -> Any:
    if table is None or column is None:
        return None
    found = runtime_relation(conn, str(table), ctx.settings.get("search_path", DEFAULT_SEARCH_PATH), ctx.user,
                             ctx.backend_pid, "rv")
    if found is None:
        raise SqlError("42P01", f'relation "{table}" does not exist')
    rows = conn.execute(
        "SELECT t2.schema, t2.name FROM __strata_sequences s JOIN __strata_tables t2 ON t2.oid = s.oid "
        "WHERE s.owner_table = ? AND s.owner_column = ?",
        (found[0], str(column)),
    ).fetchall()
    return f"{quote_ident_value(rows[0][0])}.{quote_ident_value(rows[0][1])}" if rows else None


# The catalog UDFs (catalog/pg_catalog.py): SQL-visible names -> (SQLite UDF, result type).
TEXT, NAME, INT8, BOOL = T.TEXT, T.NAME, T.INT8, T.BOOL

FUNCTION_TYPES: dict[str, tuple[str, int]] = {
    "pg_get_expr": ("pg_get_expr", TEXT),
    "pg_get_indexdef": ("pg_get_indexdef", TEXT),
    "pg_get_constraintdef": ("pg_get_constraintdef", TEXT),
    "pg_get_viewdef": ("pg_get_viewdef", TEXT),
    "pg_get_ruledef": ("pg_get_ruledef", TEXT),
    "obj_description": ("pg_obj_description", TEXT),
    "col_description": ("pg_col_description", TEXT),
    "shobj_description": ("pg_shobj_description", TEXT),
    "pg_get_userbyid": ("pg_get_userbyid", NAME),
    "pg_size_pretty": ("pg_size_pretty", TEXT),
    "pg_relation_size": ("pg_relation_size", INT8),
    "pg_table_size": ("pg_table_size", INT8),
    "pg_indexes_size": ("pg_indexes_size", INT8),
    "pg_total_relation_size": ("pg_total_relation_size", INT8),
    "pg_database_size": ("pg_database_size", INT8),
    "pg_partition_ancestors": ("pg_partition_ancestors", T.REGCLASS),
    "pg_partition_root": ("pg_partition_ancestors", T.REGCLASS),
    "pg_relation_is_publishable": ("pg_relation_is_publishable", BOOL),
    "pg_tablespace_location": ("pg_tablespace_location", TEXT),
    "pg_collation_is_visible": ("pg_true", BOOL),
    "pg_opclass_is_visible": ("pg_true", BOOL),
    "pg_conversion_is_visible": ("pg_true", BOOL),
    "pg_ts_config_is_visible": ("pg_true", BOOL),
    "to_regtype": ("pg_to_regtype", T.REGTYPE),
    "to_regclass": ("pg_to_regclass", T.REGCLASS),
    "to_regnamespace": ("pg_to_regnamespace", T.REGNAMESPACE),
}


def _udf_call(udf: str, result: int) -> Handler:
    def handler(c: ExprCompiler, args: list[exp.Expression], types: list[Ty], node: exp.Expression,
                scope: Scope) -> tuple[exp.Expression, Ty]:
        return fn(udf, *args), Ty(result)

    return handler


HANDLERS: dict[str, Handler] = {
    **{name: _udf_call(udf, result) for name, (udf, result) in FUNCTION_TYPES.items()},
    "format_type": simple("pg_format_type", ty.TEXT),
    "pg_encoding_to_char": simple("pg_encoding_to_char", ty.NAME),
    "pg_table_is_visible": simple("pg_table_is_visible", ty.BOOL),
    "pg_type_is_visible": simple("pg_table_is_visible", ty.BOOL),
    "pg_function_is_visible": simple("__strata_function_is_visible", ty.BOOL),  # compute/sql/procedural
    "has_table_privilege": simple("__strata_has_table_privilege", ty.BOOL),  # compute/sql/privileges.py
    "has_schema_privilege": simple("pg_true", ty.BOOL),
    "has_database_privilege": simple("pg_true", ty.BOOL),
    "has_column_privilege": simple("__strata_has_column_privilege", ty.BOOL),  # compute/sql/privileges.py
    "has_sequence_privilege": simple("pg_true", ty.BOOL),
    "has_function_privilege": simple("pg_true", ty.BOOL),
    "pg_has_role": simple("pg_true", ty.BOOL),
    "pg_get_serial_sequence": simple("pg_get_serial_sequence", ty.TEXT),
    "pg_get_triggerdef": simple("__strata_get_triggerdef", ty.TEXT),
    "pg_get_statisticsobjdef_columns": simple("pg_null", ty.TEXT),
    "pg_get_partkeydef": simple("pg_null", ty.TEXT),
    "pg_get_function_arguments": simple("__strata_get_function_arguments", ty.TEXT),
    "pg_get_function_identity_arguments": simple("__strata_get_function_identity_arguments", ty.TEXT),
    "pg_get_function_result": simple("__strata_get_function_result", ty.TEXT),
    "pg_get_functiondef": simple("__strata_get_functiondef", ty.TEXT),
    "pg_get_function_sqlbody": simple("pg_null", ty.TEXT),
    "pg_typeof": _typeof,
    "acldefault": simple("pg_acldefault", Ty(T.ACLITEM_ARRAY)),
}

# acldefault(objtype, owner): PostgreSQL's built-in privileges of an object kind (acl.c), as
# (privileges the owner holds, privileges PUBLIC holds).
_DEFAULT_PRIVILEGES = {
    "r": ("arwdDxt", ""), "s": ("rwU", ""), "f": ("X", "X"), "l": ("U", "U"), "L": ("rw", ""),
    "n": ("UC", ""), "t": ("C", ""), "F": ("U", ""), "S": ("U", ""), "T": ("U", "U"),
    "d": ("CTc", "Tc"), "p": ("sA", ""),
}


def _acldefault(ctx: SessionContext, kind: Any, owner: Any) -> Any:
    if kind is None or owner is None:
        return None
    if str(kind) not in _DEFAULT_PRIVILEGES:
        raise SqlError("XX000", f"unrecognized object type: {ord(str(kind)[:1] or ' ')}")
    own, public = _DEFAULT_PRIVILEGES[str(kind)]
    role = "pg_database_owner" if owner == 6171 else ctx.user
    items = ([f"={public}/{role}"] if public else []) + [f"{role}={own}/{role}"]
    return json.dumps(items)


def register_udfs(conn: Any, ctx: SessionContext) -> None:
    """The SQLite functions of this family, on one connection."""
    scalar = scalar_registrar(conn)
    det = {"deterministic": True}
    scalar("pg_encoding_to_char", lambda n: "UTF8" if n == 6 else "SQL_ASCII", 1, True)
    scalar("pg_true", lambda *args: 1, -1)
    scalar("pg_null", lambda *args: None, -1)
    scalar("pg_acldefault", lambda kind, owner: _acldefault(ctx, kind, owner), 2)

    def regclass(value: Any) -> Any:
        if value is None:
            return None
        if isinstance(value, int):
            return value
        text = str(value).strip()
        if text.isdigit():
            return int(text)
        found = runtime_relation(conn, text, ctx.settings.get("search_path", DEFAULT_SEARCH_PATH), ctx.user,
                                 ctx.backend_pid)
        if found is not None:
            return found[0]
        name = split_qualified(text)[-1]
        system = SYSTEM_RELATIONS.get(name)
        if system is not None:
            return system.oid
        raise SqlError("42P01", f'relation "{text}" does not exist')

    scalar("pg_regclass", regclass, 1)

    def regclass_out(oid: Any) -> Any:
        if oid is None:
            return None
        rows = conn.execute(f"SELECT name, schema FROM {TABLES} WHERE oid = ?", (oid,)).fetchall()
        if rows:
            name, schema = rows[0]
            path = runtime_path(conn, ctx.settings.get("search_path", DEFAULT_SEARCH_PATH), ctx.user,
                                ctx.backend_pid)
            visible = schema in path and runtime_relation(
                conn, quote_ident_value(name), ctx.settings.get("search_path", DEFAULT_SEARCH_PATH), ctx.user,
                ctx.backend_pid) == (oid, schema, name)
            return quote_ident_value(name) if visible else f"{quote_ident_value(schema)}.{quote_ident_value(name)}"
        for rel in SYSTEM_RELATIONS.values():
            if rel.oid == oid:
                return rel.name
        return str(oid)

    scalar("pg_regclass_out", regclass_out, 1)

    def regnamespace_out(oid: Any) -> Any:
        if oid is None:
            return None
        names = {v: k for k, v in BUILTIN_SCHEMAS.items()}
        if int(oid) in names:
            return names[int(oid)]
        rows = conn.execute(f"SELECT name FROM main.{SCHEMAS} WHERE oid = ?", (oid,)).fetchall()
        return quote_ident_value(rows[0][0]) if rows else str(oid)

    scalar("pg_regnamespace_out", regnamespace_out, 1)
    def table_is_visible(oid: Any) -> Any:
        """True when the search path finds the relation by its bare name (psql's \\dt, \\d)."""
        if oid is None:
            return None
        rows = conn.execute(f"SELECT name, schema FROM main.{TABLES} WHERE oid = ?", (oid,)).fetchall()
        if not rows:
            return 1  # system relations, types, functions
        found = runtime_relation(conn, quote_ident_value(rows[0][0]),
                                 ctx.settings.get("search_path", DEFAULT_SEARCH_PATH), ctx.user, ctx.backend_pid)
        return 1 if found is not None and found[0] == oid else 0

    scalar("pg_table_is_visible", table_is_visible, 1)
    scalar("pg_get_serial_sequence", lambda table, column: _serial_sequence(conn, ctx, table, column), 2)
    conn.create_scalar_function("pg_drop_not_null", drop_not_null_text, 2, **det)
