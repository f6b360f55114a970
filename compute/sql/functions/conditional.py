"""Conditional expressions that look like functions: coalesce, nullif, greatest/least, num_nulls."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from sqlglot import exp

import compute.sql.types as ty
from compute import pgtypes as T
from compute.sql.functions.session import SessionContext
from compute.sql.translate.scope import Handler, Scope, fn, raw
from compute.sql.types import Ty

if TYPE_CHECKING:
    from compute.sql.translate.expressions import ExprCompiler


def _coalesce(c: ExprCompiler, args: list[exp.Expression], types: list[Ty], node: exp.Expression,
              scope: Scope) -> tuple[exp.Expression, Ty]:
    result = ty.UNKNOWN
    for t in types:
        if t.oid != T.UNKNOWN:  # unknown literals/NULLs take the type of the others
            result = ty.common_type(result, t)
    coerced = [c.coerce(a, t, result) for a, t in zip(args, types, strict=True)]
    if len(coerced) == 1:
        return coerced[0], result
    return fn("coalesce", *coerced), result if result.oid != T.UNKNOWN else ty.TEXT


def _nullif(c: ExprCompiler, args: list[exp.Expression], types: list[Ty], node: exp.Expression,
            scope: Scope) -> tuple[exp.Expression, Ty]:
    result = ty.common_type(types[0], types[1])
    return fn("nullif", *(c.coerce(a, t, result) for a, t in zip(args, types, strict=True))), result


def _greatest(c: ExprCompiler, args: list[exp.Expression], types: list[Ty], node: exp.Expression,
              scope: Scope) -> tuple[exp.Expression, Ty]:
    result = ty.UNKNOWN
    for t in types:
        if t.oid != T.UNKNOWN:
            result = ty.common_type(result, t)
    if result.oid == T.UNKNOWN:
        result = ty.TEXT
    coerced = [c.coerce(a, t, result) for a, t in zip(args, types, strict=True)]
    agg = "max" if node.name.lower() == "greatest" else "min"
    # PostgreSQL ignores NULLs; SQLite's multi-argument max/min returns NULL if any is NULL.
    # The values are a UNION ALL, not VALUES: SQLite 3.54 cannot name the columns of a VALUES
    # whose first row refers to an outer column ("no such column: column1").
    if result.oid == T.NUMERIC:  # numerics are text: compare with the pgnumeric collation
        rows = _rows([f"CAST(({c.sql(a)}) AS TEXT)" for a in coerced])
        return raw(f"(SELECT {agg}(v COLLATE pgnumeric) FROM ({rows}))"), result
    enum = c.state.catalog.enum_by_oid(result.oid)
    if enum is not None:  # by the labels' order
        rows = _rows([c.sql(c.sort_key(a, result)) for a in coerced])
        key = c.sql(exp.Literal.string(enum.key_json))
        return raw(f"pg_enum_label((SELECT {agg}(v) FROM ({rows})), {key}, {enum.oid})"), result
    rows = _rows([c.sql(a) for a in coerced])
    return raw(f"(SELECT {agg}(v) FROM ({rows}))"), result


def _rows(values: list[str]) -> str:
    """One column ``v`` with a row per value."""
    return " UNION ALL ".join(f"SELECT ({v}) AS v" if i == 0 else f"SELECT ({v})" for i, v in enumerate(values))


def _grouping_null(c: ExprCompiler, args: list[exp.Expression], types: list[Ty], node: exp.Expression,
                   scope: Scope) -> tuple[exp.Expression, Ty]:
    """A grouping column outside the current grouping set (grouping_sets.py): NULL of its type."""
    return exp.Null(), types[0]


def _num_nulls(c: ExprCompiler, args: list[exp.Expression], types: list[Ty], node: exp.Expression,
               scope: Scope) -> tuple[exp.Expression, Ty]:
    test = "IS NOT NULL" if node.name.lower() == "num_nonnulls" else "IS NULL"
    parts = " + ".join(f"(({c.sql(a)}) {test})" for a in args) or "0"
    return raw(f"({parts})"), ty.INT4


HANDLERS: dict[str, Handler] = {
    "coalesce": _coalesce,
    "nullif": _nullif,
    "greatest": _greatest,
    "least": _greatest,
    "__grouping_null": _grouping_null,
    "num_nonnulls": _num_nulls,
    "num_nulls": _num_nulls,
}


def register_udfs(conn: Any, ctx: SessionContext) -> None:
    """The SQLite functions of this family, on one connection."""
    return
