"""More PostgreSQL built-in functions (issue 3): statistics aggregates, encode/decode, format(),
regexp_match, to_date/to_timestamp with a format, array_remove/replace/prepend.

Translation handlers are added to ``expressions.FUNCTIONS`` when this module is imported (at the
end of expressions.py); ``register_udfs`` registers the SQLite UDFs (called by
``functions.register_functions``).
"""

from __future__ import annotations

import base64
import binascii
import datetime as _dt
import itertools
import json
import math
import re
from decimal import ROUND_HALF_UP, Decimal, localcontext
from typing import Any

from sqlglot import exp

from compute import pgtypes as T
from compute.sql import expressions as E
from compute.sql import types as ty
from compute.sql.api import SqlError
from compute.sql.types import Ty

# ------------------------------------------------------------------------------ translation


def _h_stats(c: E.ExprCompiler, args: list[exp.Expression], types: list[Ty], node: exp.Expression,
             scope: E.Scope) -> tuple[exp.Expression, Ty]:
    name = node.name.lower()
    kind = {"stddev": "stddev_samp", "variance": "var_samp"}.get(name, name)
    t = types[0] if types else ty.UNKNOWN
    if len(args) != 1:
        raise SqlError("42883", f"function {name} does not exist")
    if t.oid in ty.FLOATS:
        return E.fn(f"pg_f_{kind}", args[0]), ty.FLOAT8
    if t.oid in (*ty.INTS, T.NUMERIC):
        return E.fn(f"pg_n_{kind}", args[0]), ty.NUMERIC
    if t.oid == T.UNKNOWN:
        raise SqlError("42725", f"function {name}(unknown) is not unique")
    raise SqlError("42883", f"function {name}({T.format_type(t.oid)}) does not exist",
                   hint="No function matches the given name and argument types. You might need to add "
                        "explicit type casts.")


for _name in ("stddev", "stddev_samp", "stddev_pop", "variance", "var_samp", "var_pop"):
    E.FUNCTIONS[_name] = _h_stats


def _args_as(c: E.ExprCompiler, args: list[exp.Expression], types: list[Ty],
             wanted: list[Ty]) -> list[exp.Expression]:
    return [c.coerce(a, t, w) for a, t, w in zip(args, types, wanted, strict=False)]


def _h_encode(c: E.ExprCompiler, args: list[exp.Expression], types: list[Ty], node: exp.Expression,
              scope: E.Scope) -> tuple[exp.Expression, Ty]:
    if len(args) != 2:
        raise SqlError("42883", "function encode does not exist")
    return E.fn("pg_encode", *_args_as(c, args, types, [Ty(T.BYTEA), ty.TEXT])), ty.TEXT


def _h_decode(c: E.ExprCompiler, args: list[exp.Expression], types: list[Ty], node: exp.Expression,
              scope: E.Scope) -> tuple[exp.Expression, Ty]:
    if len(args) != 2:
        raise SqlError("42883", "function decode does not exist")
    return E.fn("pg_decode", *_args_as(c, args, types, [ty.TEXT, ty.TEXT])), Ty(T.BYTEA)


def _h_format(c: E.ExprCompiler, args: list[exp.Expression], types: list[Ty], node: exp.Expression,
              scope: E.Scope) -> tuple[exp.Expression, Ty]:
    if not args:
        raise SqlError("42883", "function format() does not exist")
    out = [c.to_text(c.coerce(args[0], types[0], ty.TEXT), ty.TEXT)]
    for a, t in zip(args[1:], types[1:], strict=True):
        if t.oid == T.UNKNOWN:
            a, t = c.coerce(a, t, ty.TEXT), ty.TEXT
        if t.oid == T.BOOL:  # the output function (t/f), not the bool -> text cast (true/false)
            sql = c.sql(a)
            out.append(E.raw(f"(CASE WHEN {sql} THEN 't' WHEN NOT {sql} THEN 'f' END)"))
            continue
        out.append(c.to_text(a, t))
    return E.fn("pg_format", *out), ty.TEXT


def _h_regexp_match(c: E.ExprCompiler, args: list[exp.Expression], types: list[Ty], node: exp.Expression,
                    scope: E.Scope) -> tuple[exp.Expression, Ty]:
    if len(args) not in (2, 3):
        raise SqlError("42883", "function regexp_match does not exist")
    return E.fn("pg_regexp_match", *_args_as(c, args, types, [ty.TEXT] * 3)), Ty(T.TEXT_ARRAY)


def _h_regexp_replace(c: E.ExprCompiler, args: list[exp.Expression], types: list[Ty], node: exp.Expression,
                      scope: E.Scope) -> tuple[exp.Expression, Ty]:
    if len(args) not in (3, 4):
        raise SqlError("0A000", "regexp_replace with a start position is not supported")
    if len(args) == 4 and types[3].oid in ty.INTS:
        raise SqlError("0A000", "regexp_replace with a start position is not supported")
    return E.fn("pg_regexp_replace", *_args_as(c, args, types, [ty.TEXT] * 4)), ty.TEXT


def _h_to_date(c: E.ExprCompiler, args: list[exp.Expression], types: list[Ty], node: exp.Expression,
               scope: E.Scope) -> tuple[exp.Expression, Ty]:
    if len(args) != 2:
        raise SqlError("42883", "function to_date does not exist")
    return E.fn("pg_to_date", *_args_as(c, args, types, [ty.TEXT, ty.TEXT])), ty.DATE


_previous_to_timestamp = E.FUNCTIONS.get("to_timestamp")


def _h_to_timestamp(c: E.ExprCompiler, args: list[exp.Expression], types: list[Ty], node: exp.Expression,
                    scope: E.Scope) -> tuple[exp.Expression, Ty]:
    if len(args) == 2:
        local = E.fn("pg_to_timestamp_fmt", *_args_as(c, args, types, [ty.TEXT, ty.TEXT]))
        return E.fn("pg_ts_to_tstz", local), ty.TIMESTAMPTZ
    if _previous_to_timestamp is None:
        raise SqlError("42883", "function to_timestamp does not exist")
    return _previous_to_timestamp(c, args, types, node, scope)


def _array_and_elem(c: E.ExprCompiler, arr: exp.Expression, at: Ty, elem: exp.Expression,
                    et: Ty) -> tuple[exp.Expression, Ty, exp.Expression]:
    if at.oid == T.UNKNOWN:
        base = et if et.oid != T.UNKNOWN else ty.TEXT
        at = Ty(ty.array_of(base.oid))
        arr = c.coerce(arr, ty.UNKNOWN, at)
    if not at.is_array:
        raise SqlError("42883", f"function does not exist for argument type {T.format_type(at.oid)}")
    return arr, Ty(at.oid), c.coerce(elem, et, at.element)


def _h_array_remove(c: E.ExprCompiler, args: list[exp.Expression], types: list[Ty], node: exp.Expression,
                    scope: E.Scope) -> tuple[exp.Expression, Ty]:
    if len(args) != 2:
        raise SqlError("42883", "function array_remove does not exist")
    arr, at, elem = _array_and_elem(c, args[0], types[0], args[1], types[1])
    return E.fn("pg_array_remove", arr, elem), at


def _h_array_replace(c: E.ExprCompiler, args: list[exp.Expression], types: list[Ty], node: exp.Expression,
                     scope: E.Scope) -> tuple[exp.Expression, Ty]:
    if len(args) != 3:
        raise SqlError("42883", "function array_replace does not exist")
    arr, at, old = _array_and_elem(c, args[0], types[0], args[1], types[1])
    new = c.coerce(args[2], types[2], at.element)
    return E.fn("pg_array_replace", arr, old, new), at


def _h_array_prepend(c: E.ExprCompiler, args: list[exp.Expression], types: list[Ty], node: exp.Expression,
                     scope: E.Scope) -> tuple[exp.Expression, Ty]:
    if len(args) != 2:
        raise SqlError("42883", "function array_prepend does not exist")
    arr, at, elem = _array_and_elem(c, args[1], types[1], args[0], types[0])
    return E.fn("pg_array_prepend", elem, arr), at


E.FUNCTIONS["encode"] = _h_encode
E.FUNCTIONS["decode"] = _h_decode
E.FUNCTIONS["format"] = _h_format
E.FUNCTIONS["regexp_match"] = _h_regexp_match
E.FUNCTIONS["regexp_replace"] = _h_regexp_replace
E.FUNCTIONS["to_date"] = _h_to_date
E.FUNCTIONS["to_timestamp"] = _h_to_timestamp
E.FUNCTIONS["array_remove"] = _h_array_remove
E.FUNCTIONS["array_replace"] = _h_array_replace
E.FUNCTIONS["array_prepend"] = _h_array_prepend


def _typed_udf(udf: str, result: Ty | None, arg_types: list[Ty] | None = None,
               nargs: tuple[int, ...] | None = None) -> E.Handler:
    """A handler calling ``udf`` with arguments coerced to ``arg_types`` (result None: first arg's type)."""

    def handler(c: E.ExprCompiler, args: list[exp.Expression], types: list[Ty], node: exp.Expression,
                scope: E.Scope) -> tuple[exp.Expression, Ty]:
        name = node.name.lower()
        if nargs is not None and len(args) not in nargs:
            raise SqlError("42883", f"function {name}({', '.join(T.format_type(t.oid) for t in types)}) does not "
                                    "exist", hint="No function matches the given name and argument types. You "
                                                  "might need to add explicit type casts.")
        wanted = arg_types or []
        out = [c.coerce(a, t, wanted[i] if i < len(wanted) else t) for i, (a, t) in enumerate(zip(args, types,
                                                                                                 strict=True))]
        rt = result
        if rt is None:
            rt = types[0] if types and types[0].oid != T.UNKNOWN else ty.INT4
            rt = Ty(rt.oid)
        return E.fn(udf, *out), rt

    return handler


def _h_int_pair(udf: str) -> E.Handler:
    def handler(c: E.ExprCompiler, args: list[exp.Expression], types: list[Ty], node: exp.Expression,
                scope: E.Scope) -> tuple[exp.Expression, Ty]:
        if len(args) != 2:
            raise SqlError("42883", f"function {node.name.lower()} does not exist")
        known = [t for t in types if t.oid != T.UNKNOWN]
        result = ty.INT4
        for t in known:
            if t.oid == T.NUMERIC:
                result = ty.NUMERIC
            elif t.oid in ty.INTS and result.oid != T.NUMERIC and ty.INT_RANK[t.oid] > ty.INT_RANK.get(result.oid, 0):
                result = Ty(t.oid)
            elif t.oid not in ty.INTS and t.oid != T.NUMERIC:
                raise SqlError("42883", f"function {node.name.lower()}({', '.join(T.format_type(x.oid) for x in types)}) "
                                        "does not exist")
        result = Ty(T.INT4) if result.oid == T.INT2 else result
        out = [c.coerce(a, t, result) for a, t in zip(args, types, strict=True)]
        return E.fn(udf, *out, E.lit_int(result.oid)), result

    return handler


def _h_width_bucket(c: E.ExprCompiler, args: list[exp.Expression], types: list[Ty], node: exp.Expression,
                    scope: E.Scope) -> tuple[exp.Expression, Ty]:
    if len(args) != 4:
        raise SqlError("0A000", "width_bucket(anyelement, anyarray) is not supported")
    num = T.NUMERIC if any(t.oid == T.NUMERIC for t in types[:3]) and not any(
        t.oid in ty.FLOATS for t in types[:3]) else T.FLOAT8
    out = [c.coerce(a, t, Ty(num)) for a, t in zip(args[:3], types[:3], strict=True)]
    return E.fn("pg_width_bucket", *out, c.coerce(args[3], types[3], ty.INT4)), ty.INT4


def _c_starts_with(self: E.ExprCompiler, node: exp.StartsWith, scope: E.Scope) -> tuple[exp.Expression, Ty]:
    left = self.typed(node.this, scope, ty.TEXT)
    right = self.typed(node.expression, scope, ty.TEXT)
    return E.fn("pg_starts_with", left, right), ty.BOOL


setattr(E.ExprCompiler, "c_StartsWith", _c_starts_with)  # `text ^@ text`  # noqa: B010

E.FUNCTIONS.update({
    "cbrt": _typed_udf("pg_cbrt", ty.FLOAT8, [ty.FLOAT8], (1,)),
    "degrees": _typed_udf("pg_degrees", ty.FLOAT8, [ty.FLOAT8], (1,)),
    "radians": _typed_udf("pg_radians", ty.FLOAT8, [ty.FLOAT8], (1,)),
    "factorial": _typed_udf("pg_factorial", ty.NUMERIC, [ty.INT8], (1,)),
    "scale": _typed_udf("pg_scale", ty.INT4, [ty.NUMERIC], (1,)),
    "min_scale": _typed_udf("pg_min_scale", ty.INT4, [ty.NUMERIC], (1,)),
    "trim_scale": _typed_udf("pg_trim_scale", ty.NUMERIC, [ty.NUMERIC], (1,)),
    "gcd": _h_int_pair("pg_gcd"),
    "lcm": _h_int_pair("pg_lcm"),
    "width_bucket": _h_width_bucket,
    "bit_length": _typed_udf("pg_bit_length", ty.INT4, [ty.TEXT], (1,)),
    "sha224": _typed_udf("pg_sha224", Ty(T.BYTEA), [Ty(T.BYTEA)], (1,)),
    "sha256": _typed_udf("pg_sha256", Ty(T.BYTEA), [Ty(T.BYTEA)], (1,)),
    "sha384": _typed_udf("pg_sha384", Ty(T.BYTEA), [Ty(T.BYTEA)], (1,)),
    "sha512": _typed_udf("pg_sha512", Ty(T.BYTEA), [Ty(T.BYTEA)], (1,)),
    "quote_nullable": _typed_udf("pg_quote_nullable", ty.TEXT, [ty.TEXT], (1,)),
    "starts_with": _typed_udf("pg_starts_with", ty.BOOL, [ty.TEXT, ty.TEXT], (2,)),
    "regexp_split_to_array": _typed_udf("pg_regexp_split", Ty(T.TEXT_ARRAY), [ty.TEXT] * 3, (2, 3)),
    "justify_hours": _typed_udf("pg_justify_hours", ty.INTERVAL, [ty.INTERVAL], (1,)),
    "justify_days": _typed_udf("pg_justify_days", ty.INTERVAL, [ty.INTERVAL], (1,)),
    "justify_interval": _typed_udf("pg_justify_interval", ty.INTERVAL, [ty.INTERVAL], (1,)),
    "array_ndims": _typed_udf("pg_array_ndims", ty.INT4, None, (1,)),
})


def _h_make_time(c: E.ExprCompiler, args: list[exp.Expression], types: list[Ty], node: exp.Expression,
                 scope: E.Scope) -> tuple[exp.Expression, Ty]:
    name = node.name.lower()
    n = 3 if name == "make_time" else 6
    if len(args) != n:
        raise SqlError("42883", f"function {name} does not exist")
    wanted = [ty.INT4] * (n - 1) + [ty.FLOAT8]
    out = [c.coerce(a, t, w) for a, t, w in zip(args, types, wanted, strict=True)]
    return E.fn(f"pg_{name}", *out), ty.TIME if n == 3 else ty.TIMESTAMP


_INTERVAL_ARGS = ("years", "months", "weeks", "days", "hours", "mins", "secs")


def _c_kwarg(self: E.ExprCompiler, node: exp.Kwarg, scope: E.Scope) -> tuple[exp.Expression, Ty]:
    value, t = self.compile(node.expression, scope)
    return exp.Kwarg(this=node.this.copy(), expression=value), t


def _h_make_interval(c: E.ExprCompiler, args: list[exp.Expression], types: list[Ty], node: exp.Expression,
                     scope: E.Scope) -> tuple[exp.Expression, Ty]:
    values: dict[str, exp.Expression] = {}
    positional = 0
    for a, t in zip(args, types, strict=True):
        if isinstance(a, exp.Kwarg):
            key = a.this.name.lower()
            if key not in _INTERVAL_ARGS:
                raise SqlError("42883", "function make_interval does not exist")
            a = a.expression
        else:
            if positional >= len(_INTERVAL_ARGS):
                raise SqlError("42883", "function make_interval does not exist")
            key = _INTERVAL_ARGS[positional]
            positional += 1
        values[key] = c.coerce(a, t, ty.FLOAT8 if key == "secs" else ty.INT4)
    out = [values.get(k, E.lit_int(0)) for k in _INTERVAL_ARGS]
    return E.fn("pg_make_interval", *out), ty.INTERVAL


def _h_isfinite(c: E.ExprCompiler, args: list[exp.Expression], types: list[Ty], node: exp.Expression,
                scope: E.Scope) -> tuple[exp.Expression, Ty]:
    if len(args) != 1:
        raise SqlError("42883", "function isfinite does not exist")
    t = types[0] if types[0].oid != T.UNKNOWN else ty.DATE
    arg = c.coerce(args[0], types[0], t)
    return E.fn("pg_isfinite", arg), ty.BOOL


def _h_jsonb_pretty(c: E.ExprCompiler, args: list[exp.Expression], types: list[Ty], node: exp.Expression,
                    scope: E.Scope) -> tuple[exp.Expression, Ty]:
    if len(args) != 1:
        raise SqlError("42883", "function jsonb_pretty does not exist")
    return E.fn("pg_jsonb_pretty", c.coerce(args[0], types[0], Ty(T.JSONB))), ty.TEXT


setattr(E.ExprCompiler, "c_Kwarg", _c_kwarg)  # named arguments: make_interval(days => 3)  # noqa: B010
E.FUNCTIONS.update({
    "make_time": _h_make_time,
    "make_timestamp": _h_make_time,
    "make_interval": _h_make_interval,
    "isfinite": _h_isfinite,
    "jsonb_pretty": _h_jsonb_pretty,
})


def _h_object_agg(c: E.ExprCompiler, args: list[exp.Expression], types: list[Ty], node: exp.Expression,
                  scope: E.Scope) -> tuple[exp.Expression, Ty]:
    if len(args) != 2:
        raise SqlError("42883", f"function {node.name.lower()} does not exist")
    key = c.to_text(c.coerce(args[0], types[0], ty.TEXT) if types[0].oid == T.UNKNOWN else args[0],
                    ty.TEXT if types[0].oid == T.UNKNOWN else types[0])
    value = c.json_arg(args[1], types[1])
    agg = E.fn("json_group_object", key, value)
    if node.name.lower() == "jsonb_object_agg":
        jsonb = E.fn("pg_cast", agg, E.lit_int(T.TEXT), E.lit_int(T.JSONB))
        return E.raw(f"(CASE WHEN count(*) = 0 THEN NULL ELSE {c.sql(jsonb)} END)"), Ty(T.JSONB)
    pair = f"json_quote({c.sql(key)}) || ' : ' || coalesce(json_quote({c.sql(value)}), 'null')"
    return E.raw(f"(CASE WHEN count(*) = 0 THEN NULL ELSE '{{ ' || group_concat({pair}, ', ') || ' }}' END)"), Ty(
        T.JSON)  # json_object_agg's layout: { "a" : 1, "b" : 2 }


def _h_to_hex(c: E.ExprCompiler, args: list[exp.Expression], types: list[Ty], node: exp.Expression,
              scope: E.Scope) -> tuple[exp.Expression, Ty]:
    if len(args) != 1:
        raise SqlError("42883", "function to_hex does not exist")
    bits = 64 if types[0].oid == T.INT8 else 32
    return E.fn("pg_to_hex_bits", c.coerce(args[0], types[0], ty.INT8 if bits == 64 else ty.INT4),
                E.lit_int(bits)), ty.TEXT


E.FUNCTIONS.update({"to_hex": _h_to_hex, "jsonb_object_agg": _h_object_agg, "json_object_agg": _h_object_agg})


# ------------------------------------------------------------------------------ UDFs


def _gcd(a: Any, b: Any, oid: int) -> Any:
    if a is None or b is None:
        return None
    if oid == T.NUMERIC:
        x, y = T.to_decimal(a), T.to_decimal(b)
        scale = _scale_of(T.to_decimal(a), T.to_decimal(b))
        while y:
            x, y = y, x % y
        return T.numeric_to_str(abs(x).quantize(Decimal(1).scaleb(-scale)))
    r = math.gcd(int(a), int(b))
    _int_range(r, oid)
    return r


def _lcm(a: Any, b: Any, oid: int) -> Any:
    if a is None or b is None:
        return None
    if oid == T.NUMERIC:
        x, y = T.to_decimal(a), T.to_decimal(b)
        if x == 0 or y == 0:
            return "0"
        g = T.to_decimal(_gcd(a, b, oid))
        with localcontext() as ctx:
            ctx.prec = 1000
            return T.numeric_to_str((abs(x * y) / g).quantize(Decimal(1).scaleb(-_scale_of(x, y))))
    r = math.lcm(int(a), int(b))
    _int_range(r, oid)
    return r


def _scale_of(*values: Decimal) -> int:
    return max(max(-int(v.as_tuple().exponent), 0) for v in values)


def _int_range(value: int, oid: int) -> None:
    bits = 64 if oid == T.INT8 else 32
    if not -(1 << (bits - 1)) <= value < (1 << (bits - 1)):
        raise SqlError("22003", f"{'bigint' if bits == 64 else 'integer'} out of range")


def _unnest_zip(*arrays: Any) -> str:
    """unnest(a, b, ...): the arrays zipped into one JSON array of rows, padded with NULL."""
    lists = [json.loads(a) if a is not None else [] for a in arrays]
    return json.dumps([list(row) for row in itertools.zip_longest(*lists)])


def drop_not_null_text(ddl: Any, column: Any) -> Any:
    """The CREATE TABLE text without the NOT NULL of one column (as ddl._storage_decl wrote it)."""
    quoted = re.escape('"' + column.replace('"', '""') + '"')
    pattern = re.compile(rf"([(,]\s*{quoted}\s+\w+(?:\s+COLLATE\s+\w+)?)\s+NOT\s+NULL\b", re.IGNORECASE)
    return pattern.sub(r"\1", ddl, count=1)


def _factorial(n: Any) -> str | None:
    if n is None:
        return None
    if int(n) < 0:
        raise SqlError("22003", "factorial of a negative number is undefined")
    if int(n) > 32177:
        raise SqlError("22003", "value overflows numeric format")
    return str(math.factorial(int(n)))


def _scale(value: Any) -> int | None:
    """scale(numeric): digits after the decimal point as stored (NULL for NaN/Infinity)."""
    if value is None:
        return None
    dec = T.to_decimal(value)
    if not dec.is_finite():
        return None
    exponent = dec.as_tuple().exponent
    return max(0, -exponent) if isinstance(exponent, int) else 0


def _trim_scale(value: Any) -> str | None:
    if value is None:
        return None
    dec = T.to_decimal(value)
    if not dec.is_finite():
        return T.numeric_to_str(dec)
    return T.numeric_to_str(dec.normalize() if dec != 0 else Decimal(0))


def _min_scale(value: Any) -> int | None:
    trimmed = _trim_scale(value)
    return None if trimmed is None or trimmed in ("NaN", "Infinity", "-Infinity") else _scale(trimmed)


def _width_bucket(op: Any, low: Any, high: Any, count: Any) -> int | None:
    if op is None or low is None or high is None or count is None:
        return None
    if int(count) <= 0:
        raise SqlError("2201G", "count must be greater than zero")
    x, lo, hi = (T.to_decimal(v) if isinstance(v, str) else Decimal(repr(float(v))) if isinstance(v, float)
                 else Decimal(v) for v in (op, low, high))
    if lo == hi:
        raise SqlError("2201G", "lower bound cannot equal upper bound")
    n = int(count)
    with localcontext() as ctx:
        ctx.prec = 100
        if lo < hi:
            if x < lo:
                return 0
            if x >= hi:
                return n + 1
            return int((x - lo) * n / (hi - lo)) + 1
        if x > lo:
            return 0
        if x <= hi:
            return n + 1
        return int((lo - x) * n / (lo - hi)) + 1


def _sha(name: str) -> Any:
    import hashlib

    def digest(data: Any) -> bytes | None:
        return None if data is None else hashlib.new(name, _bytes(data)).digest()

    return digest


def _regexp_split(value: Any, pattern: Any, flags: Any = "") -> str | None:
    if value is None or pattern is None or flags is None:
        return None
    text = _text(value)
    rx = _regex_cached(str(pattern), str(flags or ""))
    out: list[str] = []
    start = 0
    for m in rx.finditer(text):
        if m.end() == m.start():
            if m.start() == 0 or m.start() >= len(text):
                continue
        if m.start() == start and m.end() == m.start():
            continue
        out.append(text[start:m.start()])
        start = m.end()
    out.append(text[start:])
    return json.dumps(out)


def _justify(value: Any, hours: bool, days: bool) -> str | None:
    if value is None:
        return None
    months, d, micros = T.interval_parts(str(value))
    day_us = 86_400_000_000
    if hours:
        extra = int(micros / day_us)
        d += extra
        micros -= extra * day_us
    if days:
        extra = int(d / 30)
        months += extra
        d -= extra * 30
    if hours and days:
        if months > 0 and (d < 0 or (d == 0 and micros < 0)):
            d += 30
            months -= 1
        elif months < 0 and (d > 0 or (d == 0 and micros > 0)):
            d -= 30
            months += 1
    if hours:
        if d > 0 and micros < 0:
            micros += day_us
            d -= 1
        elif d < 0 and micros > 0:
            micros -= day_us
            d += 1
    return T.format_interval(months, d, micros)


def _array_ndims(arr: Any) -> int | None:
    if arr is None:
        return None
    values = T.array_values(arr)
    if not values:
        return None
    depth = 1
    while values and isinstance(values[0], list):
        depth += 1
        values = values[0]
    return depth


def _make_time(h: Any, m: Any, sec: Any) -> str | None:
    if h is None or m is None or sec is None:
        return None
    s = Decimal(repr(float(sec)))
    if not (0 <= int(h) <= 24 and 0 <= int(m) < 60 and 0 <= s <= 60):
        raise SqlError("22008", f"time field value out of range: {h}:{m}:{T.numeric_to_str(s)}")
    micros = int((s * 1_000_000).to_integral_value(rounding=ROUND_HALF_UP))
    return str(T.decode_text(T.TIME, f"{int(h):02d}:{int(m):02d}:{micros // 1_000_000:02d}"
                                     f".{micros % 1_000_000:06d}"))


def _make_timestamp(y: Any, mo: Any, d: Any, h: Any, mi: Any, sec: Any) -> str | None:
    if None in (y, mo, d, h, mi, sec):
        return None
    time = _make_time(h, mi, sec)
    try:
        date = _dt.date(int(y), int(mo), int(d)).isoformat()
    except ValueError:
        raise SqlError("22008", f"date field value out of range: {y}-{mo:02d}-{d:02d}") from None
    return f"{date} {time}"


def _make_interval(years: Any, months: Any, weeks: Any, days: Any, hours: Any, mins: Any, secs: Any) -> str | None:
    if None in (years, months, weeks, days, hours, mins, secs):
        return None
    micros = int(hours) * 3_600_000_000 + int(mins) * 60_000_000 + int(
        (Decimal(repr(float(secs))) * 1_000_000).to_integral_value(rounding=ROUND_HALF_UP))
    return T.format_interval(int(years) * 12 + int(months), int(weeks) * 7 + int(days), micros)


def _time_micros(value: Any) -> int:
    h, m, sec = str(value).split(":")
    return (int(h) * 3600 + int(m) * 60) * 1_000_000 + int(Decimal(sec) * 1_000_000)


def _time_diff(a: Any, b: Any) -> str | None:
    if a is None or b is None:
        return None
    return T.format_interval(0, 0, _time_micros(a) - _time_micros(b))


def _isfinite(value: Any) -> int | None:
    if value is None:
        return None
    return 0 if "infinity" in str(value).lower() else 1


def _pretty(value: Any, indent: int) -> str:
    pad = "    " * (indent + 1)
    if isinstance(value, dict):
        if not value:
            return "{\n" + "    " * indent + "}"
        items = [f"{pad}{json.dumps(k, ensure_ascii=False)}: {_pretty(v, indent + 1)}" for k, v in value.items()]
        return "{\n" + ",\n".join(items) + "\n" + "    " * indent + "}"
    if isinstance(value, list):
        if not value:
            return "[\n" + "    " * indent + "]"
        items = [f"{pad}{_pretty(v, indent + 1)}" for v in value]
        return "[\n" + ",\n".join(items) + "\n" + "    " * indent + "]"
    if isinstance(value, Decimal):
        return str(value)
    return json.dumps(value, ensure_ascii=False)


def _jsonb_pretty(value: Any) -> str | None:
    if value is None:
        return None
    return _pretty(json.loads(str(value), parse_float=Decimal, parse_int=Decimal), 0)


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
        from compute.sql.functions import div_scale

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


def _json_srf(doc: Any, name: str) -> str:
    """The rows of jsonb_array_elements[_text] / jsonb_object_keys (and json_*) as a JSON array
    of SQL values for json_each(): JSON texts, texts (JSON null -> NULL), or keys."""
    if doc is None:
        return "[]"
    value = json.loads(str(doc), parse_float=Decimal, parse_int=Decimal)
    if name.endswith("_object_keys"):
        if not isinstance(value, dict):
            kind = "an array" if isinstance(value, list) else "a scalar"
            raise SqlError("22023", f"cannot call {name} on {kind}")
        return json.dumps(list(value), ensure_ascii=False)
    if not isinstance(value, list):
        kind = "an object" if isinstance(value, dict) else "a scalar"
        raise SqlError("22023", f"cannot extract elements from {kind}")
    rows: list[str | None] = []
    for item in value:
        if name.endswith("_text") and (item is None or isinstance(item, str)):
            rows.append(item)
        else:
            rows.append(T._jsonb_dump(item))
    return json.dumps(rows, ensure_ascii=False)


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


def _bytes(value: Any) -> bytes:
    if isinstance(value, bytes):
        return value
    return str(value).encode()


def _encode(data: Any, fmt: Any) -> str | None:
    if data is None or fmt is None:
        return None
    raw = _bytes(data)
    f = str(fmt).lower()
    if f == "hex":
        return raw.hex()
    if f == "base64":
        text = base64.b64encode(raw).decode()
        return "\n".join(text[i:i + 76] for i in range(0, len(text), 76))
    if f == "escape":
        out = []
        for b in raw:
            if b == 0x5C:
                out.append("\\\\")
            elif b == 0 or b >= 0x80:
                out.append(f"\\{b:03o}")
            else:
                out.append(chr(b))
        return "".join(out)
    raise SqlError("22023", f'unrecognized encoding: "{fmt}"')


def _decode(text: Any, fmt: Any) -> bytes | None:
    if text is None or fmt is None:
        return None
    s = str(text)
    f = str(fmt).lower()
    if f == "hex":
        compact = re.sub(r"\s+", "", s)
        bad = re.search(r"[^0-9a-fA-F]", compact)
        if bad:
            raise SqlError("22023", f'invalid hexadecimal digit: "{bad.group(0)}"')
        if len(compact) % 2:
            raise SqlError("22023", "invalid hexadecimal data: odd number of digits")
        return bytes.fromhex(compact)
    if f == "base64":
        compact = re.sub(r"\s+", "", s)
        try:
            return base64.b64decode(compact, validate=True)
        except (binascii.Error, ValueError):
            raise SqlError("22023", "invalid base64 end sequence",
                           hint="Input data is missing padding, is truncated, or is otherwise corrupted."
                           ) from None
    if f == "escape":
        out = bytearray()
        i = 0
        while i < len(s):
            ch = s[i]
            if ch != "\\":
                out += ch.encode()
                i += 1
            elif s[i + 1:i + 2] == "\\":
                out.append(0x5C)
                i += 2
            elif re.match(r"[0-3][0-7]{2}", s[i + 1:i + 4]):
                out.append(int(s[i + 1:i + 4], 8))
                i += 4
            else:
                raise SqlError("22P02", "invalid input syntax for type bytea")
        return bytes(out)
    raise SqlError("22023", f'unrecognized encoding: "{fmt}"')


_FORMAT_SPEC = re.compile(r"%(?:(\d+)\$)?(-)?(\*(?:\d+\$)?|\d+)?([sIL%])?")


def _format(fmt: Any, *args: Any) -> str | None:
    if fmt is None:
        return None
    s = str(fmt)
    out: list[str] = []
    next_arg = 0
    i = 0
    while i < len(s):
        j = s.find("%", i)
        if j < 0:
            out.append(s[i:])
            break
        out.append(s[i:j])
        if s.startswith("%%", j):
            out.append("%")
            i = j + 2
            continue
        m = _FORMAT_SPEC.match(s, j)
        if m is None or m.group(4) is None:
            if j + 1 >= len(s) or (m is not None and m.end() >= len(s)):
                raise SqlError("22023", "unterminated format() type specifier",
                               hint='For a single "%" use "%%".')
            bad = s[m.end()] if m is not None else s[j + 1]
            raise SqlError("22023", f'unrecognized format() type specifier "{bad}"',
                           hint='For a single "%" use "%%".')
        if m.group(4) == "%":
            out.append("%")
            i = m.end()
            continue
        width_spec = m.group(3)
        width = 0
        left = bool(m.group(2))
        if width_spec and width_spec.startswith("*"):
            if next_arg >= len(args):
                raise SqlError("22023", "too few arguments for format()")
            w = args[next_arg]
            next_arg += 1
            width = int(w) if w is not None else 0
            if width < 0:
                left, width = True, -width
        elif width_spec:
            width = int(width_spec)
        if m.group(1):
            index = int(m.group(1)) - 1
            if index < 0:
                raise SqlError("22023", "format specifies argument 0, but arguments are numbered from 1")
            next_arg = index
        if next_arg >= len(args):
            raise SqlError("22023", "too few arguments for format()")
        value = args[next_arg]
        next_arg += 1
        kind = m.group(4)
        if kind == "s":
            text = "" if value is None else _text(value)
        elif kind == "I":
            if value is None:
                raise SqlError("22004", "null values cannot be formatted as an SQL identifier")
            text = _quote_ident(_text(value))
        else:
            text = "NULL" if value is None else _quote_literal(_text(value))
        out.append(text.ljust(width) if left else text.rjust(width))
        i = m.end()
    return "".join(out)


def _text(value: Any) -> str:
    if isinstance(value, float):
        return T.encode_text(T.FLOAT8, value).decode()
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace")
    return str(value)


_SAFE_IDENT = re.compile(r"[a-z_][a-z0-9_$]*")


def _quote_ident(name: str) -> str:
    if _SAFE_IDENT.fullmatch(name):
        return name
    return '"' + name.replace('"', '""') + '"'


def _quote_literal(text: str) -> str:
    quoted = "'" + text.replace("'", "''").replace("\\", "\\\\") + "'"
    return ("E" + quoted) if "\\" in text else quoted


_POSIX_CLASSES = {
    "[:alpha:]": "a-zA-Z", "[:digit:]": "0-9", "[:alnum:]": "a-zA-Z0-9", "[:upper:]": "A-Z",
    "[:lower:]": "a-z", "[:space:]": r"\s", "[:punct:]": r"!-/:-@\[-`{-~", "[:xdigit:]": "0-9A-Fa-f",
    "[:word:]": r"\w",
}


def _regex(pattern: str, flags: str) -> re.Pattern[str]:
    py = pattern
    for cls, repl in _POSIX_CLASSES.items():
        py = py.replace(cls, repl)
    py = py.replace(r"\m", r"\b").replace(r"\M", r"\b").replace(r"\y", r"\b")
    fl = 0
    for ch in flags:
        if ch == "i":
            fl |= re.I
        elif ch == "c":
            fl &= ~re.I
        elif ch in "nm":
            fl |= re.M
        elif ch == "s":
            fl |= re.S
        elif ch == "x":
            fl |= re.X
        elif ch != "g":
            raise SqlError("22023", f"invalid regular expression option: \"{ch}\"")
    try:
        return re.compile(py, fl)
    except re.error as exc:
        raise SqlError("2201B", f"invalid regular expression: {exc}") from None


def _regexp_match(value: Any, pattern: Any, flags: Any = "") -> str | None:
    if value is None or pattern is None:
        return None
    if "g" in (flags or ""):
        raise SqlError("22023", "regexp_match() does not support the \"global\" option",
                       hint="Use the regexp_matches function instead.")
    m = _regex_cached(str(pattern), str(flags or "")).search(_text(value))
    if m is None:
        return None
    groups = list(m.groups()) if m.re.groups else [m.group(0)]
    return json.dumps(groups)


def _regexp_matches_json(value: Any, pattern: Any, flags: Any = "") -> str:
    """regexp_matches rows as a JSON array of text[] values: every match with 'g', else the first;
    a match is its capture groups (unmatched ones NULL), or the whole match without groups."""
    if value is None or pattern is None or flags is None:
        return "[]"
    regex = _regex_cached(str(pattern), str(flags))
    text = _text(value)
    found = regex.finditer(text) if "g" in str(flags) else filter(None, [regex.search(text)])
    rows = [list(m.groups()) if m.re.groups else [m.group(0)] for m in found]
    return json.dumps(rows, ensure_ascii=False)


def _regexp_replace(value: Any, pattern: Any, repl: Any, flags: Any = "") -> str | None:
    if value is None or pattern is None or repl is None or flags is None:
        return None
    f = str(flags or "")
    py_repl = re.sub(r"\\(\d)", r"\\g<\1>", str(repl).replace("\\\\", "\x00")).replace("\\&", "\\g<0>")
    py_repl = py_repl.replace("\x00", "\\\\")
    return _regex_cached(str(pattern), f).sub(py_repl, _text(value), count=0 if "g" in f else 1)


# to_date / to_timestamp templates
_MONTHS = ["january", "february", "march", "april", "may", "june", "july", "august", "september",
           "october", "november", "december"]
_TEMPLATE = re.compile(r'"[^"]*"|FM|HH24|HH12|HH|MI|SS|MS|US|YYYY|YY|MM|DD|DDD|Month|MONTH|month|Mon|MON|mon|'
                       r'Day|DAY|day|Dy|DY|dy|AM|PM|am|pm|A\.M\.|P\.M\.|TZ|tz|OF|.', re.S)
_FIELD_RE = {
    "YYYY": r"(\d{1,4})", "YY": r"(\d{1,2})", "MM": r"(\d{1,2})", "DD": r"(\d{1,2})", "DDD": r"(\d{1,3})",
    "HH24": r"(\d{1,2})", "HH12": r"(\d{1,2})", "HH": r"(\d{1,2})", "MI": r"(\d{1,2})", "SS": r"(\d{1,2})",
    "MS": r"(\d{1,3})", "US": r"(\d{1,6})", "MONTH": r"([A-Za-z]+)", "MON": r"([A-Za-z]{3})",
    "DAY": r"([A-Za-z]+)", "DY": r"([A-Za-z]{3})", "AM": r"([AaPp]\.?[Mm]\.?)", "PM": r"([AaPp]\.?[Mm]\.?)",
    "A.M.": r"([AaPp]\.?[Mm]\.?)", "P.M.": r"([AaPp]\.?[Mm]\.?)",
}


def _parse_template(value: str, fmt: str) -> _dt.datetime:
    parts: list[str] = []
    fields: list[str] = []
    for tok in _TEMPLATE.findall(fmt):
        if tok.startswith('"'):
            parts.append(re.escape(tok[1:-1]))
            continue
        if tok == "FM":
            continue
        key = tok.upper()
        if key in _FIELD_RE:
            parts.append(r"\s*" + _FIELD_RE[key])
            fields.append(key)
        elif tok.isspace():
            parts.append(r"\s*")
        elif tok.isalnum():
            parts.append(re.escape(tok))
        else:
            parts.append(r"[^A-Za-z0-9]?")
    m = re.match("".join(parts), value.strip())
    if m is None:
        raise SqlError("22007", f'invalid value "{value}" for "{fmt}"')
    year, month, day, hour, minute, second, micro = 1, 1, 1, 0, 0, 0, 0
    pm: bool | None = None
    twelve = False
    for key, text in zip(fields, m.groups(), strict=True):
        if key == "YYYY":
            year = int(text)
        elif key == "YY":
            y = int(text)
            year = 2000 + y if y < 70 else 1900 + y
        elif key == "MM":
            month = int(text)
        elif key == "DD":
            day = int(text)
        elif key in ("HH24",):
            hour = int(text)
        elif key in ("HH12", "HH"):
            hour = int(text)
            twelve = True
        elif key == "MI":
            minute = int(text)
        elif key == "SS":
            second = int(text)
        elif key == "MS":
            micro = int(text.ljust(3, "0")) * 1000
        elif key == "US":
            micro = int(text.ljust(6, "0"))
        elif key in ("MONTH", "MON"):
            names = [n if key == "MONTH" else n[:3] for n in _MONTHS]
            if text.lower() not in names:
                raise SqlError("22007", f'invalid value "{text}" for "{key}"')
            month = names.index(text.lower()) + 1
        elif key in ("AM", "PM", "A.M.", "P.M."):
            pm = text[0].lower() == "p"
    if twelve or pm is not None:
        if not 1 <= hour <= 12:
            raise SqlError("22008", f'hour "{hour}" is invalid for the 12-hour clock',
                           hint="Use the 24-hour clock, or give an hour between 1 and 12.")
        hour = hour % 12 + (12 if pm else 0)
    try:
        return _dt.datetime(year, month, day, hour, minute, second, micro)
    except ValueError:
        raise SqlError("22008", f'date/time field value out of range: "{value}"') from None


def _to_date(value: Any, fmt: Any) -> str | None:
    if value is None or fmt is None:
        return None
    return _parse_template(str(value), str(fmt)).date().isoformat()


def _to_timestamp_fmt(value: Any, fmt: Any) -> str | None:
    if value is None or fmt is None:
        return None
    return T.format_timestamp(_parse_template(str(value), str(fmt)))


def _same(a: Any, b: Any) -> bool:
    return a == b and type(a) is type(b) or (a is not None and b is not None and str(a) == str(b))


def _array_remove(arr: Any, elem: Any) -> str | None:
    if arr is None:
        return None
    return json.dumps([v for v in T.array_values(arr) if not (v is None and elem is None) and not (
        v is not None and elem is not None and _same(v, elem))])


def _array_slice(arr: Any, lower: Any, has_lower: int, upper: Any, has_upper: int) -> str | None:
    """a[l:u], a[:u], a[l:]: the elements in range (bounds clamped), '{}' when none, NULL for a
    NULL bound; the slice starts at subscript 1 again, as in PostgreSQL."""
    if arr is None or (has_lower and lower is None) or (has_upper and upper is None):
        return None
    values = T.array_values(arr)
    first = max(int(lower) if has_lower else 1, 1)
    last = min(int(upper) if has_upper else len(values), len(values))
    return json.dumps(values[first - 1 : last] if first <= last else [], ensure_ascii=False)


def _array_replace(arr: Any, old: Any, new: Any) -> str | None:
    if arr is None:
        return None
    return json.dumps([new if (v is None and old is None) or (v is not None and old is not None and _same(v, old))
                       else v for v in T.array_values(arr)])


_REGEX_CACHE: dict[tuple[str, str], re.Pattern[str]] = {}


def _regex_cached(pattern: str, flags: str) -> re.Pattern[str]:
    key = (pattern, flags)
    compiled = _REGEX_CACHE.get(key)
    if compiled is None:
        if len(_REGEX_CACHE) > 1000:
            _REGEX_CACHE.clear()
        compiled = _REGEX_CACHE[key] = _regex(pattern, flags)
    return compiled


def similar_to_regex(pattern: str, escape: str | None = "\\") -> re.Pattern[str]:
    """SIMILAR TO's pattern as a Python regex, as PostgreSQL's similar_to_escape: anchored at both
    ends, % is .*, _ is ., | * + ? { } ( ) [ ] keep their regex meaning, the rest is literal."""
    out = ["(?:"]
    i, in_bracket = 0, False
    while i < len(pattern):
        ch = pattern[i]
        if escape and ch == escape:
            if i + 1 >= len(pattern):
                raise SqlError("22025", "invalid escape string",
                               hint="Escape string must be empty or one character.")
            out.append(re.escape(pattern[i + 1]))
            i += 2
            continue
        if in_bracket:
            out.append("\\\\" if ch == "\\" else ch)
            in_bracket = ch != "]"
        elif ch == "[":
            in_bracket = True
            out.append(ch)
        elif ch == "%":
            out.append(".*")
        elif ch == "_":
            out.append(".")
        elif ch in "|*+?{}()":
            out.append(ch)
        else:
            out.append(re.escape(ch))
        i += 1
    out.append(")")
    try:
        return re.compile("".join(out), re.S)
    except re.error as exc:
        raise SqlError("2201B", f"invalid regular expression: {exc}") from None


def _similar_to(value: Any, pattern: Any, escape: Any = "\\") -> int | None:
    if value is None or pattern is None:
        return None
    if escape is not None and len(str(escape)) > 1:
        raise SqlError("22025", "invalid escape string", hint="Escape string must be empty or one character.")
    return 1 if similar_to_regex(str(pattern), str(escape) if escape else None).fullmatch(_text(value)) else 0


def _regex_match(value: Any, pattern: Any, insensitive: Any = 0) -> int | None:
    if value is None or pattern is None:
        return None
    return 1 if _regex_cached(str(pattern), "i" if insensitive else "").search(_text(value)) else 0


def _check_limit(value: Any, what: str) -> int:
    if value is None:
        return -1
    if int(value) < 0:
        raise SqlError("2201W" if what == "LIMIT" else "2201X", f"{what} must not be negative")
    return int(value)


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


_KEY_OFFSET = 1 << 90


def interval_key(value: Any) -> str | None:
    """A text key that sorts intervals by value (interval_cmp: 1 month = 30 days, 1 day = 24 hours)."""
    if value is None:
        return None
    months, days, micros = T.interval_parts(str(value))
    span = (months * 30 + days) * 86_400_000_000 + micros
    return f"{span + _KEY_OFFSET:032d}"


def _interval_collation(a: str, b: str) -> int:
    if a == b:
        return 0
    try:
        x, y = interval_key(a), interval_key(b)
    except (SqlError, ValueError):
        return -1 if a < b else 1
    assert x is not None and y is not None
    return -1 if x < y else (1 if x > y else 0)


def register_udfs(conn: Any) -> None:
    conn.create_collation("pginterval", _interval_collation)
    conn.create_scalar_function("pg_interval_key", interval_key, 1, deterministic=True)
    conn.create_scalar_function("pg_timetz_key", T.timetz_key, 1, deterministic=True)
    conn.create_aggregate_function("pg_scalar_subquery", _scalar_factory, 1)
    conn.create_aggregate_function("pg_json_agg", _factory(_JsonAgg, "json"), 1)
    conn.create_aggregate_function("pg_ordered_set", _factory(_OrderedSet, ""), 5)
    conn.create_aggregate_function("pg_interval_sum", _factory(_IntervalAgg, "sum"), 1)
    conn.create_aggregate_function("pg_interval_avg", _factory(_IntervalAgg, "avg"), 1)
    conn.create_scalar_function("pg_json_srf", _json_srf, 2, deterministic=True)
    conn.create_aggregate_function("pg_jsonb_agg", _factory(_JsonAgg, "jsonb"), 1)
    for kind in ("stddev_samp", "stddev_pop", "var_samp", "var_pop"):
        conn.create_aggregate_function(f"pg_f_{kind}", _factory(_FloatStats, kind), 1)
        conn.create_aggregate_function(f"pg_n_{kind}", _factory(_NumericStats, kind), 1)
    det = {"deterministic": True}
    conn.create_scalar_function("pg_check_limit", _check_limit, 2, **det)
    conn.create_scalar_function("pg_to_hex_bits", lambda v, bits: None if v is None else
                                format(int(v) & ((1 << bits) - 1), "x"), 2, **det)
    conn.create_scalar_function("pg_time_diff", _time_diff, 2, **det)
    conn.create_scalar_function("pg_bytea_concat", lambda a, b: None if a is None or b is None else
                                _bytes(a) + _bytes(b), 2, **det)
    conn.create_scalar_function("pg_make_time", _make_time, 3, **det)
    conn.create_scalar_function("pg_make_timestamp", _make_timestamp, 6, **det)
    conn.create_scalar_function("pg_make_interval", _make_interval, 7, **det)
    conn.create_scalar_function("pg_isfinite", _isfinite, 1, **det)
    conn.create_scalar_function("pg_jsonb_pretty", _jsonb_pretty, 1, **det)
    conn.create_scalar_function("pg_cbrt", lambda x: None if x is None else math.cbrt(float(x)), 1, **det)
    conn.create_scalar_function("pg_degrees", lambda x: None if x is None else math.degrees(float(x)), 1, **det)
    conn.create_scalar_function("pg_radians", lambda x: None if x is None else math.radians(float(x)), 1, **det)
    conn.create_scalar_function("pg_factorial", _factorial, 1, **det)
    conn.create_scalar_function("pg_unnest_zip", _unnest_zip, -1, **det)
    conn.create_scalar_function("pg_drop_not_null", drop_not_null_text, 2, **det)
    conn.create_scalar_function("pg_gcd", _gcd, 3, **det)
    conn.create_scalar_function("pg_lcm", _lcm, 3, **det)
    conn.create_scalar_function("pg_width_bucket", _width_bucket, 4, **det)
    conn.create_scalar_function("pg_scale", _scale, 1, **det)
    conn.create_scalar_function("pg_min_scale", _min_scale, 1, **det)
    conn.create_scalar_function("pg_trim_scale", _trim_scale, 1, **det)
    conn.create_scalar_function("pg_bit_length", lambda s: None if s is None else 8 * len(_bytes(s)), 1, **det)
    for _alg in ("sha224", "sha256", "sha384", "sha512"):
        conn.create_scalar_function(f"pg_{_alg}", _sha(_alg), 1, **det)
    conn.create_scalar_function("pg_quote_nullable", lambda s: "NULL" if s is None else _quote_literal(_text(s)),
                                1, **det)
    conn.create_scalar_function("pg_starts_with", lambda a, b: None if a is None or b is None else
                                int(_text(a).startswith(_text(b))), 2, **det)
    conn.create_scalar_function("pg_regexp_split", _regexp_split, -1, **det)
    conn.create_scalar_function("pg_justify_hours", lambda v: _justify(v, True, False), 1, **det)
    conn.create_scalar_function("pg_justify_days", lambda v: _justify(v, False, True), 1, **det)
    conn.create_scalar_function("pg_justify_interval", lambda v: _justify(v, True, True), 1, **det)
    conn.create_scalar_function("pg_array_ndims", _array_ndims, 1, **det)
    conn.create_scalar_function("pg_encode", _encode, 2, **det)
    conn.create_scalar_function("pg_decode", _decode, 2, **det)
    conn.create_scalar_function("pg_format", _format, -1, **det)
    conn.create_scalar_function("pg_regexp_match", _regexp_match, -1, **det)
    conn.create_scalar_function("pg_regexp_matches_json", _regexp_matches_json, -1, **det)
    conn.create_scalar_function("pg_similar_to", _similar_to, -1, **det)
    conn.create_scalar_function("pg_array_slice", _array_slice, 5, **det)
    conn.create_scalar_function("pg_regex", _regex_match, -1, **det)
    conn.create_scalar_function("pg_regexp_replace", _regexp_replace, -1, **det)
    conn.create_scalar_function("pg_to_date", _to_date, 2, **det)
    conn.create_scalar_function("pg_to_timestamp_fmt", _to_timestamp_fmt, 2, **det)
    conn.create_scalar_function("pg_array_remove", _array_remove, 2, **det)
    conn.create_scalar_function("pg_array_replace", _array_replace, 3, **det)
    conn.create_scalar_function(
        "pg_array_prepend", lambda v, arr: json.dumps([T.array_elem_storage(0, v)] + T.array_values(arr or "[]")), 2, **det)
