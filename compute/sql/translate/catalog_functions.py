"""The translation of the catalog functions (pg_get_indexdef, obj_description, pg_size_pretty,
to_regclass, ...): each calls its SQLite UDF (registered per connection by
``compute.sql.catalog.pg_catalog.install``) and has a fixed PostgreSQL result type.

Plain data: the expression compiler's function table takes ``HANDLERS`` (and ``DEFAULTS`` where
no other family defines the name); nothing registers on import.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from sqlglot import exp

from compute import pgtypes as T
from compute.sql.api import SqlError
from compute.sql.translate.scope import Handler, Scope, fn, lit_int
from compute.sql.types import Ty

if TYPE_CHECKING:
    from compute.sql.translate.expressions import ExprCompiler

TEXT, NAME, INT8, BOOL = T.TEXT, T.NAME, T.INT8, T.BOOL

# SQL-visible names -> (SQLite UDF, result type).
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


def _array_upper(c: ExprCompiler, args: list[exp.Expression], types: list[Ty], node: exp.Expression,
                 scope: Scope) -> tuple[exp.Expression, Ty]:
    if len(args) != 2:
        raise SqlError("42883", "function array_upper with these arguments does not exist")
    # one-dimensional arrays are JSON arrays; an empty array has no upper bound
    length = fn("json_array_length", args[0])
    upper = fn("nullif", length, lit_int(0))
    return exp.Case(ifs=[exp.If(this=exp.EQ(this=args[1], expression=lit_int(1)), true=upper)]), Ty(T.INT4)


def _array_lower(c: ExprCompiler, args: list[exp.Expression], types: list[Ty], node: exp.Expression,
                 scope: Scope) -> tuple[exp.Expression, Ty]:
    if len(args) != 2:
        raise SqlError("42883", "function array_lower with these arguments does not exist")
    nonempty = exp.GT(this=fn("json_array_length", args[0]), expression=lit_int(0))
    cond = exp.And(this=nonempty, expression=exp.EQ(this=args[1], expression=lit_int(1)))
    return exp.Case(ifs=[exp.If(this=cond, true=lit_int(1))]), Ty(T.INT4)


HANDLERS: dict[str, Handler] = {name: _udf_call(udf, result) for name, (udf, result) in FUNCTION_TYPES.items()}
# Used only where no other function family defines the name.
DEFAULTS: dict[str, Handler] = {"array_upper": _array_upper, "array_lower": _array_lower}
