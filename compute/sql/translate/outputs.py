"""What a Translation reports besides its SQL: the row description of its result columns and the
statement-level facts the session needs (shared by the statement dispatch and COPY)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TypedDict

from sqlglot import exp

import compute.sql.types as ty
from compute import pgtypes as T
from compute.sql.api import ColumnDesc, SqlError
from compute.sql.catalog.catalog import Catalog
from compute.sql.translate.dialect import StrataSQLite
from compute.sql.translate.scope import State
from compute.sql.types import Ty


def generate(node: exp.Expression) -> str:
    return node.sql(dialect=StrataSQLite)


@dataclass
class OutColumn:
    name: str
    ty: Ty
    table_oid: int = 0
    attnum: int = 0


_FIGURE_NAMES: dict[type, str] = {
    exp.CurrentTimestamp: "current_timestamp",
    exp.CurrentDate: "current_date",
    exp.CurrentTime: "current_time",
    exp.CurrentUser: "current_user",
    exp.SessionUser: "session_user",
    exp.CurrentSchema: "current_schema",
    exp.AtTimeZone: "timezone",
    exp.Overlaps: "overlaps",
    exp.Case: "case",
    exp.Exists: "exists",
    exp.Array: "array",
    exp.Localtimestamp: "localtimestamp",
    exp.Extract: "extract",
    exp.Substring: "substring",
    exp.Trim: "btrim",
    exp.StrPosition: "position",
    exp.GroupConcat: "string_agg",
    exp.Interval: "interval",
    exp.Overlay: "overlay",
    exp.Coalesce: "coalesce",
    exp.Greatest: "greatest",
    exp.Least: "least",
    exp.Nullif: "nullif",
    exp.Tuple: "row",
    exp.ArrayAgg: "array_agg",
    exp.Count: "count",
}


def figure_colname(node: exp.Expression) -> str:
    """PostgreSQL's FigureColname(): the default name of an unaliased result column."""
    return _figure(node)[0]


def _cast_type_name(to: exp.Expression) -> str:
    try:
        target = ty.resolve_type(to)
    except SqlError:  # a user-defined (enum) type: PostgreSQL names the column after it
        inner = to
        while isinstance(inner, exp.DataType) and inner.this == exp.DataType.Type.ARRAY and inner.expressions:
            inner = inner.expressions[0]
        kind = inner.args.get("kind")
        if isinstance(kind, exp.Dot):
            kind = kind.expression
        return kind.name if isinstance(kind, exp.Identifier) else "?column?"
    oid = target.element.oid if target.is_array and target.oid not in T.VECTORS else target.oid
    info = T.TYPES.get(oid)
    if info is not None:
        return info.name
    if isinstance(to, exp.DataType) and isinstance(to.this, exp.DataType.Type):
        return "?column?"
    name = to.name if isinstance(to, exp.DataType) else to.sql()
    return name.lower() or "?column?"


def _figure(node: exp.Expression) -> tuple[str, int]:
    """(name, strength) as FigureColnameInternal: 2 = column/function name, 1 = cast type name."""
    while isinstance(node, exp.Paren):
        node = node.this
    if isinstance(node, exp.Column) and not isinstance(node.this, exp.Star):
        return node.name, 2
    if isinstance(node, exp.Anonymous):
        return node.name.lower(), 2
    if isinstance(node, (exp.Window, exp.Filter, exp.WithinGroup)):
        return _figure(node.this)
    if isinstance(node, exp.Dot) and isinstance(node.expression, exp.Anonymous):
        return node.expression.name.lower(), 2
    if isinstance(node, exp.Bracket):
        return _figure(node.this)
    if isinstance(node, exp.Cast):
        inner, strength = _figure(node.this)
        if strength > 1:
            return inner, strength
        return _cast_type_name(node.args["to"]), 1
    if isinstance(node, exp.Trim):
        position = str(node.args.get("position") or "").upper()
        return {"LEADING": "ltrim", "TRAILING": "rtrim"}.get(position, "btrim"), 2
    if isinstance(node, exp.Subquery):
        inner = node.this
        if isinstance(inner, exp.Select) and inner.expressions:
            first = inner.expressions[0]
            if isinstance(first, exp.Alias):
                return first.alias, 2
            return _figure(first)
        return "?column?", 0
    if isinstance(node, exp.Interval):  # interval '1 day' is a cast: a later cast renames it
        return "interval", 1
    for cls, name in _FIGURE_NAMES.items():
        if isinstance(node, cls):
            return name, 2
    return "?column?", 0


def column_descs(cols: list[OutColumn], catalog: Catalog | None = None) -> tuple[ColumnDesc, ...]:
    def elem(oid: int) -> int:
        enum = catalog.enum_of_array(oid) if catalog is not None else None
        return enum.oid if enum is not None else 0

    return tuple(ColumnDesc(c.name, c.ty.oid if c.ty.oid != T.UNKNOWN else T.TEXT, c.ty.typmod, c.table_oid,
                            c.attnum, elem(c.ty.oid)) for c in cols)


class StateFields(TypedDict):
    write_command: str | None
    off_loop: bool


def state_fields(state: State) -> StateFields:
    """What the session needs to know beyond the SQL: how PostgreSQL names a write in a 25006
    refusal, and whether the statement calls the node (then it never runs on the event loop)."""
    return {"write_command": state.write_command or None, "off_loop": bool(state.off_loop)}
