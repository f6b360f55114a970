"""Numeric arithmetic and math functions: translation and SQLite runtime (numeric is text)."""

from __future__ import annotations

import math
from collections.abc import Callable
from decimal import ROUND_HALF_UP, Decimal, localcontext
from typing import TYPE_CHECKING, Any

from sqlglot import exp

import compute.sql.types as ty
from compute import pgtypes as T
from compute.sql.api import SqlError
from compute.sql.functions.common import first_type, scalar_registrar, typed_udf
from compute.sql.functions.session import SessionContext
from compute.sql.translate.scope import Handler, Scope, fn, lit_int
from compute.sql.types import Ty

if TYPE_CHECKING:
    from compute.sql.translate.expressions import ExprCompiler


def _abs(c: ExprCompiler, args: list[exp.Expression], types: list[Ty], node: exp.Expression,
         scope: Scope) -> tuple[exp.Expression, Ty]:
    if types[0].oid == T.NUMERIC:
        return fn("pg_num_abs", args[0]), ty.NUMERIC
    if types[0].oid in ty.INTS:
        return fn("pg_check_int", fn("abs", args[0]), lit_int(types[0].oid)), first_type(types)
    return fn("abs", args[0]), first_type(types)


def _round(c: ExprCompiler, args: list[exp.Expression], types: list[Ty], node: exp.Expression,
           scope: Scope) -> tuple[exp.Expression, Ty]:
    name = node.name.lower()
    if types[0].oid in (*ty.FLOATS, *ty.INTS, T.UNKNOWN) and len(args) == 1:
        args, _ = numeric_or_float(c, args, types)
        if name == "round":
            return fn("pg_frint", args[0]), ty.FLOAT8
        return fn("trunc", args[0]), ty.FLOAT8
    return fn("pg_" + name, *args), ty.NUMERIC


def _floor(c: ExprCompiler, args: list[exp.Expression], types: list[Ty], node: exp.Expression,
           scope: Scope) -> tuple[exp.Expression, Ty]:
    name = "floor" if node.name.lower() == "floor" else "ceil"
    coerced, numeric = numeric_or_float(c, args, types)
    if numeric:
        return fn(f"pg_num_{name}", coerced[0]), ty.NUMERIC
    return fn(name, coerced[0]), ty.FLOAT8


def _mod(c: ExprCompiler, args: list[exp.Expression], types: list[Ty], node: exp.Expression,
         scope: Scope) -> tuple[exp.Expression, Ty]:
    return c.arith("%", args[0], types[0], args[1], types[1])


def _div(c: ExprCompiler, args: list[exp.Expression], types: list[Ty], node: exp.Expression,
         scope: Scope) -> tuple[exp.Expression, Ty]:
    return fn("pg_trunc", fn("pg_num_div", args[0], args[1])), ty.NUMERIC


def numeric_or_float(c: ExprCompiler, args: list[exp.Expression], types: list[Ty]
                      ) -> tuple[list[exp.Expression], bool]:
    """Math functions exist for numeric and float8; an integer or float argument picks float8
    (the preferred type), a numeric or unknown one numeric, as PostgreSQL resolves them."""
    numeric = any(t.oid == T.NUMERIC for t in types) and not any(t.oid in ty.FLOATS for t in types)
    target = ty.NUMERIC if numeric else ty.FLOAT8
    if all(t.oid == T.UNKNOWN for t in types):
        target, numeric = ty.FLOAT8, False
    return [c.coerce(a, t, target) for a, t in zip(args, types, strict=True)], numeric


def _transcendental(c: ExprCompiler, args: list[exp.Expression], types: list[Ty], node: exp.Expression,
                    scope: Scope) -> tuple[exp.Expression, Ty]:
    name = node.name.lower()
    coerced, numeric = numeric_or_float(c, args, types)
    if numeric:
        return fn(f"pg_num_{name}", *coerced), ty.NUMERIC
    return fn(f"pg_f{name}", *coerced), ty.FLOAT8


def _log(c: ExprCompiler, args: list[exp.Expression], types: list[Ty], node: exp.Expression,
         scope: Scope) -> tuple[exp.Expression, Ty]:
    if len(args) == 1:
        coerced, numeric = numeric_or_float(c, args, types)
        if numeric:
            return fn("pg_num_log10", *coerced), ty.NUMERIC
        return fn("pg_flog10", *coerced), ty.FLOAT8
    # log(b, x) exists only for numeric
    coerced = [c.coerce(a, t, ty.NUMERIC) for a, t in zip(args, types, strict=True)]
    return fn("pg_num_log", *coerced), ty.NUMERIC


def _power(c: ExprCompiler, args: list[exp.Expression], types: list[Ty], node: exp.Expression,
           scope: Scope) -> tuple[exp.Expression, Ty]:
    coerced, numeric = numeric_or_float(c, args, types)
    if numeric:
        return fn("pg_num_power", *coerced), ty.NUMERIC
    return fn("pg_fpower", *coerced), ty.FLOAT8


def _sign(c: ExprCompiler, args: list[exp.Expression], types: list[Ty], node: exp.Expression,
          scope: Scope) -> tuple[exp.Expression, Ty]:
    coerced, numeric = numeric_or_float(c, args, types)
    if numeric:
        return fn("sign", fn("pg_num_cmp", coerced[0], exp.Literal.string("0"))), ty.NUMERIC
    return fn("sign", coerced[0]), ty.FLOAT8


def _h_int_pair(udf: str) -> Handler:
    def handler(c: ExprCompiler, args: list[exp.Expression], types: list[Ty], node: exp.Expression,
                scope: Scope) -> tuple[exp.Expression, Ty]:
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
        return fn(udf, *out, lit_int(result.oid)), result

    return handler


def _h_width_bucket(c: ExprCompiler, args: list[exp.Expression], types: list[Ty], node: exp.Expression,
                    scope: Scope) -> tuple[exp.Expression, Ty]:
    if len(args) != 4:
        raise SqlError("0A000", "width_bucket(anyelement, anyarray) is not supported")
    num = T.NUMERIC if any(t.oid == T.NUMERIC for t in types[:3]) and not any(
        t.oid in ty.FLOATS for t in types[:3]) else T.FLOAT8
    out = [c.coerce(a, t, Ty(num)) for a, t in zip(args[:3], types[:3], strict=True)]
    return fn("pg_width_bucket", *out, c.coerce(args[3], types[3], ty.INT4)), ty.INT4


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


def _check_limit(value: Any, what: str) -> int:
    if value is None:
        return -1
    if int(value) < 0:
        raise SqlError("2201W" if what == "LIMIT" else "2201X", f"{what} must not be negative")
    return int(value)


# ------------------------------------------------------------------------------ numeric


def _dscale(value: Decimal) -> int:
    exp = value.as_tuple().exponent
    return max(-exp, 0) if isinstance(exp, int) else 0


def _dec(value: Any) -> Decimal | None:
    if value is None:
        return None
    return T.to_decimal(value)


def num_out(value: Decimal) -> str:
    return T.numeric_to_str(value)


def _weight_first(value: Decimal) -> tuple[int, int]:
    """Base-10000 weight and first base-10000 digit, as numeric.c sees them."""
    if value.is_zero():
        return 0, 0
    mag = value.copy_abs()
    weight = mag.adjusted() // 4
    first = int(mag.scaleb(-4 * weight))
    return weight, first


def div_scale(a: Decimal, b: Decimal) -> int:
    """numeric.c select_div_scale(): at least 16 significant digits."""
    w1, f1 = _weight_first(a)
    w2, f2 = _weight_first(b)
    qweight = w1 - w2
    if f1 <= f2:
        qweight -= 1
    rscale = 16 - qweight * 4
    rscale = max(rscale, _dscale(a), _dscale(b), 0)
    return min(rscale, 1000)


def numeric_div(a: Decimal, b: Decimal) -> Decimal:
    if b.is_zero():
        raise SqlError("22012", "division by zero")
    scale = div_scale(a, b)
    with localcontext() as ctx:
        ctx.prec = max(a.adjusted() - b.adjusted(), 0) + scale + 10
        return (a / b).quantize(Decimal(1).scaleb(-scale), rounding=ROUND_HALF_UP)


def _num_binary(op: Callable[[Decimal, Decimal], Decimal]) -> Callable[[Any, Any], str | None]:
    def fn(a: Any, b: Any) -> str | None:
        x, y = _dec(a), _dec(b)
        if x is None or y is None:
            return None
        with localcontext() as ctx:
            ctx.prec = 1000
            return num_out(op(x, y))

    return fn


def _num_mod(a: Decimal, b: Decimal) -> Decimal:
    if b.is_zero():
        raise SqlError("22012", "division by zero")
    return a % b


def _numeric_collation(a: str, b: str) -> int:
    """Order TEXT-stored numerics by value (NaN sorts last, as in PostgreSQL)."""
    if a == b:
        return 0
    try:
        x, y = Decimal(a), Decimal(b)
    except ArithmeticError:
        return -1 if a < b else 1
    if x.is_nan() or y.is_nan():
        return (1 if x.is_nan() else 0) - (1 if y.is_nan() else 0)
    return -1 if x < y else (1 if x > y else 0)


def _numeric_round(value: Any, places: Any = 0) -> str | None:
    dec = _dec(value)
    if dec is None or places is None:
        return None
    if not dec.is_finite():
        return num_out(dec)
    places = int(places)
    with localcontext() as ctx:
        ctx.prec = 1000
        rounded = dec.quantize(Decimal(1).scaleb(-places), rounding=ROUND_HALF_UP)
    return num_out(rounded if places >= 0 else rounded.quantize(Decimal(1)))


def _numeric_trunc(value: Any, places: Any = 0) -> str | None:
    dec = _dec(value)
    if dec is None or places is None:
        return None
    with localcontext() as ctx:
        ctx.prec = 1000
        return num_out(dec.quantize(Decimal(1).scaleb(-int(places)), rounding="ROUND_DOWN"))


HANDLERS: dict[str, Handler] = {
    "cbrt": typed_udf("pg_cbrt", ty.FLOAT8, [ty.FLOAT8], (1,)),
    "degrees": typed_udf("pg_degrees", ty.FLOAT8, [ty.FLOAT8], (1,)),
    "radians": typed_udf("pg_radians", ty.FLOAT8, [ty.FLOAT8], (1,)),
    "factorial": typed_udf("pg_factorial", ty.NUMERIC, [ty.INT8], (1,)),
    "scale": typed_udf("pg_scale", ty.INT4, [ty.NUMERIC], (1,)),
    "min_scale": typed_udf("pg_min_scale", ty.INT4, [ty.NUMERIC], (1,)),
    "trim_scale": typed_udf("pg_trim_scale", ty.NUMERIC, [ty.NUMERIC], (1,)),
    "gcd": _h_int_pair("pg_gcd"),
    "lcm": _h_int_pair("pg_lcm"),
    "width_bucket": _h_width_bucket,
    "abs": _abs,
    "round": _round,
    "trunc": _round,
    "floor": _floor,
    "ceil": _floor,
    "ceiling": _floor,
    "mod": _mod,
    "div": _div,
    "sqrt": _transcendental,
    "exp": _transcendental,
    "ln": _transcendental,
    "log10": _transcendental,
    "log": _log,
    "power": _power,
    "pow": _power,
    "sign": _sign,
}


def register_udfs(conn: Any, ctx: SessionContext) -> None:
    """The SQLite functions of this family, on one connection."""
    scalar = scalar_registrar(conn)
    det = {"deterministic": True}

    conn.create_collation("pgnumeric", _numeric_collation)

    # --- numeric
    scalar("pg_num_add", _num_binary(lambda a, b: a + b), 2, True)
    scalar("pg_num_sub", _num_binary(lambda a, b: a - b), 2, True)
    scalar("pg_num_mul", _num_binary(lambda a, b: a * b), 2, True)
    scalar("pg_num_div", _num_binary(numeric_div), 2, True)
    scalar("pg_num_mod", _num_binary(_num_mod), 2, True)
    scalar("pg_num_neg", lambda a: None if a is None else num_out(-T.to_decimal(a)), 1, True)
    scalar("pg_num_abs", lambda a: None if a is None else num_out(abs(T.to_decimal(a))), 1, True)
    scalar("pg_num_cmp", lambda a, b: None if a is None or b is None else
           _numeric_collation(num_out(T.to_decimal(a)), num_out(T.to_decimal(b))), 2, True)
    scalar("pg_round", _numeric_round, -1, True)
    scalar("pg_trunc", _numeric_trunc, -1, True)
    scalar("pg_num_floor", lambda a: None if a is None else num_out(T.to_decimal(a).to_integral_value("ROUND_FLOOR")), 1, True)
    scalar("pg_num_ceil", lambda a: None if a is None else num_out(T.to_decimal(a).to_integral_value("ROUND_CEILING")), 1, True)

    def int_div(a: Any, b: Any, oid: int = 0) -> Any:
        if a is None or b is None:
            return None
        if b == 0:
            raise SqlError("22012", "division by zero")
        if isinstance(a, float) or isinstance(b, float):
            return a / b
        q = abs(a) // abs(b)
        q = q if (a >= 0) == (b >= 0) else -q
        return T.check_int_range(oid or T.INT8, q)

    scalar("pg_div", int_div, -1, True)

    def int_mod(a: Any, b: Any) -> Any:
        if a is None or b is None:
            return None
        if b == 0:
            raise SqlError("22012", "division by zero")
        return int(math.fmod(a, b))

    scalar("pg_mod", int_mod, 2, True)

    def check_int(value: Any, oid: int) -> Any:
        if value is None:
            return None
        if isinstance(value, float):
            raise SqlError("22003", f"{T._err_name(oid)} out of range")
        return T.check_int_range(oid, value)

    scalar("pg_check_int", check_int, 2, True)
    conn.create_scalar_function("pg_check_limit", _check_limit, 2, **det)
    conn.create_scalar_function("pg_cbrt", lambda x: None if x is None else math.cbrt(float(x)), 1, **det)
    conn.create_scalar_function("pg_degrees", lambda x: None if x is None else math.degrees(float(x)), 1, **det)
    conn.create_scalar_function("pg_radians", lambda x: None if x is None else math.radians(float(x)), 1, **det)
    conn.create_scalar_function("pg_factorial", _factorial, 1, **det)
    conn.create_scalar_function("pg_gcd", _gcd, 3, **det)
    conn.create_scalar_function("pg_lcm", _lcm, 3, **det)
    conn.create_scalar_function("pg_width_bucket", _width_bucket, 4, **det)
    conn.create_scalar_function("pg_scale", _scale, 1, **det)
    conn.create_scalar_function("pg_min_scale", _min_scale, 1, **det)
    conn.create_scalar_function("pg_trim_scale", _trim_scale, 1, **det)
