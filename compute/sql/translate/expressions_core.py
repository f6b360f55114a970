"""The core of the expression compiler (see expressions.py): PostgreSQL expression -> (SQLite expression, PostgreSQL type).

Every expression is compiled bottom-up. Compiling returns the rewritten sqlglot node (which the
SQLite generator prints) and its PostgreSQL type, so that parent nodes can pick the right
operator implementation (exact numeric UDFs, timestamp arithmetic...), unknown-typed literals
and parameters take their type from context (``col = $1`` makes $1 the column's type), and
result columns carry the right type OIDs.
"""

from __future__ import annotations

import json
import re
from typing import TYPE_CHECKING, Any

from sqlglot import exp

import compute.sql.types as ty
from compute import pgtypes as T
from compute.sql.api import SqlError
from compute.sql.catalog.catalog import FIRST_USER_OID, EnumType
from compute.sql.functions.casts import apply_typmod
from compute.sql.functions.enum import check_label
from compute.sql.translate.dialect import StrataSQLite
from compute.sql.translate.scope import (
    Scope,
    State,
    fn,
    is_string_literal,
    lit_int,
    raw,
    storage_literal,
)
from compute.sql.types import Ty

if TYPE_CHECKING:
    from compute.sql.translate.query import QueryCompiler


# ------------------------------------------------------------------------------ compiler


class ExprCore:
    """The compiler's entry points, coercions, casts and leaves; the operators and calls are in
    expressions_operators.py and expressions_calls.py, and ExprCompiler (expressions.py) is all three."""

    def __init__(self, state: State, query: QueryCompiler) -> None:
        self.state = state
        self.query = query

    # -------------------------------------------------------------- entry points
    def sql(self, node: exp.Expression) -> str:
        return node.sql(dialect=StrataSQLite)

    def compile(self, node: exp.Expression, scope: Scope) -> tuple[exp.Expression, Ty]:
        method = getattr(self, "c_" + type(node).__name__, None)
        if method is None:
            return self.c_generic(node, scope)
        out, t = method(node, scope)
        if node.args.get("negate") and not isinstance(node, exp.Is):
            return exp.Not(this=exp.Paren(this=out)), t
        return out, t

    def typed(self, node: exp.Expression, scope: Scope, target: Ty) -> exp.Expression:
        """Compile ``node`` and coerce it to ``target`` (unknown literals/params take it)."""
        out, t = self.compile(node, scope)
        return self.coerce(out, t, target)

    def condition(self, node: exp.Expression, scope: Scope) -> exp.Expression:
        out, t = self.compile(node, scope)
        if t.oid == T.UNKNOWN:
            return self.coerce(out, t, ty.BOOL)
        if t.oid != T.BOOL:
            raise SqlError("42804", f"argument of WHERE must be type boolean, not type {T.format_type(t.oid)}")
        return out

    # -------------------------------------------------------------- enums
    def enum_input(self, node: exp.Expression, enum: EnumType) -> exp.Expression:
        """Run-time enum_in(): 22P02 unless the text is one of the labels."""
        return fn("pg_enum_in", node, exp.Literal.string(enum.key_json), exp.Literal.string(enum.name),
                  lit_int(enum.oid))

    def enum_param(self, node: exp.Expression, dst: Ty) -> exp.Expression | None:
        """A parameter that takes an enum (array) type is checked when it arrives (None: not one)."""
        if dst.oid < FIRST_USER_OID:
            return None
        enum = self.state.catalog.enum_by_oid(dst.oid)
        if enum is not None:
            return self.enum_input(node, enum)
        enum = self.state.catalog.enum_of_array(dst.oid)
        if enum is not None:
            return fn("pg_enum_array_in", node, exp.Literal.string(enum.key_json),
                      exp.Literal.string(enum.name), lit_int(enum.oid))
        return None

    def sort_key(self, node: exp.Expression, t: Ty) -> exp.Expression:
        """What to compare/sort by: an enum value by its label's sort order, a timetz by its UTC
        time then zone, others as they are."""
        if t.oid == T.TIMETZ:
            return fn("pg_timetz_key", node)
        enum = self.state.catalog.enum_by_oid(t.oid)
        if enum is None:
            return node
        return fn("pg_enum_ord", node, exp.Literal.string(enum.key_json), lit_int(enum.oid))

    def _enum_cast(self, inner: exp.Expression, src: Ty, dst: Ty) -> exp.Expression | None:
        """Casts to and from enum types (None: neither side is an enum)."""
        catalog = self.state.catalog
        src_enum, dst_enum = catalog.enum_by_oid(src.oid), catalog.enum_by_oid(dst.oid)
        if catalog.enum_of_array(dst.oid) is not None and src.oid in ty.STRINGS:
            return self.enum_param(inner, dst)
        if catalog.enum_of_array(src.oid) is not None and dst.oid in ty.STRINGS:
            return fn("pg_cast", inner, lit_int(T.TEXT_ARRAY), lit_int(dst.oid), lit_int(dst.typmod))
        if src_enum is None and dst_enum is None:
            return None
        if dst_enum is not None and src.oid in ty.STRINGS:
            return self.enum_input(inner, dst_enum)
        if src_enum is not None and dst.oid in ty.STRINGS:
            return inner if dst.typmod < 0 else fn("pg_cast", inner, lit_int(T.TEXT), lit_int(dst.oid),
                                                   lit_int(dst.typmod))
        raise SqlError("42846", f"cannot cast type {catalog.format_type(src.oid)} to "
                                f"{catalog.format_type(dst.oid, dst.typmod)}")

    # -------------------------------------------------------------- coercion
    def coerce(self, node: exp.Expression, src: Ty, dst: Ty) -> exp.Expression:
        """Implicit coercion of ``node`` (type ``src``) to ``dst`` for operators/functions."""
        if dst.oid == T.UNKNOWN or src.oid == dst.oid:
            return node
        if src.oid == T.UNKNOWN:
            return self.coerce_unknown(node, dst)
        if (src.oid >= FIRST_USER_OID or dst.oid >= FIRST_USER_OID) and not (src.is_array and dst.is_array):
            # PostgreSQL has no implicit casts between enums and other types (text included)
            fmt = self.state.catalog.format_type
            raise SqlError("42883", f"no implicit conversion from {fmt(src.oid)} to {fmt(dst.oid, dst.typmod)}",
                           hint="No function matches the given name and argument types. You might need to "
                                "add explicit type casts.")
        if src.oid in ty.INTS and dst.oid in ty.FLOATS:
            return node
        if src.oid in ty.INTS and dst.oid == T.NUMERIC:
            return node
        if src.oid == T.NUMERIC and dst.oid in ty.FLOATS:
            return self.to_float(node)
        if src.oid in ty.INTS and dst.oid in ty.INTS:
            return node
        if src.oid in ty.STRINGS and dst.oid in ty.STRINGS:
            if src.oid == T.BPCHAR and dst.oid != T.BPCHAR:  # the implicit bpchar -> text cast rtrims
                return fn("rtrim", node, exp.Literal.string(" "))
            return node
        if src.oid in ty.OIDLIKE and dst.oid in (*ty.OIDLIKE, *ty.INTS):
            return node
        if src.oid in ty.INTS and dst.oid in ty.OIDLIKE:
            return node
        if src.oid == T.DATE and dst.oid == T.TIMESTAMP:
            return fn("pg_cast", node, lit_int(T.DATE), lit_int(T.TIMESTAMP))
        if src.oid in (T.DATE, T.TIMESTAMP) and dst.oid == T.TIMESTAMPTZ:
            return fn("pg_cast", node, lit_int(src.oid), lit_int(T.TIMESTAMPTZ))
        if src.oid == T.TIMESTAMPTZ and dst.oid == T.TIMESTAMP:
            return fn("pg_tstz_to_ts", node)
        if dst.oid in ty.STRINGS:
            return self.to_text(node, src)
        if src.oid in (T.JSON, T.JSONB) and dst.oid in (T.JSON, T.JSONB):
            return node
        return fn("pg_cast", node, lit_int(src.oid), lit_int(dst.oid))

    def to_float(self, node: exp.Expression) -> exp.Expression:
        if is_string_literal(node):
            try:
                return storage_literal(float(node.this))
            except ValueError:
                pass
        return exp.Cast(this=node, to=exp.DataType.build("REAL"))

    def to_text(self, node: exp.Expression, src: Ty) -> exp.Expression:
        if src.oid in (T.DATE, T.TIMESTAMP) and not is_string_literal(node):  # BC / past-9999 storage forms
            if not isinstance(node, exp.Column):
                return fn("pg_cast", node, lit_int(src.oid), lit_int(T.TEXT))
            wide = exp.In(this=fn("substr", node, lit_int(1), lit_int(1)),
                          expressions=[exp.Literal.string(mark) for mark in T.WIDE_MARKS])
            return exp.If(this=wide, true=fn("pg_cast", node, lit_int(src.oid), lit_int(T.TEXT)), false=node)
        if src.oid in ty.STRINGS or src.oid in (T.UNKNOWN, T.NUMERIC, T.DATE, T.TIMESTAMP, T.TIME,
                                                 T.UUID, T.JSON, T.JSONB, T.INTERVAL):
            return node
        if self.state.catalog.enum_by_oid(src.oid) is not None:  # stored as the label
            return node
        if src.oid in ty.INTS:
            return exp.Cast(this=node, to=exp.DataType.build("TEXT"))
        return fn("pg_cast", node, lit_int(src.oid), lit_int(T.TEXT))

    def coerce_unknown(self, node: exp.Expression, dst: Ty) -> exp.Expression:
        """An unknown-typed literal or parameter takes the type ``dst``."""
        inner = node
        while isinstance(inner, exp.Paren):
            inner = inner.this
        if isinstance(inner, exp.Parameter):
            self.state.params.assign(int(inner.name), Ty(dst.oid))
            checked = self.enum_param(node, dst)
            if checked is not None:
                return checked
            if dst.oid == T.BPCHAR and dst.typmod >= 0:
                return fn("pg_typmod", node, lit_int(dst.oid), lit_int(dst.typmod))
            if dst.oid == T.REGCLASS:
                return fn("pg_regclass", node)
            return node
        if isinstance(inner, exp.Null):
            return node
        if is_string_literal(inner):
            return self.fold_literal(inner.this, dst)
        return node

    def fold_literal(self, text: str, dst: Ty, explicit: bool = False) -> exp.Expression:
        """Run the type's input function at translation time; emit the storage value."""
        oid = dst.oid
        if oid >= FIRST_USER_OID:
            enum = self.state.catalog.enum_by_oid(oid)
            if enum is not None:
                return exp.Literal.string(check_label(enum, text))
            enum = self.state.catalog.enum_of_array(oid)
            if enum is not None:
                items = T.parse_array_literal(text)
                for item in items:
                    if item is not None:
                        check_label(enum, item)
                return exp.Literal.string(json.dumps(items, separators=(",", ":"), ensure_ascii=False))
        if oid in (T.TIMESTAMPTZ, T.TIMESTAMP, T.DATE, T.TIME) and text.strip().lower() in (
            "now", "today", "tomorrow", "yesterday", "epoch", "allballs",
        ):
            return self.special_datetime(text.strip().lower(), oid)
        if oid == T.TSTZRANGE and text.strip().lower() != "empty":  # bounds read in the session zone
            return fn("pg_cast", exp.Literal.string(text), lit_int(T.TEXT), lit_int(T.TSTZRANGE))
        if T.order_sensitive(oid, text):  # '01/02/2003': read at run time in the session's DateStyle
            return fn("pg_cast", exp.Literal.string(text), lit_int(T.TEXT), lit_int(oid))
        if oid == T.TIMESTAMPTZ and not _has_offset(text):
            T.parse_timestamptz(text)  # validate now; the zone is the session's at run time
            return fn("pg_cast", exp.Literal.string(text), lit_int(T.TEXT), lit_int(T.TIMESTAMPTZ))
        if oid == T.TIMETZ and not T.timetz_has_zone(text):
            T.parse_timetz(text)  # validate now; the offset is the session zone's at run time
            return fn("pg_cast", exp.Literal.string(text), lit_int(T.TEXT), lit_int(T.TIMETZ))
        if oid == T.REGCLASS:
            name = text.strip()
            if name.isdigit():
                return lit_int(int(name))
            lowered = self.state.catalog.qualify_text(name)  # its key, by the search path (schemas.py)
            table = self.state.catalog.table(lowered)
            if table is not None and table.oid:
                return lit_int(table.oid)
            if lowered in self.state.catalog.sequences:
                return lit_int(self.state.catalog.sequences[lowered].oid)
            return fn("pg_regclass", exp.Literal.string(name))
        if oid == T.REGNAMESPACE and not text.strip().isdigit():  # schemas: translate/schemas.py
            return lit_int(self.state.catalog.namespace_oid_of_text(text))
        if oid == T.REGTYPE:
            key = text.strip().lower()
            found = T.TYPE_NAMES.get(key)
            if found is None:
                user = text.strip().removeprefix("public.")
                user = user[1:-1] if user.startswith('"') and user.endswith('"') else user.lower()
                enum = self.state.catalog.enum(user.removesuffix("[]"))
                if enum is not None:
                    found = enum.array_oid if user.endswith("[]") else enum.oid
            if found is None:
                raise SqlError("42704", f'type "{text}" does not exist')
            return lit_int(found)
        value = T.decode_text(oid, text.encode())
        if dst.typmod >= 0:
            value = apply_typmod(value, oid, dst.typmod, explicit=explicit)
        return storage_literal(value)

    def special_datetime(self, word: str, oid: int) -> exp.Expression:
        if word == "epoch":
            value = {T.TIMESTAMPTZ: "1970-01-01 00:00:00+00", T.TIMESTAMP: "1970-01-01 00:00:00",
                     T.DATE: "1970-01-01"}.get(oid, "00:00:00")
            return exp.Literal.string(value)
        if word == "allballs":
            return exp.Literal.string("00:00:00")
        base = fn("pg_now")
        if word == "now":
            return base if oid == T.TIMESTAMPTZ else fn("pg_cast", base, lit_int(T.TIMESTAMPTZ), lit_int(oid))
        day = fn("pg_current_date")
        if word != "today":
            day = fn("pg_date_add", day, lit_int(1 if word == "tomorrow" else -1))
        if oid == T.DATE:
            return day
        return fn("pg_cast", day, lit_int(T.DATE), lit_int(oid))

    def json_arg(self, node: exp.Expression, t: Ty) -> exp.Expression:
        if t.oid in (T.JSON, T.JSONB):
            return fn("json", node)
        if t.oid == T.BOOL:
            return raw(f"(CASE WHEN ({self.sql(node)}) IS NULL THEN NULL WHEN ({self.sql(node)}) "
                       f"THEN json('true') ELSE json('false') END)")
        if t.oid in (*ty.INTS, *ty.FLOATS):
            return node
        if t.oid == T.NUMERIC:
            return fn("json", node)
        if t.is_array:
            return fn("json", node)
        if t.oid == T.UNKNOWN or t.oid in (T.INET, T.CIDR, *T.RANGE_TYPES):  # array elements keep their keys
            return node
        if t.oid == T.TIMESTAMPTZ:  # stored as ISO text, whatever the session's DateStyle
            return fn("pg_tstz_out", node)
        return self.to_text(node, t)

    # -------------------------------------------------------------- leaves
    def c_Column(self, node: exp.Column, scope: Scope) -> tuple[exp.Expression, Ty]:
        if isinstance(node.this, exp.Star):
            raise SqlError("42601", "row expansion via \"*\" is not supported here")
        name = node.name
        table = node.table
        found = self.query.resolve_column(name, table, scope)
        if found is None:
            if not table and name in ("user", "current_role", "current_user", "session_user"):
                return fn("pg_session_user"), ty.NAME
            if table:
                raise SqlError("42703", f"column {table}.{name} does not exist")
            whole_row = self._whole_row(name, scope)
            if whole_row is not None:
                return whole_row
            raise SqlError("42703", f'column "{name}" does not exist')
        return found

    def _whole_row(self, alias: str, scope: Scope) -> tuple[exp.Expression, Ty] | None:
        """`t` naming a FROM item is its whole row: a record (JSON object of its columns)."""
        current: Scope | None = scope
        while current is not None:
            for src in current.sources:
                if src.alias == alias:
                    pairs: list[exp.Expression] = []
                    for col in src.columns:
                        ref, t = self.query._ref(src, col)
                        pairs += [exp.Literal.string(col.name), self.json_arg(ref, t)]
                    return fn("json_object", *pairs), Ty(T.RECORD)
            current = current.parent
        return None

    def c_Literal(self, node: exp.Literal, scope: Scope) -> tuple[exp.Expression, Ty]:
        if node.is_string:
            return exp.Literal.string(node.this), ty.UNKNOWN
        text = node.this
        if all(ch.isdigit() for ch in text):
            value = int(text)
            if value < 2**31:
                return exp.Literal.number(value), ty.INT4
            if value < 2**63:
                return exp.Literal.number(value), ty.INT8
            return exp.Literal.string(T.parse_numeric(text)), ty.NUMERIC
        return exp.Literal.string(T.parse_numeric(text)), ty.NUMERIC

    def c_ByteString(self, node: exp.Expression, scope: Scope) -> tuple[exp.Expression, Ty]:
        return exp.Literal.string(node.this), ty.UNKNOWN

    c_RawString = c_ByteString
    c_National = c_ByteString
    c_HexString = c_ByteString

    def c_Boolean(self, node: exp.Boolean, scope: Scope) -> tuple[exp.Expression, Ty]:
        return exp.Literal.number(1 if node.this else 0), ty.BOOL

    def c_Null(self, node: exp.Null, scope: Scope) -> tuple[exp.Expression, Ty]:
        return exp.Null(), ty.UNKNOWN

    def c_Parameter(self, node: exp.Parameter, scope: Scope) -> tuple[exp.Expression, Ty]:
        try:
            n = int(node.name)
        except ValueError:
            raise SqlError("42601", f'syntax error at or near "${node.name}"') from None
        if n < 1 or n > 65535:
            raise SqlError("42P02", f"there is no parameter ${n}")
        param: exp.Expression = exp.Parameter(this=exp.Literal.number(n))
        t = self.state.params.note(n)
        if t.oid >= FIRST_USER_OID:  # declared as an enum (array) by the client: check the value
            param = self.enum_param(param, t) or param
        return param, t

    def c_Placeholder(self, node: exp.Expression, scope: Scope) -> tuple[exp.Expression, Ty]:
        raise SqlError("42601", 'syntax error at or near "?"')

    def c_Paren(self, node: exp.Paren, scope: Scope) -> tuple[exp.Expression, Ty]:
        inner, t = self.compile(node.this, scope)
        return exp.Paren(this=inner), t

    def c_Interval(self, node: exp.Interval, scope: Scope) -> tuple[exp.Expression, Ty]:
        value = node.this
        text = value.this if isinstance(value, exp.Literal) else value.sql()
        unit = node.args.get("unit")
        if unit is not None:
            text = f"{text} {unit.name}"
        return exp.Literal.string(T.parse_interval(text)), ty.INTERVAL

    def c_Star(self, node: exp.Star, scope: Scope) -> tuple[exp.Expression, Ty]:
        return exp.Star(), ty.UNKNOWN

    # -------------------------------------------------------------- casts
    def c_Cast(self, node: exp.Cast, scope: Scope) -> tuple[exp.Expression, Ty]:
        target = ty.resolve_type(node.args["to"], self.state.catalog)
        inner, src = self.compile(node.this, scope)
        return self.cast(inner, src, target), target

    c_TryCast = c_Cast

    def cast(self, inner: exp.Expression, src: Ty, dst: Ty) -> exp.Expression:
        """Explicit cast semantics (``x::type``)."""
        bare = inner
        while isinstance(bare, exp.Paren):
            bare = bare.this
        if src.oid == T.UNKNOWN:
            if is_string_literal(bare):
                return self.fold_literal(bare.this, dst, explicit=True)
            if isinstance(bare, exp.Parameter):
                self.state.params.assign(int(bare.name), Ty(dst.oid))
                checked = self.enum_param(inner, dst)
                if checked is not None:
                    return checked
                if dst.oid == T.REGCLASS:
                    return fn("pg_regclass", inner)
                if dst.typmod >= 0 and (dst.oid in (T.BPCHAR, T.VARCHAR, T.NUMERIC, T.BIT, T.VARBIT)
                                        or ty.array_typmod(dst)):
                    return fn("pg_cast", inner, lit_int(dst.oid), lit_int(dst.oid), lit_int(dst.typmod))
                return inner
            if isinstance(bare, exp.Null):
                return inner
            src = ty.TEXT
        if src.oid != dst.oid and (src.oid >= FIRST_USER_OID or dst.oid >= FIRST_USER_OID):
            enum_cast = self._enum_cast(inner, src, dst)
            if enum_cast is not None:
                return enum_cast
        if src.oid == dst.oid:
            if dst.typmod >= 0 and dst.typmod != src.typmod and (
                    dst.oid in (T.BPCHAR, T.VARCHAR, T.NUMERIC, T.BIT, T.VARBIT) or ty.array_typmod(dst)):
                return fn("pg_cast", inner, lit_int(src.oid), lit_int(dst.oid), lit_int(dst.typmod))
            return inner
        if (src.is_array and dst.is_array and src.element.oid in ty.INTS and dst.element.oid in ty.INTS
                and ty.INT_RANK[src.element.oid] <= ty.INT_RANK[dst.element.oid]):
            return inner  # a widening integer array cast changes no stored value
        if dst.oid == T.REGCLASS and src.oid in ty.STRINGS:
            return fn("pg_regclass", inner)
        if src.oid in ty.OIDLIKE and dst.oid in ty.STRINGS:
            if src.oid == T.REGCLASS:
                return fn("pg_regclass_out", inner)
            if src.oid == T.REGTYPE:
                return fn("pg_regtype_out", inner)
            if src.oid == T.REGNAMESPACE:
                return fn("pg_regnamespace_out", inner)
            return exp.Cast(this=inner, to=exp.DataType.build("TEXT"))
        if src.oid in (*ty.INTS, *ty.OIDLIKE) and dst.oid in (*ty.OIDLIKE, T.INT8):
            return inner
        if src.oid in ty.INTS and dst.oid in ty.INTS:
            if ty.INT_RANK[src.oid] <= ty.INT_RANK[dst.oid]:
                return inner
            return fn("pg_check_int", inner, lit_int(dst.oid))
        if src.oid in ty.INTS and dst.oid == T.FLOAT8:
            return exp.Cast(this=inner, to=exp.DataType.build("REAL"))
        if src.oid in ty.INTS and dst.oid == T.NUMERIC and dst.typmod < 0:
            return exp.Cast(this=inner, to=exp.DataType.build("TEXT"))
        if src.oid == T.FLOAT4 and dst.oid == T.FLOAT8:
            return inner
        if src.oid in ty.STRINGS and dst.oid in ty.STRINGS and dst.typmod < 0:
            if src.oid == T.BPCHAR:
                return fn("rtrim", inner, exp.Literal.string(" "))
            return inner
        if src.oid in ty.INTS and dst.oid in ty.STRINGS and dst.typmod < 0:
            return exp.Cast(this=inner, to=exp.DataType.build("TEXT"))
        if src.oid == T.TIMESTAMPTZ and dst.oid == T.TIMESTAMP:
            return fn("pg_tstz_to_ts", inner)
        if src.oid == T.TIMESTAMP and dst.oid == T.TIMESTAMPTZ:
            return fn("pg_ts_to_tstz", inner)
        if src.oid in (T.JSON, T.JSONB) and dst.oid in (T.JSON, T.JSONB) and dst.oid == T.JSON:
            return inner
        return fn("pg_cast", inner, lit_int(src.oid), lit_int(dst.oid), lit_int(dst.typmod))

    def c_generic(self, node: exp.Expression, scope: Scope) -> tuple[exp.Expression, Ty]:
        raise SqlError("0A000", f"{type(node).__name__} expressions are not supported ({node.sql(dialect='postgres')[:60]})")


_ONE_ROW_AGGREGATES = {"count", "sum", "avg", "min", "max", "bool_and", "bool_or", "every", "string_agg",
                       "array_agg", "json_agg", "jsonb_agg", "json_object_agg", "jsonb_object_agg"}


def _at_most_one_row(node: exp.Expression) -> bool:
    """A scalar subquery that cannot return two rows (no FROM, LIMIT 1, or a plain aggregate)."""
    if not isinstance(node, exp.Select):
        return False
    limit = node.args.get("limit")
    if isinstance(limit, exp.Limit) and _int_literal(limit.expression) in (0, 1):
        return True
    if node.args.get("from") is None and node.args.get("from_") is None and not node.args.get("joins"):
        return not node.args.get("where")
    if node.args.get("group") or len(node.expressions) != 1:
        return False
    item = node.expressions[0]
    item = item.this if isinstance(item, exp.Alias) else item
    if isinstance(item, exp.Window):
        return False
    if isinstance(item, exp.AggFunc):
        return True
    return isinstance(item, exp.Anonymous) and item.name.lower() in _ONE_ROW_AGGREGATES


def _int_literal(node: exp.Expression) -> int | None:
    """The value of an integer literal (possibly negative/parenthesised), else None."""
    while isinstance(node, exp.Paren):
        node = node.this
    if isinstance(node, exp.Literal) and not node.is_string:
        try:
            return int(node.this)
        except ValueError:
            return None
    if isinstance(node, exp.Neg):
        inner = _int_literal(node.this)
        return None if inner is None else -inner
    return None


def _fold_int(op: str, left: exp.Expression, right: exp.Expression, oid: int) -> exp.Expression | None:
    """Constant-fold integer arithmetic on literals, raising PostgreSQL's errors like its planner."""
    a, b = _int_literal(left), _int_literal(right)
    if a is None or b is None:
        return None
    if op in ("/", "%") and b == 0:
        raise SqlError("22012", "division by zero")
    if op == "+":
        value = a + b
    elif op == "-":
        value = a - b
    elif op == "*":
        value = a * b
    elif op == "/":
        value = abs(a) // abs(b) * (1 if (a >= 0) == (b >= 0) else -1)
    elif op == "%":
        value = abs(a) % abs(b) * (1 if a >= 0 else -1)
    else:
        return None
    return lit_int(T.check_int_range(oid, value))


def _binary(op: str, left: exp.Expression, right: exp.Expression) -> exp.Expression:
    if op == "/":
        # sqlglot's Div means true division (it would add CAST AS REAL); we want SQLite's operator.
        return raw(f"({left.sql(dialect=StrataSQLite)} / {right.sql(dialect=StrataSQLite)})")
    cls: Any = {"+": exp.Add, "-": exp.Sub, "*": exp.Mul, "/": exp.Div, "%": exp.Mod}[op]
    return cls(this=left, expression=right)


def _is_plain_column(node: exp.Expression) -> bool:
    return isinstance(node, exp.Column)


def _has_offset(text: str) -> bool:
    body = text.strip()
    if body.lower() in ("infinity", "-infinity"):
        return True
    return bool(re.search(r"(Z|UTC|GMT|[+-]\d{1,2}(:?\d{2})?)\s*$", body[10:] if len(body) > 10 else "", re.I))


def _looks_like_interval(text: str) -> bool:
    try:
        T.interval_parts(text)
        return True
    except SqlError:
        return False


def _like_to_glob(pattern: str) -> str | None:
    """A LIKE pattern (default escape) as an equivalent case-sensitive GLOB, if one exists."""
    out = []
    i = 0
    while i < len(pattern):
        ch = pattern[i]
        if ch == "\\":
            if i + 1 >= len(pattern):
                return None
            nxt = pattern[i + 1]
            out.append(f"[{nxt}]" if nxt in "*?[" else nxt)
            i += 2
            continue
        if ch == "%":
            out.append("*")
        elif ch == "_":
            out.append("?")
        elif ch in "*?[":
            out.append(f"[{ch}]")
        elif ch == "]":
            out.append("]")
        else:
            out.append(ch)
        i += 1
    return "".join(out)


