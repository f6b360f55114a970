"""Aggregates: count/sum/avg/min/max, bool_and/or, array_agg, string_agg, statistics (stddev,
variance) and ordered-set aggregates, with their SQLite aggregate classes."""

from __future__ import annotations

import math
from collections.abc import Callable
from decimal import ROUND_HALF_UP, Decimal, localcontext
from typing import TYPE_CHECKING, Any

from sqlglot import exp

import compute.sql.types as ty
from compute import pgtypes as T
from compute.sql.api import SqlError
from compute.sql.functions.common import first_type
from compute.sql.functions.numeric import div_scale, num_out, numeric_div
from compute.sql.functions.session import SessionContext
from compute.sql.translate.scope import Handler, Scope, fn, lit_int
from compute.sql.types import Ty

if TYPE_CHECKING:
    from compute.sql.translate.expressions import ExprCompiler


def _count(c: ExprCompiler, args: list[exp.Expression], types: list[Ty], node: exp.Expression,
           scope: Scope) -> tuple[exp.Expression, Ty]:
    return fn("count", *args), ty.INT8


def _sum(c: ExprCompiler, args: list[exp.Expression], types: list[Ty], node: exp.Expression,
         scope: Scope) -> tuple[exp.Expression, Ty]:
    t = types[0] if types else ty.INT4
    if t.oid in (T.INT2, T.INT4):
        return fn("sum", *args), ty.INT8
    if t.oid in (T.INT8, T.NUMERIC):
        return fn("pg_num_sum", *args), ty.NUMERIC
    if t.oid in ty.FLOATS:
        return fn("sum", *args), Ty(t.oid)
    if t.oid == T.INTERVAL:
        return fn("pg_interval_sum", *args), ty.INTERVAL
    if t.oid == T.UNKNOWN:
        raise SqlError("42725", "function sum(unknown) is not unique")
    raise SqlError("42883", f"function sum({T.format_type(t.oid)}) does not exist")


def _avg(c: ExprCompiler, args: list[exp.Expression], types: list[Ty], node: exp.Expression,
         scope: Scope) -> tuple[exp.Expression, Ty]:
    t = types[0] if types else ty.INT4
    if t.oid in ty.FLOATS:
        return fn("avg", *args), ty.FLOAT8
    if t.oid in (*ty.INTS, T.NUMERIC):
        return fn("pg_avg", *args), ty.NUMERIC
    if t.oid == T.INTERVAL:
        return fn("pg_interval_avg", *args), ty.INTERVAL
    raise SqlError("42883", f"function avg({T.format_type(t.oid)}) does not exist")


def _minmax(c: ExprCompiler, args: list[exp.Expression], types: list[Ty], node: exp.Expression,
            scope: Scope) -> tuple[exp.Expression, Ty]:
    name = node.name.lower() if isinstance(node, exp.Anonymous) else "min"
    enum = c.state.catalog.enum_by_oid(types[0].oid) if types else None
    if enum is not None and len(args) == 1:  # by the labels' order, not alphabetically
        key, oid = exp.Literal.string(enum.key_json), lit_int(enum.oid)
        return fn("pg_enum_label", fn(name, fn("pg_enum_ord", args[0], key, oid)), key, oid), types[0]
    return fn(name, *args), first_type(types)


def _bool_and(c: ExprCompiler, args: list[exp.Expression], types: list[Ty], node: exp.Expression,
              scope: Scope) -> tuple[exp.Expression, Ty]:
    return fn("min", *args), ty.BOOL


def _bool_or(c: ExprCompiler, args: list[exp.Expression], types: list[Ty], node: exp.Expression,
             scope: Scope) -> tuple[exp.Expression, Ty]:
    return fn("max", *args), ty.BOOL


def _array_agg(c: ExprCompiler, args: list[exp.Expression], types: list[Ty], node: exp.Expression,
               scope: Scope) -> tuple[exp.Expression, Ty]:
    elem = first_type(types)
    if elem.is_array and elem.element.oid not in (T.JSON, T.JSONB):  # one more dimension (checked)
        return fn("pg_array_agg_nd", *args), elem
    if elem.is_array:
        raise SqlError("0A000", "multidimensional arrays of json are not supported")
    arr = ty.array_of(elem.oid)
    if elem.oid in (T.JSON, T.JSONB, T.BYTEA) and args:  # stored as ARRAY[...] stores elements
        args = [c.json_arg(args[0], elem), *args[1:]]
    return fn("json_group_array", *args), Ty(arr)


def _string_agg(c: ExprCompiler, args: list[exp.Expression], types: list[Ty], node: exp.Expression,
                scope: Scope) -> tuple[exp.Expression, Ty]:
    return fn("string_agg", *args), ty.TEXT


def _h_stats(c: ExprCompiler, args: list[exp.Expression], types: list[Ty], node: exp.Expression,
             scope: Scope) -> tuple[exp.Expression, Ty]:
    name = node.name.lower()
    kind = {"stddev": "stddev_samp", "variance": "var_samp"}.get(name, name)
    t = types[0] if types else ty.UNKNOWN
    if len(args) != 1:
        raise SqlError("42883", f"function {name} does not exist")
    if t.oid in ty.FLOATS:
        return fn(f"pg_f_{kind}", args[0]), ty.FLOAT8
    if t.oid in (*ty.INTS, T.NUMERIC):
        return fn(f"pg_n_{kind}", args[0]), ty.NUMERIC
    if t.oid == T.UNKNOWN:
        raise SqlError("42725", f"function {name}(unknown) is not unique")
    raise SqlError("42883", f"function {name}({T.format_type(t.oid)}) does not exist",
                   hint="No function matches the given name and argument types. You might need to add "
                        "explicit type casts.")


class _FloatStats:
    """PostgreSQL's float8 Youngs-Cramer accumulation (float.c float8_accum)."""

    def __init__(self, kind: str) -> None:
        self.kind = kind
        self.n = 0.0
        self.sx = 0.0
        self.sxx = 0.0

    def step(self, value: Any) -> None:
        if value is None:
            return
        x = float(value)
        old_n = self.n
        self.n += 1.0
        self.sx += x
        if old_n > 0.0:
            tmp = x * self.n - self.sx
            self.sxx += tmp * tmp / (self.n * old_n)
        else:
            self.sxx = x * 0.0

    def final(self) -> float | None:
        sample = self.kind.endswith("samp")
        if self.n == 0.0 or (sample and self.n <= 1.0):
            return None
        var = self.sxx / (self.n - 1.0 if sample else self.n)
        return math.sqrt(var) if self.kind.startswith("stddev") else var


class _NumericStats:
    """numeric.c numeric_stddev_internal(): exact sums, result scale from select_div_scale."""

    def __init__(self, kind: str) -> None:
        self.kind = kind
        self.n = 0
        self.sx = Decimal(0)
        self.sxx = Decimal(0)
        self.scale = 0

    def step(self, value: Any) -> None:
        if value is None:
            return
        x = T.to_decimal(value)
        with localcontext() as ctx:
            ctx.prec = 2000
            self.n += 1
            self.sx += x
            self.sxx += x * x
        exp_ = x.as_tuple().exponent
        self.scale = max(self.scale, -exp_ if isinstance(exp_, int) and exp_ < 0 else 0)

    def final(self) -> str | None:
        sample = self.kind.endswith("samp")
        if self.n == 0 or (sample and self.n <= 1):
            return None
        with localcontext() as ctx:
            ctx.prec = 2000
            n = Decimal(self.n)
            numerator = n * self.sxx - self.sx * self.sx
            if numerator <= 0:
                return "0"
            denominator = n * (n - 1) if sample else n * n
            rscale = max(div_scale(numerator, denominator), self.scale * 2)
            quantum = Decimal(1).scaleb(-rscale)
            var = (numerator / denominator).quantize(quantum, rounding=ROUND_HALF_UP)
            if self.kind.startswith("stddev"):
                var = var.sqrt().quantize(quantum, rounding=ROUND_HALF_UP)
            return T.numeric_to_str(var)


class _IntervalAgg:
    """sum(interval) / avg(interval): exact month, day and microsecond totals; avg divides like
    timestamp.c's interval_div (fractional months become days of 30, fractional days seconds)."""

    def __init__(self, kind: str) -> None:
        self.avg = kind == "avg"
        self.months = self.days = self.micros = self.count = 0

    def step(self, value: Any) -> None:
        if value is None:
            return
        months, days, micros = T.interval_parts(str(value))
        self.months += months
        self.days += days
        self.micros += micros
        self.count += 1

    def final(self) -> str | None:
        if self.count == 0:
            return None
        if not self.avg:
            return T.format_interval(self.months, self.days, self.micros)
        factor = float(self.count)

        def tsround(x: float) -> float:
            return round(x * 1e6) / 1e6

        months = int(self.months / factor)
        days = int(self.days / factor)
        month_remainder_days = tsround((self.months / factor - months) * 30)
        sec_remainder = tsround((self.days / factor - days + month_remainder_days
                                 - int(month_remainder_days)) * 86400)
        if abs(sec_remainder) >= 86400:
            days += int(sec_remainder / 86400)
            sec_remainder -= int(sec_remainder / 86400) * 86400
        days += int(month_remainder_days)
        micros = round(self.micros / factor + sec_remainder * 1e6)
        return T.format_interval(months, days, micros)


class _OrderedSet:
    """percentile_cont / percentile_disc / mode() WITHIN GROUP (orderedsetaggs.c)."""

    def __init__(self, _kind: str) -> None:
        self.values: list[Any] = []
        self.fraction: float | None = None
        self.desc = False
        self.numeric = False
        self.kind = ""

    def step(self, value: Any, fraction: Any, desc: Any, numeric: Any, kind: Any) -> None:
        self.kind, self.desc, self.numeric = str(kind), bool(desc), bool(numeric)
        if fraction is not None:
            self.fraction = float(fraction)
        if value is not None:
            self.values.append(value)

    def final(self) -> Any:
        if self.kind != "mode" and self.fraction is not None and not 0.0 <= self.fraction <= 1.0:
            raise SqlError("22003", f"percentile value {T.format_float(self.fraction)} is not between 0 and 1")
        if not self.values or (self.kind != "mode" and self.fraction is None):
            return None
        key = (lambda v: T.to_decimal(v)) if self.numeric else (lambda v: v)
        ordered = sorted(self.values, key=key, reverse=self.desc)
        if self.kind == "mode":
            best, best_count, i = ordered[0], 0, 0
            while i < len(ordered):
                j = i
                while j < len(ordered) and key(ordered[j]) == key(ordered[i]):
                    j += 1
                if j - i > best_count:
                    best, best_count = ordered[i], j - i
                i = j
            return best
        assert self.fraction is not None
        if self.kind == "percentile_disc":
            row = max(math.ceil(self.fraction * len(ordered)), 1)
            return ordered[row - 1]
        position = self.fraction * (len(ordered) - 1)
        first, second = math.floor(position), math.ceil(position)
        low, high = float(ordered[first]), float(ordered[second])
        return low if first == second else low + (position - first) * (high - low)


class _JsonAgg:
    """json_agg/jsonb_agg: PostgreSQL's layout (``[1, 2]``; jsonb normalised), NULL for no rows."""

    def __init__(self, kind: str) -> None:
        self.jsonb = kind == "jsonb"
        self.items: list[str] = []

    def step(self, value: Any) -> None:
        self.items.append("null" if value is None else str(value))

    def final(self) -> str | None:
        if not self.items:
            return None
        text = "[" + ", ".join(self.items) + "]"
        return T.parse_jsonb(text) if self.jsonb else text


def _factory(cls: type, kind: str) -> Any:
    def factory() -> tuple[Any, Any, Any]:
        obj = cls(kind)
        return obj, lambda _ctx, *a: obj.step(*a), lambda _ctx: obj.final()

    return factory


class _ScalarSubquery:
    def __init__(self) -> None:
        self.rows = 0
        self.value: Any = None

    def step(self, value: Any) -> None:
        self.rows += 1
        if self.rows > 1:
            raise SqlError("21000", "more than one row returned by a subquery used as an expression")
        self.value = value

    def final(self) -> Any:
        return self.value


def _scalar_factory() -> tuple[Any, Any, Any]:
    obj = _ScalarSubquery()
    return obj, lambda _ctx, v: obj.step(v), lambda _ctx: obj.final()


class _NumericSum:
    """sum() over numeric/int8 values, exact (also a window function: value/inverse)."""

    def __init__(self) -> None:
        self.total = Decimal(0)
        self.count = 0

    def step(self, value: Any) -> None:
        if value is None:
            return
        with localcontext() as ctx:
            ctx.prec = 1000
            self.total += T.to_decimal(value)
        self.count += 1

    def inverse(self, value: Any) -> None:
        if value is None:
            return
        with localcontext() as ctx:
            ctx.prec = 1000
            self.total -= T.to_decimal(value)
        self.count -= 1

    def final(self) -> str | None:
        return None if not self.count else num_out(self.total)

    value = final


class _NumericAvg(_NumericSum):
    """avg() of integers and numerics: numeric with PostgreSQL's division scale."""

    def final(self) -> str | None:
        if not self.count:
            return None
        return num_out(numeric_div(self.total, Decimal(self.count)))

    value = final


class _IntSum:
    """sum(int2/int4): int8 result, error on int8 overflow like PostgreSQL."""

    def __init__(self) -> None:
        self.total = 0
        self.count = 0

    def step(self, value: Any) -> None:
        if value is None:
            return
        self.total += int(value)
        self.count += 1

    def inverse(self, value: Any) -> None:
        if value is None:
            return
        self.total -= int(value)
        self.count -= 1

    def final(self) -> int | None:
        if not self.count:
            return None
        if not -(2**63) <= self.total < 2**63:
            raise SqlError("22003", "bigint out of range")
        return self.total

    value = final


def _window_factory(cls: type) -> Callable[[], Any]:
    """apsw window-function factory: an object with step/inverse/value/final taking SQL args."""

    def factory() -> Any:
        return cls()

    return factory


HANDLERS: dict[str, Handler] = {
    "stddev": _h_stats,
    "stddev_samp": _h_stats,
    "stddev_pop": _h_stats,
    "variance": _h_stats,
    "var_samp": _h_stats,
    "var_pop": _h_stats,
    "count": _count,
    "sum": _sum,
    "avg": _avg,
    "min": _minmax,
    "max": _minmax,
    "bool_and": _bool_and,
    "every": _bool_and,
    "bool_or": _bool_or,
    "array_agg": _array_agg,
    "string_agg": _string_agg,
}


def register_udfs(conn: Any, ctx: SessionContext) -> None:
    """The SQLite functions of this family, on one connection."""
    # window functions double as ordinary aggregates, so sum()/avg() OVER (...) work too
    conn.create_window_function("pg_num_sum", _window_factory(_NumericSum), 1)
    conn.create_window_function("pg_int_sum", _window_factory(_IntSum), 1)
    conn.create_window_function("pg_avg", _window_factory(_NumericAvg), 1)
    conn.create_aggregate_function("pg_scalar_subquery", _scalar_factory, 1)
    conn.create_aggregate_function("pg_json_agg", _factory(_JsonAgg, "json"), 1)
    conn.create_aggregate_function("pg_ordered_set", _factory(_OrderedSet, ""), 5)
    conn.create_aggregate_function("pg_interval_sum", _factory(_IntervalAgg, "sum"), 1)
    conn.create_aggregate_function("pg_interval_avg", _factory(_IntervalAgg, "avg"), 1)
    conn.create_aggregate_function("pg_jsonb_agg", _factory(_JsonAgg, "jsonb"), 1)
    for kind in ("stddev_samp", "stddev_pop", "var_samp", "var_pop"):
        conn.create_aggregate_function(f"pg_f_{kind}", _factory(_FloatStats, kind), 1)
        conn.create_aggregate_function(f"pg_n_{kind}", _factory(_NumericStats, kind), 1)
