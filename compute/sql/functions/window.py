"""Window functions: row_number, rank, lag/lead, ..."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from sqlglot import exp

import compute.sql.types as ty
from compute.sql.functions.common import first_type
from compute.sql.functions.session import SessionContext
from compute.sql.translate.scope import Handler, Scope, fn
from compute.sql.types import Ty

if TYPE_CHECKING:
    from compute.sql.translate.expressions import ExprCompiler


def _rank(c: ExprCompiler, args: list[exp.Expression], types: list[Ty], node: exp.Expression,
          scope: Scope) -> tuple[exp.Expression, Ty]:
    return fn(node.name.lower(), *args), ty.INT8 if node.name.lower() != "ntile" else ty.INT4


def _pct(c: ExprCompiler, args: list[exp.Expression], types: list[Ty], node: exp.Expression,
         scope: Scope) -> tuple[exp.Expression, Ty]:
    return fn(node.name.lower(), *args), ty.FLOAT8


def _lag(c: ExprCompiler, args: list[exp.Expression], types: list[Ty], node: exp.Expression,
         scope: Scope) -> tuple[exp.Expression, Ty]:
    return fn(node.name.lower(), *args), first_type(types)


HANDLERS: dict[str, Handler] = {
    "row_number": _rank,
    "rank": _rank,
    "dense_rank": _rank,
    "ntile": _rank,
    "percent_rank": _pct,
    "cume_dist": _pct,
    "lag": _lag,
    "lead": _lag,
    "first_value": _lag,
    "last_value": _lag,
    "nth_value": _lag,
}


def register_udfs(conn: Any, ctx: SessionContext) -> None:
    """The SQLite functions of this family, on one connection."""
    return
