"""Float and numeric math with PostgreSQL's semantics, as SQLite user functions.

Why this exists: SQLite's own float operators and math functions return NULL for sqrt(-1)
and ln(0), turn overflow into Infinity, and cannot hold NaN (SQLite stores a NaN double as
NULL). PostgreSQL raises 2201F / 2201E / 22003 instead, and NaN is a value that sorts above
every number. So:

* a float NaN is stored as the TEXT ``'NaN'``. SQLite orders TEXT after every number, and
  ``'NaN' = 'NaN'`` holds, which is exactly PostgreSQL's float ordering;
* float ``+ - *`` go through ``pg_fadd``/``pg_fsub``/``pg_fmul``, which check overflow and
  underflow like float.c and propagate NaN;
* numeric sqrt/ln/log/exp/power choose their result scale with numeric.c's rules
  (NUMERIC_MIN_SIG_DIGITS = 16), so ``sqrt(16::numeric)`` prints ``4.000000000000000``.
"""

from __future__ import annotations

import math
import random
from collections.abc import Callable
from decimal import ROUND_HALF_UP, Context, Decimal, localcontext
from typing import TYPE_CHECKING, Any

import compute.sql.types as ty
from compute import pgtypes as T
from compute.sql.api import SqlError
from compute.sql.functions.common import scalar_registrar, simple
from compute.sql.functions.session import SessionContext
from compute.sql.translate.scope import Handler

if TYPE_CHECKING:
    pass





NAN_TEXT = "NaN"
MIN_SIG_DIGITS = 16  # numeric.c NUMERIC_MIN_SIG_DIGITS
MAX_DISPLAY_SCALE = 1000  # numeric.c NUMERIC_MAX_DISPLAY_SCALE


# ------------------------------------------------------------------------------ floats


def float_in(value: Any) -> float | None:
    """A float storage value (REAL, INTEGER or the TEXT 'NaN') as a Python float."""
    if value is None:
        return None
    if isinstance(value, str):
        return T.parse_float(T.FLOAT8, value)
    return float(value)


def float_out(value: float) -> float | str:
    """The storage form of a float result: NaN becomes the TEXT 'NaN' (SQLite would NULL it)."""
    return NAN_TEXT if value != value else value


def _overflow() -> SqlError:
    return SqlError("22003", "value out of range: overflow")


def _underflow() -> SqlError:
    return SqlError("22003", "value out of range: underflow")


def _checked(result: float, a: float, b: float, zero_ok: bool) -> float | str:
    """float.c's check_float8_val: Infinity only from Infinity, zero only when allowed."""
    if math.isinf(result) and not (math.isinf(a) or math.isinf(b)):
        raise _overflow()
    if result == 0.0 and not zero_ok:
        raise _underflow()
    return float_out(result)


def _float_op(op: Callable[[float, float], float], zero_ok: Callable[[float, float], bool]
              ) -> Callable[[Any, Any], float | str | None]:
    def run(a: Any, b: Any) -> float | str | None:
        x, y = float_in(a), float_in(b)
        if x is None or y is None:
            return None
        try:
            result = op(x, y)
        except OverflowError:
            raise _overflow() from None
        return _checked(result, x, y, zero_ok(x, y))

    return run


float_add = _float_op(lambda a, b: a + b, lambda a, b: True)
float_sub = _float_op(lambda a, b: a - b, lambda a, b: True)
float_mul = _float_op(lambda a, b: a * b, lambda a, b: a == 0.0 or b == 0.0)


def float_div(a: Any, b: Any) -> float | str | None:
    x, y = float_in(a), float_in(b)
    if x is None or y is None:
        return None
    if y == 0.0:
        raise SqlError("22012", "division by zero")
    return _checked(x / y, x, y, x == 0.0 or math.isinf(y))


def float_neg(a: Any) -> float | str | None:
    x = float_in(a)
    return None if x is None else float_out(-x)


def float_sqrt(a: Any) -> float | str | None:
    x = float_in(a)
    if x is None:
        return None
    if x < 0:
        raise SqlError("2201F", "cannot take square root of a negative number")
    return float_out(math.sqrt(x)) if not math.isinf(x) else x


def _float_log(x: float, log: Callable[[float], float]) -> float | str:
    if x == 0.0:
        raise SqlError("2201E", "cannot take logarithm of zero")
    if x < 0:
        raise SqlError("2201E", "cannot take logarithm of a negative number")
    if x != x or math.isinf(x):
        return float_out(x)
    return log(x)


def float_ln(a: Any) -> float | str | None:
    x = float_in(a)
    return None if x is None else _float_log(x, math.log)


def float_log10(a: Any) -> float | str | None:
    x = float_in(a)
    return None if x is None else _float_log(x, math.log10)


def float_exp(a: Any) -> float | str | None:
    x = float_in(a)
    if x is None:
        return None
    if x != x:
        return NAN_TEXT
    try:
        result = math.exp(x)
    except OverflowError:
        raise _overflow() from None
    if result == 0.0 and not math.isinf(x):
        raise _underflow()
    return result


def float_power(a: Any, b: Any) -> float | str | None:
    x, y = float_in(a), float_in(b)
    if x is None or y is None:
        return None
    if x != x:
        return 1.0 if y == 0.0 else NAN_TEXT
    if y != y:
        return 1.0 if x == 1.0 else NAN_TEXT
    if x == 0.0 and y < 0:
        raise SqlError("2201F", "zero raised to a negative power is undefined")
    if x < 0 and not math.isinf(y) and y != math.floor(y):
        raise SqlError("2201F", "a negative number raised to a non-integer power yields a complex result")
    try:
        result = math.pow(x, y)
    except OverflowError:
        raise _overflow() from None
    return _checked(result, x, y, True)


def float_rint(a: Any) -> float | str | None:
    """round(float8) is C's rint(): halves go to the even neighbour."""
    x = float_in(a)
    if x is None:
        return None
    if x != x or math.isinf(x):
        return float_out(x)
    return math.copysign(float(round(x)), x)  # rint(-0.5) is -0


def float_to_float4(a: Any) -> float | str | None:
    """float8 -> float4 assignment: round to single precision, 22003 when out of range."""
    x = float_in(a)
    if x is None:
        return None
    if x != x or math.isinf(x):
        return float_out(x)
    if abs(x) > 3.4028234663852886e38:
        raise _overflow()
    single = T.round_float4(x)
    if single == 0.0 and x != 0.0:
        raise _underflow()
    return single


# ------------------------------------------------------------------------------ numeric


def _dec(value: Any) -> Decimal | None:
    return None if value is None else T.to_decimal(value)


def _dscale(value: Decimal) -> int:
    exponent = value.as_tuple().exponent
    return max(0, -exponent) if isinstance(exponent, int) else 0


def _clamp_scale(*candidates: int) -> int:
    return min(max(*candidates, 0), MAX_DISPLAY_SCALE)


def _rounded(value: Decimal, scale: int) -> str:
    with localcontext() as ctx:
        ctx.prec = max(value.adjusted(), 0) + scale + 5
        return T.numeric_to_str(value.quantize(Decimal(1).scaleb(-scale), rounding=ROUND_HALF_UP))


def _ln_dweight(value: Decimal) -> int:
    """numeric.c estimate_ln_dweight: the decimal weight of ln(value)."""
    if value <= 0:
        return 0
    if Decimal("0.9") <= value <= Decimal("1.1"):
        delta = value - 1
        return delta.adjusted() if not delta.is_zero() else 0
    ln = float(value.ln(Context(prec=40)))
    return int(math.log10(abs(ln))) if ln != 0 else 0


def _work_prec(scale: int, value: Decimal) -> int:
    return scale + abs(value.adjusted()) + 20


def numeric_sqrt(a: Any) -> str | None:
    x = _dec(a)
    if x is None:
        return None
    if x.is_nan():
        return NAN_TEXT
    if x < 0:
        raise SqlError("2201F", "cannot take square root of a negative number")
    if x.is_infinite():
        return "Infinity"
    weight = x.copy_abs().adjusted() // 4 if not x.is_zero() else 0
    sweight = (weight + 1) * 4 // 2 - 1
    scale = _clamp_scale(MIN_SIG_DIGITS - sweight, _dscale(x))
    with localcontext() as ctx:
        ctx.prec = _work_prec(scale, x)
        return _rounded(x.sqrt(), scale)


def _check_log_arg(x: Decimal) -> None:
    if x.is_zero():
        raise SqlError("2201E", "cannot take logarithm of zero")
    if x < 0:
        raise SqlError("2201E", "cannot take logarithm of a negative number")


def numeric_ln(a: Any) -> str | None:
    x = _dec(a)
    if x is None:
        return None
    if x.is_nan() or (x.is_infinite() and x > 0):
        return T.numeric_to_str(x)
    _check_log_arg(x)
    scale = _clamp_scale(MIN_SIG_DIGITS - _ln_dweight(x), _dscale(x))
    with localcontext() as ctx:
        ctx.prec = scale + 40
        return _rounded(x.ln(), scale)


def numeric_log(base: Any, a: Any) -> str | None:
    """log(b, x) on numeric, and log(x) = log(10, x)."""
    b, x = _dec(base), _dec(a)
    if b is None or x is None:
        return None
    if b.is_nan() or x.is_nan():
        return NAN_TEXT
    _check_log_arg(b)
    _check_log_arg(x)
    if b == 1:
        raise SqlError("22012", "division by zero")
    scale = _clamp_scale(MIN_SIG_DIGITS - (_ln_dweight(x) - _ln_dweight(b)), _dscale(b), _dscale(x))
    with localcontext() as ctx:
        ctx.prec = scale + 40
        return _rounded(x.ln() / b.ln(), scale)


def numeric_log10(a: Any) -> str | None:
    return numeric_log("10", a)


def numeric_exp(a: Any) -> str | None:
    x = _dec(a)
    if x is None:
        return None
    if x.is_nan():
        return NAN_TEXT
    if x.is_infinite():
        return "Infinity" if x > 0 else "0"
    weight = float(x) * 0.434294481903252
    if weight > 131072:
        raise SqlError("22003", "value overflows numeric format")
    weight = max(min(weight, 2000.0), -2000.0)
    scale = _clamp_scale(MIN_SIG_DIGITS - int(weight), _dscale(x))
    with localcontext() as ctx:
        ctx.prec = scale + max(int(weight), 0) + 20
        return _rounded(x.exp(), scale)


def numeric_power(base: Any, exponent: Any) -> str | None:
    b, e = _dec(base), _dec(exponent)
    if b is None or e is None:
        return None
    if b.is_nan() or e.is_nan():
        if (b == 1 and not b.is_nan()) or (e.is_zero() and not e.is_nan()):
            return "1"
        return NAN_TEXT
    if e.is_zero():
        return _rounded(Decimal(1), _clamp_scale(MIN_SIG_DIGITS, _dscale(b)))
    if b.is_zero() and e < 0:
        raise SqlError("2201F", "zero raised to a negative power is undefined")
    integral = e == e.to_integral_value()
    if b < 0 and not integral:
        raise SqlError("2201F", "a negative number raised to a non-integer power yields a complex result")
    if integral:
        scale = _clamp_scale(MIN_SIG_DIGITS, _dscale(b))
    elif b.is_zero():
        scale = _clamp_scale(MIN_SIG_DIGITS, _dscale(b), _dscale(e))
    else:
        estimate = float(b.ln(Context(prec=30)) * e) * 0.434294481903252
        if estimate > 131072:
            raise SqlError("22003", "value overflows numeric format")
        scale = _clamp_scale(MIN_SIG_DIGITS - int(estimate), _dscale(b), _dscale(e))
    magnitude = abs(float(e)) * max(abs(b.adjusted()), 1) if not b.is_zero() else 1
    if magnitude > 200000:
        raise SqlError("22003", "value overflows numeric format")
    with localcontext() as ctx:
        ctx.prec = scale + int(magnitude) + 30
        result = b ** int(e) if integral else (e * b.ln()).exp()
        return _rounded(result, scale)


def _register_float_numeric(scalar: Callable[..., None]) -> None:
    """Install every function above into one SQLite connection (all deterministic)."""
    for name, func, nargs in (
        ("pg_fadd", float_add, 2), ("pg_fsub", float_sub, 2), ("pg_fmul", float_mul, 2),
        ("pg_fdiv", float_div, 2), ("pg_fneg", float_neg, 1),
        ("pg_fsqrt", float_sqrt, 1), ("pg_fln", float_ln, 1), ("pg_flog10", float_log10, 1),
        ("pg_fexp", float_exp, 1), ("pg_fpower", float_power, 2), ("pg_frint", float_rint, 1),
        ("pg_to_float4", float_to_float4, 1),
        ("pg_num_sqrt", numeric_sqrt, 1), ("pg_num_ln", numeric_ln, 1),
        ("pg_num_log", numeric_log, 2), ("pg_num_log10", numeric_log10, 1),
        ("pg_num_exp", numeric_exp, 1), ("pg_num_power", numeric_power, 2),
    ):
        scalar(name, func, nargs, True)


HANDLERS: dict[str, Handler] = {
    "random": simple("pg_random", ty.FLOAT8),
    "pi": simple("pi", ty.FLOAT8),
    "sin": simple("sin", ty.FLOAT8),
    "cos": simple("cos", ty.FLOAT8),
    "tan": simple("tan", ty.FLOAT8),
    "atan": simple("atan", ty.FLOAT8),
    "atan2": simple("atan2", ty.FLOAT8),
}


def register_udfs(conn: Any, ctx: SessionContext) -> None:
    """The SQLite functions of this family, on one connection."""
    scalar = scalar_registrar(conn)
    _register_float_numeric(scalar)
    scalar("pg_random", lambda: random.random(), 0)
