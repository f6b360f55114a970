"""Range types: the constructors int4range(a, b [, '[]']) ..., lower/upper/isempty/lower_inc/
upper_inc/lower_inf/upper_inf/range_merge, and the operators @> <@ && << >> &< &> -|- + * -.

Values are stored as sort keys (compute/pgtypes/ranges.py); the UDFs decode, compute, re-encode.
Comparisons (= <> < > ORDER BY) are plain text comparisons of the keys.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from sqlglot import exp

import compute.sql.types as ty
from compute import pgtypes as T
from compute.pgtypes import ranges as R
from compute.sql.api import SqlError
from compute.sql.functions.common import scalar_registrar
from compute.sql.functions.datetime import tstz_out
from compute.sql.functions.session import SessionContext
from compute.sql.translate.scope import Handler, Scope, fn, lit_int
from compute.sql.types import Ty

if TYPE_CHECKING:
    from compute.sql.translate.expressions import ExprCompiler

RANGE_TYPES = tuple(R.SUBTYPE)
_BOOL_OPS = {"@>", "<@", "&&", "<<", ">>", "&<", "&>", "-|-"}
_SET_OPS = {"+", "*", "-"}
# range functions whose names other families also use (lower/upper): reached through call()
_FUNCTIONS = {"lower", "upper", "isempty", "lower_inc", "upper_inc", "lower_inf", "upper_inf", "range_merge"}


def _no_operator(op: str, lt: Ty, rt: Ty) -> SqlError:
    return SqlError("42883", f"operator does not exist: {T.format_type(lt.oid)} {op} {T.format_type(rt.oid)}",
                    hint="No operator matches the given name and argument types. You might need to add "
                         "explicit type casts.")


def operator(c: ExprCompiler, op: str, left: exp.Expression, lt: Ty, right: exp.Expression,
             rt: Ty) -> tuple[exp.Expression, Ty]:
    """A binary operator with a range operand."""
    if lt.oid == T.UNKNOWN and rt.oid in RANGE_TYPES:
        left, lt = c.coerce(left, lt, Ty(rt.oid)), Ty(rt.oid)
    if rt.oid == T.UNKNOWN and lt.oid in RANGE_TYPES:  # range @> unknown: the unknown is a range
        right, rt = c.coerce(right, rt, Ty(lt.oid)), Ty(lt.oid)
    if op == "@>" and lt.oid in RANGE_TYPES and rt.oid not in RANGE_TYPES:  # range @> element
        sub = Ty(R.SUBTYPE[lt.oid])
        return fn("pg_range_has", left, c.coerce(right, rt, sub), lit_int(lt.oid)), ty.BOOL
    if op == "<@" and rt.oid in RANGE_TYPES and lt.oid not in RANGE_TYPES:  # element <@ range
        sub = Ty(R.SUBTYPE[rt.oid])
        return fn("pg_range_has", right, c.coerce(left, lt, sub), lit_int(rt.oid)), ty.BOOL
    if lt.oid != rt.oid or lt.oid not in RANGE_TYPES:
        raise _no_operator(op, lt, rt)
    if op in _BOOL_OPS:
        return fn("pg_range_op", left, right, exp.Literal.string(op), lit_int(lt.oid)), ty.BOOL
    if op in _SET_OPS:
        return fn("pg_range_set", left, right, exp.Literal.string(op), lit_int(lt.oid)), Ty(lt.oid)
    raise _no_operator(op, lt, rt)


def call(c: ExprCompiler, name: str, args: list[exp.Expression],
         types: list[Ty]) -> tuple[exp.Expression, Ty] | None:
    """lower()/upper() and the other range functions on a range argument (None: not one)."""
    if name not in _FUNCTIONS or not types or types[0].oid not in RANGE_TYPES:
        return None
    oid = types[0].oid
    if name == "range_merge":
        if len(args) != 2 or types[1].oid not in (oid, T.UNKNOWN):
            raise _no_operator("range_merge", types[0], types[-1])
        return fn("pg_range_set", args[0], c.coerce(args[1], types[1], Ty(oid)), exp.Literal.string("merge"),
                  lit_int(oid)), Ty(oid)
    if len(args) != 1:
        return None
    result = Ty(R.SUBTYPE[oid]) if name in ("lower", "upper") else ty.BOOL
    return fn("pg_range_fn", args[0], exp.Literal.string(name), lit_int(oid)), result


def _constructor(oid: int) -> Handler:
    sub = Ty(R.SUBTYPE[oid])

    def handler(c: ExprCompiler, args: list[exp.Expression], types: list[Ty], node: exp.Expression,
                scope: Scope) -> tuple[exp.Expression, Ty]:
        if len(args) not in (2, 3):
            raise SqlError("42883", f"function {R.RANGE_NAMES[oid]} with {len(args)} arguments does not exist")
        bounds = [c.coerce(a, t, sub) for a, t in zip(args[:2], types[:2], strict=True)]
        flags = c.coerce(args[2], types[2], ty.TEXT) if len(args) == 3 else exp.Literal.string("[)")
        return fn("pg_range_make", *bounds, flags, lit_int(oid)), Ty(oid)

    return handler


def _multirange(c: ExprCompiler, args: list[exp.Expression], types: list[Ty], node: exp.Expression,
                scope: Scope) -> tuple[exp.Expression, Ty]:
    raise SqlError("0A000", f"{node.name.lower()}(): multirange types are not supported")


HANDLERS: dict[str, Handler] = {name: _constructor(oid) for oid, name in R.RANGE_NAMES.items()}
HANDLERS.update({name: _multirange for name in (
    "range_agg", "range_intersect_agg", "multirange", "int4multirange", "int8multirange", "nummultirange",
    "datemultirange", "tsmultirange", "tstzmultirange")})
HANDLERS.update({name: (lambda c, a, t, n, s: _bad_call(n, t)) for name in _FUNCTIONS - {"lower", "upper"}})


def _bad_call(node: exp.Expression, types: list[Ty]) -> tuple[exp.Expression, Ty]:
    shown = ", ".join(T.format_type(t.oid) if t.oid != T.UNKNOWN else "unknown" for t in types)
    raise SqlError("42883", f"function {node.name.lower()}({shown}) does not exist",
                   hint="No function matches the given name and argument types. You might need to add "
                        "explicit type casts.")


# ------------------------------------------------------------------------------ runtime


def _cmp_lower(sub: int, a: R.Range, b: R.Range) -> int:
    """range_cmp_bounds for two lower bounds (-infinity first, inclusive before exclusive)."""
    if a.lower is None or b.lower is None:
        return (b.lower is None) - (a.lower is None)
    order = R.compare(sub, a.lower, b.lower)
    return order if order else (b.lower_inc - a.lower_inc)


def _cmp_upper(sub: int, a: R.Range, b: R.Range) -> int:
    """Two upper bounds (+infinity last, exclusive before inclusive)."""
    if a.upper is None or b.upper is None:
        return (a.upper is None) - (b.upper is None)
    order = R.compare(sub, a.upper, b.upper)
    return order if order else (a.upper_inc - b.upper_inc)


def _upper_before_lower(sub: int, a: R.Range, b: R.Range) -> bool:
    """a's upper bound lies strictly before b's lower bound (no point in common)."""
    if a.upper is None or b.lower is None:
        return False
    order = R.compare(sub, a.upper, b.lower)
    return order < 0 or (order == 0 and not (a.upper_inc and b.lower_inc))


def _adjacent(sub: int, a: R.Range, b: R.Range) -> bool:
    if a.upper is None or b.lower is None:
        return False
    return R.compare(sub, a.upper, b.lower) == 0 and a.upper_inc != b.lower_inc


def _contains(sub: int, a: R.Range, b: R.Range) -> bool:
    if b.empty:
        return True
    if a.empty:
        return False
    return _cmp_lower(sub, a, b) <= 0 and _cmp_upper(sub, a, b) >= 0


def _bool_op(sub: int, a: R.Range, b: R.Range, op: str) -> bool:
    if op == "@>":
        return _contains(sub, a, b)
    if op == "<@":
        return _contains(sub, b, a)
    if a.empty or b.empty:
        return False
    if op == "&&":
        return not (_upper_before_lower(sub, a, b) or _upper_before_lower(sub, b, a))
    if op == "<<":
        return _upper_before_lower(sub, a, b)
    if op == ">>":
        return _upper_before_lower(sub, b, a)
    if op == "&<":
        return _cmp_upper(sub, a, b) <= 0
    if op == "&>":
        return _cmp_lower(sub, a, b) >= 0
    return _adjacent(sub, a, b) or _adjacent(sub, b, a)  # -|-


def _union(oid: int, a: R.Range, b: R.Range, strict: bool) -> R.Range:
    sub = R.SUBTYPE[oid]
    if a.empty:
        return b
    if b.empty:
        return a
    if strict and not _bool_op(sub, a, b, "&&") and not _bool_op(sub, a, b, "-|-"):
        raise SqlError("22000", "result of range union would not be contiguous")
    low = a if _cmp_lower(sub, a, b) <= 0 else b
    high = a if _cmp_upper(sub, a, b) >= 0 else b
    return R.make(oid, low.lower, high.upper, low.lower_inc, high.upper_inc)


def _intersection(oid: int, a: R.Range, b: R.Range) -> R.Range:
    sub = R.SUBTYPE[oid]
    if a.empty or b.empty or not _bool_op(sub, a, b, "&&"):
        return R.EMPTY
    low = a if _cmp_lower(sub, a, b) >= 0 else b
    high = a if _cmp_upper(sub, a, b) <= 0 else b
    return R.make(oid, low.lower, high.upper, low.lower_inc, high.upper_inc)


def _difference(oid: int, a: R.Range, b: R.Range) -> R.Range:
    sub = R.SUBTYPE[oid]
    if a.empty or b.empty or not _bool_op(sub, a, b, "&&"):
        return a
    low_inside = _cmp_lower(sub, a, b) >= 0  # b starts at or before a
    high_inside = _cmp_upper(sub, a, b) <= 0  # b ends at or after a
    if not low_inside and not high_inside:
        raise SqlError("22000", "result of range difference would not be contiguous")
    if low_inside and high_inside:
        return R.EMPTY
    if low_inside:  # keep what is after b
        return R.make(oid, b.upper, a.upper, not b.upper_inc, a.upper_inc)
    return R.make(oid, a.lower, b.lower, a.lower_inc, not b.lower_inc)  # keep what is before b


def _set_op(a: str, b: str, op: str, oid: int) -> str:
    sub = R.SUBTYPE[oid]
    x, y = R.from_key(sub, a), R.from_key(sub, b)
    if op == "+":
        out = _union(oid, x, y, True)
    elif op == "merge":
        out = _union(oid, x, y, False)
    elif op == "*":
        out = _intersection(oid, x, y)
    else:
        out = _difference(oid, x, y)
    return R.key(sub, out)


def _range_fn(value: str, name: str, oid: int) -> Any:
    r = R.from_key(R.SUBTYPE[oid], value)
    if name == "isempty":
        return int(r.empty)
    if name in ("lower", "upper"):
        return r.lower if name == "lower" else r.upper
    if name in ("lower_inc", "upper_inc"):
        return int(r.lower_inc if name == "lower_inc" else r.upper_inc)
    return int(not r.empty and (r.lower is None if name == "lower_inf" else r.upper is None))


def _has(value: str, element: Any, oid: int) -> int:
    sub = R.SUBTYPE[oid]
    r = R.from_key(sub, value)
    if r.empty:
        return 0
    point = R.Range(False, element, element, True, True)
    return int(_contains(sub, r, point))


def _make(lower: Any, upper: Any, flags: str | None, oid: int) -> str | None:
    if flags is None:
        raise SqlError("22000", "range constructor flags argument must not be null")
    lower_inc, upper_inc = R.parse_flags(flags)
    return R.key(R.SUBTYPE[oid], R.make(oid, lower, upper, lower_inc, upper_inc))


def _nullsafe(func: Callable[..., Any]) -> Callable[..., Any]:
    def run(*args: Any) -> Any:
        return None if any(a is None for a in args) else func(*args)
    return run


def _tstzrange_out(ctx: SessionContext) -> Callable[[str | None], str | None]:
    """A tstzrange key whose bounds read in the session's TimeZone (as pg_tstz_out does for values)."""
    def out(value: str | None) -> str | None:
        if value is None or ctx.timezone in ("UTC", "utc", "Etc/UTC"):
            return value
        r = R.from_key(T.TIMESTAMPTZ, value)
        if r.empty:
            return value
        shown = R.Range(False, None if r.lower is None else tstz_out(ctx, r.lower),
                        None if r.upper is None else tstz_out(ctx, r.upper), r.lower_inc, r.upper_inc)
        return R.key(T.TIMESTAMPTZ, shown)
    return out


def register_udfs(conn: Any, ctx: SessionContext) -> None:
    """The SQLite functions of this family, on one connection."""
    scalar = scalar_registrar(conn)
    scalar("pg_range_make", _make, 4, True)
    scalar("pg_range_op", _nullsafe(lambda a, b, op, oid: int(_bool_op(
        R.SUBTYPE[oid], R.from_key(R.SUBTYPE[oid], a), R.from_key(R.SUBTYPE[oid], b), op))), 4, True)
    scalar("pg_range_set", _nullsafe(_set_op), 4, True)
    scalar("pg_range_fn", _nullsafe(_range_fn), 3, True)
    scalar("pg_range_has", _nullsafe(_has), 3, True)
    scalar("pg_tstzrange_out", _tstzrange_out(ctx), 1)
