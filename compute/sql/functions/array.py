"""Array functions (arrays are stored as JSON text): translation and SQLite runtime."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from sqlglot import exp

import compute.sql.types as ty
from compute import pgtypes as T
from compute.pgtypes.multidim import MAX_DIMS, check_rectangular, dims, flatten
from compute.sql.api import SqlError
from compute.sql.functions.common import first_type, scalar_registrar, simple, type_names, typed_udf
from compute.sql.functions.session import SessionContext
from compute.sql.functions.text import text_out
from compute.sql.translate.scope import Handler, Scope, fn, lit_int
from compute.sql.types import Ty

if TYPE_CHECKING:
    from compute.sql.translate.expressions import ExprCompiler


def _array_to_string(c: ExprCompiler, args: list[exp.Expression], types: list[Ty], node: exp.Expression,
                     scope: Scope) -> tuple[exp.Expression, Ty]:
    """Elements print as their type's text output (t/f, JSON, \\x hex), as array_out does."""
    if len(args) not in (2, 3):
        raise SqlError("42883", f"function array_to_string({', '.join(type_names(types))}) does not exist")
    elem = types[0].element if types[0].is_array else ty.TEXT
    rest = [c.coerce(a, t, ty.TEXT) for a, t in zip(args[1:], types[1:], strict=True)]
    if len(rest) == 1:
        rest.append(exp.Null())
    return fn("pg_array_to_string", args[0], *rest, lit_int(elem.oid)), ty.TEXT


def _array_and_elem(c: ExprCompiler, arr: exp.Expression, at: Ty, elem: exp.Expression,
                    et: Ty) -> tuple[exp.Expression, Ty, exp.Expression]:
    if at.oid == T.UNKNOWN:
        base = et if et.oid != T.UNKNOWN else ty.TEXT
        at = Ty(ty.array_of(base.oid))
        arr = c.coerce(arr, ty.UNKNOWN, at)
    if not at.is_array:
        raise SqlError("42883", f"function does not exist for argument type {T.format_type(at.oid)}")
    return arr, Ty(at.oid), c.coerce(elem, et, at.element)


def _h_array_remove(c: ExprCompiler, args: list[exp.Expression], types: list[Ty], node: exp.Expression,
                    scope: Scope) -> tuple[exp.Expression, Ty]:
    if len(args) != 2:
        raise SqlError("42883", "function array_remove does not exist")
    arr, at, elem = _array_and_elem(c, args[0], types[0], args[1], types[1])
    return fn("pg_array_remove", arr, elem), at


def _h_array_replace(c: ExprCompiler, args: list[exp.Expression], types: list[Ty], node: exp.Expression,
                     scope: Scope) -> tuple[exp.Expression, Ty]:
    if len(args) != 3:
        raise SqlError("42883", "function array_replace does not exist")
    arr, at, old = _array_and_elem(c, args[0], types[0], args[1], types[1])
    new = c.coerce(args[2], types[2], at.element)
    return fn("pg_array_replace", arr, old, new), at


def _h_array_prepend(c: ExprCompiler, args: list[exp.Expression], types: list[Ty], node: exp.Expression,
                     scope: Scope) -> tuple[exp.Expression, Ty]:
    if len(args) != 2:
        raise SqlError("42883", "function array_prepend does not exist")
    arr, at, elem = _array_and_elem(c, args[1], types[1], args[0], types[0])
    return fn("pg_array_prepend", elem, arr), at


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


def _array_dims(arr: Any) -> str | None:
    """array_dims(): ``[1:2][1:3]``, NULL for an empty array."""
    if arr is None:
        return None
    shape = dims(T.array_values(arr))
    return "".join(f"[1:{n}]" for n in shape) if shape else None


def _array_length(arr: Any, dim: Any = 1) -> int | None:
    """array_length(a, d): the length of dimension d, NULL if a has no such dimension."""
    if arr is None or dim is None:
        return None
    shape = dims(T.array_values(arr))
    d = int(dim)
    return shape[d - 1] if 1 <= d <= len(shape) else None


def _array_nest(*subs: Any) -> str | None:
    """ARRAY[sub, sub, ...] of arrays: one more dimension; the sub-arrays must match (2202E)."""
    items = [T.array_values(s) for s in subs if s is not None]
    if all(not i for i in items):
        return "[]"
    check_rectangular(items, lambda: SqlError(
        "2202E", "multidimensional arrays must have array expressions with matching dimensions"))
    return json.dumps(items, separators=(",", ":"), ensure_ascii=False)


def _array_flat(arr: Any) -> Any:
    """unnest's input: a multidimensional array's elements in storage order (others as they are)."""
    if not isinstance(arr, str) or not arr.startswith("[["):
        return arr
    return json.dumps(flatten(T.array_values(arr)), separators=(",", ":"), ensure_ascii=False)


def _array_accum(rows: Any, empty_is_null: int) -> str | None:
    """ARRAY(SELECT array): the arrays (a JSON array of them) as one more dimension."""
    return _accumulate(T.array_values(rows), bool(empty_is_null))


class _ArrayAggNd:
    """array_agg(array): the arrays as one more dimension, NULL for no rows."""

    def __init__(self) -> None:
        self.items: list[Any] = []

    def step(self, value: Any) -> None:
        self.items.append(None if value is None else T.array_values(value))

    def final(self) -> str | None:
        return _accumulate(self.items, True)


def _array_agg_nd_factory() -> tuple[Any, Any, Any]:
    agg = _ArrayAggNd()
    return agg, lambda _ctx, value: agg.step(value), lambda _ctx: agg.final()


def _accumulate(items: list[Any], empty_is_null: bool) -> str | None:
    """accumArrayResult's checks: no NULL or empty arrays, all of the same dimensions."""
    if not items:
        return None if empty_is_null else "[]"
    if any(item is None for item in items):
        raise SqlError("22004", "cannot accumulate null arrays")
    if any(item == [] for item in items):
        raise SqlError("2202E", "cannot accumulate empty arrays")
    check_rectangular(items, lambda: SqlError("2202E", "cannot accumulate arrays of different dimensionality"))
    return json.dumps(items, separators=(",", ":"), ensure_ascii=False)


def _array_path(*indexes: Any) -> str | None:
    """a[i][j]: the JSON path of that element (NULL below subscript 1: no element)."""
    if any(i is None or int(i) < 1 for i in indexes):
        return None
    return "$" + "".join(f"[{int(i) - 1}]" for i in indexes)


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


def _dim_path(dim: exp.Expression) -> exp.Expression | None:
    """The JSON path of dimension ``dim``'s first sub-array when ``dim`` is a literal above 1."""
    if isinstance(dim, exp.Literal) and not dim.is_string and dim.this.isdigit() and 1 < int(dim.this) <= MAX_DIMS:
        return exp.Literal.string("$" + "[0]" * (int(dim.this) - 1))
    return None


def _array_upper(c: ExprCompiler, args: list[exp.Expression], types: list[Ty], node: exp.Expression,
                 scope: Scope) -> tuple[exp.Expression, Ty]:
    if len(args) != 2:
        raise SqlError("42883", "function array_upper with these arguments does not exist")
    path = _dim_path(args[1])
    if path is not None:  # array_upper(a, 2): the length of a's first sub-array (0 if none)
        return fn("nullif", fn("json_array_length", args[0], path), lit_int(0)), Ty(T.INT4)
    # one-dimensional arrays are JSON arrays; an empty array has no upper bound
    length = fn("json_array_length", args[0])
    upper = fn("nullif", length, lit_int(0))
    return exp.Case(ifs=[exp.If(this=exp.EQ(this=args[1], expression=lit_int(1)), true=upper)]), Ty(T.INT4)


def _array_lower(c: ExprCompiler, args: list[exp.Expression], types: list[Ty], node: exp.Expression,
                 scope: Scope) -> tuple[exp.Expression, Ty]:
    if len(args) != 2:
        raise SqlError("42883", "function array_lower with these arguments does not exist")
    path = _dim_path(args[1])
    if path is not None:  # array_lower(a, 2): 1 if a has that dimension
        return exp.Case(ifs=[exp.If(this=exp.GT(this=fn("json_array_length", args[0], path), expression=lit_int(0)),
                                    true=lit_int(1))]), Ty(T.INT4)
    nonempty = exp.GT(this=fn("json_array_length", args[0]), expression=lit_int(0))
    cond = exp.And(this=nonempty, expression=exp.EQ(this=args[1], expression=lit_int(1)))
    return exp.Case(ifs=[exp.If(this=cond, true=lit_int(1))]), Ty(T.INT4)


HANDLERS: dict[str, Handler] = {
    "array_upper": _array_upper,
    "array_lower": _array_lower,
    "array_remove": _h_array_remove,
    "array_replace": _h_array_replace,
    "array_prepend": _h_array_prepend,
    "array_ndims": typed_udf("pg_array_ndims", ty.INT4, None, (1,)),
    "array_dims": typed_udf("pg_array_dims", ty.TEXT, None, (1,)),
    "array_position": simple("array_position", ty.INT4),
    "array_length": simple("pg_array_length", ty.INT4),
    "cardinality": simple("pg_cardinality", ty.INT4),
    "array_to_string": _array_to_string,
    "string_to_array": simple("pg_string_to_array", Ty(T.TEXT_ARRAY)),
    "array_append": simple("pg_array_append", first_type),
    "array_cat": simple("pg_array_cat", first_type),
}


def register_udfs(conn: Any, ctx: SessionContext) -> None:
    """The SQLite functions of this family, on one connection."""
    scalar = scalar_registrar(conn)
    det = {"deterministic": True}

    # --- arrays (stored as JSON text)
    def array_position(arr: Any, elem: Any) -> Any:
        if arr is None:
            return None
        for i, item in enumerate(T.array_values(arr)):
            if item == elem or (item is not None and elem is not None and str(item) == str(elem)):
                return i + 1
        return None

    scalar("array_position", array_position, -1, True)
    scalar("pg_array_length", _array_length, -1, True)
    scalar("pg_cardinality", lambda arr: None if arr is None else len(flatten(T.array_values(arr))), 1, True)
    def array_to_string(arr: Any, sep: Any, null: Any = None, elem: Any = None) -> Any:
        if arr is None or sep is None:
            return None
        items = T.array_values(arr)
        if elem is None or int(elem) not in (T.JSON, T.JSONB):
            items = flatten(items)  # a multidimensional array's elements in storage order
        if elem is None:
            return str(sep).join(text_out(v) if v is not None else null for v in items
                                 if v is not None or null is not None)
        elem = int(elem)
        return str(sep).join(
            T.encode_text(elem, T.array_elem_value(elem, v)).decode() if v is not None else null
            for v in items if v is not None or null is not None)

    scalar("pg_array_to_string", array_to_string, -1, True)
    scalar("pg_string_to_array", lambda s, sep: None if s is None else json.dumps(
        str(s).split(sep) if sep else list(str(s))), 2, True)
    scalar("pg_array_append", lambda arr, v: json.dumps(T.array_values(arr or "[]") + [T.array_elem_storage(0, v)]),
           2, True)
    scalar("pg_array_cat", lambda a, b: None if a is None and b is None else
           json.dumps(T.array_values(a or "[]") + T.array_values(b or "[]")), 2, True)
    def array_contains(a: Any, b: Any) -> Any:
        if a is None or b is None:
            return None
        have = {json.dumps(v) for v in T.array_values(a) if v is not None}
        return 1 if all(v is not None and json.dumps(v) in have for v in T.array_values(b)) else 0

    def array_overlaps(a: Any, b: Any) -> Any:
        if a is None or b is None:
            return None
        have = {json.dumps(v) for v in T.array_values(a) if v is not None}
        return 1 if any(v is not None and json.dumps(v) in have for v in T.array_values(b)) else 0

    scalar("pg_array_contains", array_contains, 2, True)
    scalar("pg_array_overlaps", array_overlaps, 2, True)
    scalar("pg_array_in", lambda text, elem: None if text is None else T.parse_array(int(elem), str(text)), 2, True)
    conn.create_scalar_function("pg_array_ndims", _array_ndims, 1, **det)
    conn.create_scalar_function("pg_array_dims", _array_dims, 1, **det)
    conn.create_scalar_function("pg_array_nest", _array_nest, -1, **det)
    conn.create_scalar_function("pg_array_path", _array_path, -1, **det)
    conn.create_scalar_function("pg_array_flat", _array_flat, 1, **det)
    conn.create_scalar_function("pg_array_accum", _array_accum, 2, **det)
    conn.create_aggregate_function("pg_array_agg_nd", _array_agg_nd_factory, 1)
    conn.create_scalar_function("pg_array_slice", _array_slice, 5, **det)
    conn.create_scalar_function("pg_array_remove", _array_remove, 2, **det)
    conn.create_scalar_function("pg_array_replace", _array_replace, 3, **det)
    conn.create_scalar_function(
        "pg_array_prepend", lambda v, arr: json.dumps([T.array_elem_storage(0, v)] + T.array_values(arr or "[]")), 2, **det)
